//! The load mode: N clients, each a [`ClusterClient`] on its own thread, calling Get,
//! Put and Append in a seeded random mix for a given time (or number of calls), all
//! recorded in one history.
//!
//! Keys are `k0` … `k{K-1}`. Every value is unique: client `c`'s `n`-th call appends
//! `[c{c}.{n}]` or puts `p{c}.{n}` (padded with dots to `value_bytes`), so a final read
//! shows whether each append is present exactly once and in order. A call still open
//! when the time is up may finish within the drain time; after that it is recorded as
//! never returned (it may still take effect), and that client stops.

use std::collections::BTreeMap;
use std::thread;
use std::time::Duration;

use kv_core::{ClientId, Op, OpKind};
use raft_core::NodeId;
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

use super::history::HistoryOp;
use super::{fresh_client_id, ClientError, ClusterClient};
use crate::clock::{Stopwatch, TICK};

/// Relative weights of Get, Put and Append.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mix {
    /// Weight of Get.
    pub get: u32,
    /// Weight of Put.
    pub put: u32,
    /// Weight of Append.
    pub append: u32,
}

impl std::str::FromStr for Mix {
    type Err = String;

    /// `GET:PUT:APPEND`, e.g. `50:25:25`.
    fn from_str(text: &str) -> Result<Mix, String> {
        let parts: Vec<u32> = text
            .split(':')
            .map(|part| part.trim().parse::<u32>())
            .collect::<Result<_, _>>()
            .map_err(|_| format!("`{text}` is not GET:PUT:APPEND weights"))?;
        match parts[..] {
            [get, put, append] if get as u64 + put as u64 + append as u64 > 0 => {
                Ok(Mix { get, put, append })
            }
            _ => Err(format!(
                "`{text}` is not three weights GET:PUT:APPEND, not all 0"
            )),
        }
    }
}

/// What a load run does.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Concurrent clients.
    pub clients: usize,
    /// How long clients start new calls.
    pub duration: Duration,
    /// At most this many calls per client.
    pub ops_per_client: Option<u64>,
    /// Distinct keys.
    pub keys: usize,
    /// The operation mix.
    pub mix: Mix,
    /// Values are padded to this length.
    pub value_bytes: usize,
    /// The seed of the operation choices.
    pub seed: u64,
    /// How long a call open at the end may still take.
    pub drain: Duration,
    /// The clerks' retry timeout, in ticks.
    pub retry_ticks: u32,
}

/// What a load run did.
#[derive(Clone, Debug)]
pub struct LoadReport {
    /// Every call, in the order each client made them, client after client.
    pub history: Vec<HistoryOp>,
    /// From the start to the end of the last client.
    pub elapsed: Duration,
    /// Completed calls of each kind: Get, Put, Append.
    pub completed: [u64; 3],
    /// Calls that never returned.
    pub pending: u64,
    /// Calls refused for a limit.
    pub refused: u64,
    /// Latencies of completed calls, ascending, in microseconds.
    pub latencies_micros: Vec<u64>,
}

impl LoadReport {
    /// Completed calls.
    pub fn completed_total(&self) -> u64 {
        self.completed.iter().sum()
    }

    /// Completed calls per second.
    pub fn ops_per_second(&self) -> f64 {
        self.completed_total() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The latency at quantile `q` (0 to 1), in milliseconds.
    pub fn latency_ms(&self, q: f64) -> f64 {
        let Some(last) = self.latencies_micros.len().checked_sub(1) else {
            return 0.0;
        };
        let at = ((last as f64) * q).round() as usize;
        self.latencies_micros[at.min(last)] as f64 / 1000.0
    }

    /// Two lines: throughput, then latency percentiles.
    pub fn summary(&self, clients: usize) -> String {
        let [get, put, append] = self.completed;
        format!(
            "load: {clients} clients, {:.1} s: {} ops ({get} get, {put} put, {append} append), {:.1} ops/s, {} pending, {} refused\nlatency ms: p50 {:.2} p90 {:.2} p99 {:.2} max {:.2}",
            self.elapsed.as_secs_f64(),
            self.completed_total(),
            self.ops_per_second(),
            self.pending,
            self.refused,
            self.latency_ms(0.5),
            self.latency_ms(0.9),
            self.latency_ms(0.99),
            self.latency_ms(1.0),
        )
    }
}

/// What one client did.
struct ClientRun {
    history: Vec<HistoryOp>,
    refused: u64,
}

/// Runs the load against the servers at `addresses` (client ports).
pub fn run(
    addresses: &BTreeMap<NodeId, String>,
    options: &LoadOptions,
) -> Result<LoadReport, ClientError> {
    let stopwatch = Stopwatch::start();
    let first_id = fresh_client_id().0;
    let mut handles = Vec::new();
    for number in 0..options.clients as u64 {
        let id = ClientId(first_id.wrapping_add(number).max(1));
        let client = ClusterClient::new(id, addresses.clone(), options.retry_ticks)?;
        let options = options.clone();
        let handle = thread::Builder::new()
            .name(format!("load-{number}"))
            .spawn(move || run_client(number, client, &options, stopwatch))
            .map_err(ClientError::Thread)?;
        handles.push(handle);
    }
    let mut runs = Vec::new();
    for handle in handles {
        if let Ok(run) = handle.join() {
            runs.push(run);
        }
    }
    Ok(report(runs, stopwatch.elapsed()))
}

fn report(runs: Vec<ClientRun>, elapsed: Duration) -> LoadReport {
    let mut report = LoadReport {
        history: Vec::new(),
        elapsed,
        completed: [0; 3],
        pending: 0,
        refused: 0,
        latencies_micros: Vec::new(),
    };
    for run in runs {
        report.refused += run.refused;
        for op in &run.history {
            match op.return_micros {
                Some(returned) => {
                    let kind = match op.op.kind() {
                        OpKind::Get => 0,
                        OpKind::Put => 1,
                        OpKind::Append => 2,
                    };
                    report.completed[kind] += 1;
                    report.latencies_micros.push(returned - op.call_micros);
                }
                None => report.pending += 1,
            }
        }
        report.history.extend(run.history);
    }
    report.latencies_micros.sort_unstable();
    report
}

fn run_client(
    number: u64,
    mut client: ClusterClient,
    options: &LoadOptions,
    stopwatch: Stopwatch,
) -> ClientRun {
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed.wrapping_mul(0x9e37_79b9) ^ number);
    let mut run = ClientRun {
        history: Vec::new(),
        refused: 0,
    };
    let limit = options.ops_per_client.unwrap_or(u64::MAX);
    let end = options.duration + options.drain;
    for n in 0..limit {
        if stopwatch.elapsed() >= options.duration {
            break;
        }
        let op = choose(&mut rng, options, number, n);
        let left = end.saturating_sub(stopwatch.elapsed());
        let limit_ticks = (left.as_millis() / TICK.as_millis()).max(1) as u64;
        let call_micros = stopwatch.micros();
        match client.call(op.clone(), limit_ticks) {
            Ok(completion) => match completion.result {
                Ok(read) => run.history.push(HistoryOp {
                    client: number,
                    op,
                    read,
                    call_micros,
                    return_micros: Some(stopwatch.micros()),
                }),
                Err(_refused) => run.refused += 1,
            },
            Err(_) => {
                run.history.push(HistoryOp {
                    client: number,
                    op,
                    read: None,
                    call_micros,
                    return_micros: None,
                });
                break;
            }
        }
    }
    run
}

fn choose(rng: &mut ChaCha8Rng, options: &LoadOptions, client: u64, n: u64) -> Op {
    let mix = options.mix;
    let total = mix.get as u64 + mix.put as u64 + mix.append as u64;
    let pick = rng.next_u64() % total;
    let key = format!("k{}", rng.next_u64() % options.keys.max(1) as u64);
    if pick < mix.get as u64 {
        Op::Get { key: key.into() }
    } else if pick < mix.get as u64 + mix.put as u64 {
        let value = padded(format!("p{client}.{n}"), "", options.value_bytes);
        Op::Put {
            key: key.into(),
            value: value.into(),
        }
    } else {
        let value = padded(format!("[c{client}.{n}"), "]", options.value_bytes);
        Op::Append {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// `head`, dots, then `tail`, at least `bytes` long.
fn padded(mut head: String, tail: &str, bytes: usize) -> String {
    let fill = bytes.saturating_sub(head.len() + tail.len());
    head.extend(std::iter::repeat('.').take(fill));
    head.push_str(tail);
    head
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixes_parse() {
        assert_eq!(
            "50:25:25".parse::<Mix>(),
            Ok(Mix {
                get: 50,
                put: 25,
                append: 25
            })
        );
        assert!("0:0:0".parse::<Mix>().is_err());
        assert!("1:2".parse::<Mix>().is_err());
        assert!("a:b:c".parse::<Mix>().is_err());
    }

    #[test]
    fn values_are_unique_padded_and_appends_are_bracketed() {
        assert_eq!(padded("[c1.2".into(), "]", 10), "[c1.2....]");
        assert_eq!(padded("[c1.2".into(), "]", 0), "[c1.2]");
    }

    #[test]
    fn percentiles_come_from_the_sorted_latencies() {
        let report = LoadReport {
            history: Vec::new(),
            elapsed: Duration::from_secs(2),
            completed: [50, 25, 25],
            pending: 0,
            refused: 0,
            latencies_micros: (1..=100).map(|ms| ms * 1000).collect(),
        };
        assert_eq!(report.ops_per_second(), 50.0);
        assert_eq!(report.latency_ms(0.5), 51.0);
        assert_eq!(report.latency_ms(0.99), 99.0);
        assert_eq!(report.latency_ms(1.0), 100.0);
    }
}
