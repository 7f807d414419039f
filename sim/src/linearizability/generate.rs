//! Lab-style KV histories, deterministic from a seed, for tests and benchmarks: closed-
//! loop clients (one operation outstanding each) with the lab's mix of 0.5 append,
//! 0.05 put and 0.45 get (or no puts) on random keys, values `"x <client> <n> y"` as the
//! lab writes them. Each operation takes effect at a point inside its interval, so the history is
//! linearizable by construction; [`mutate_read`] then makes it not.

use super::history::Operation;
use super::models::kv::{KvInput, KvOp, KvOutput};
use crate::rng::Stream;

/// The shape of a generated history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LabHistory {
    /// The seed of the stream every choice comes from.
    pub seed: u64,
    /// Concurrent clients.
    pub clients: usize,
    /// Operations in all.
    pub operations: usize,
    /// Which key each operation uses.
    pub keys: Keys,
    /// With puts, the lab's mix (0.5 append, 0.05 put, 0.45 get); without, 0.5 append
    /// and 0.5 get, as the lab's GenericTest on a client's own key, so that values grow
    /// to thousands of tokens.
    pub puts: bool,
}

/// How operations pick their key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keys {
    /// A random key of "0" .. "n − 1" (the lab's linearizability test uses n = clients).
    Random(usize),
    /// Client c always uses key "c" (the lab's GenericTest without random keys).
    PerClient,
}

/// Longest time from a call to its effect, and from the effect to the return.
const HALF_LATENCY_MAX: u64 = 20;
/// Longest pause of a client between a return and its next call.
const THINK_MAX: u64 = 3;

struct Planned {
    client: usize,
    input: KvInput,
    call: u64,
    point: u64,
    return_time: u64,
}

/// A linearizable history of `spec.operations` operations, in the order they took
/// effect (the operations are numbered in that order; a checker must not care).
pub fn lab_kv_history(spec: &LabHistory) -> Vec<Operation<KvInput, KvOutput>> {
    let mut rng = Stream::new(spec.seed, "lab-kv-history");
    let clients = spec.clients.max(1);
    let mut next_call = vec![0u64; clients];
    let mut next_value = vec![0u64; clients];
    let mut planned: Vec<Planned> = Vec::with_capacity(spec.operations);
    for _ in 0..spec.operations {
        // The client that calls next (the lowest id among equal times).
        let client = (0..clients).min_by_key(|&c| (next_call[c], c)).unwrap_or(0);
        let key = match spec.keys {
            Keys::Random(keys) => rng.below(keys.max(1) as u64).to_string(),
            Keys::PerClient => client.to_string(),
        };
        let roll = rng.below(100);
        let put_below = if spec.puts { 55 } else { 50 };
        let input = if roll < put_below {
            let value = format!("x {client} {} y", next_value[client]);
            next_value[client] += 1;
            if roll < 50 {
                KvInput::append(key, value)
            } else {
                KvInput::put(key, value)
            }
        } else {
            KvInput::get(key)
        };
        let call = next_call[client];
        let point = call + rng.range_inclusive(1, HALF_LATENCY_MAX);
        let return_time = point + rng.range_inclusive(0, HALF_LATENCY_MAX);
        next_call[client] = return_time + rng.range_inclusive(0, THINK_MAX);
        planned.push(Planned {
            client,
            input,
            call,
            point,
            return_time,
        });
    }
    planned.sort_by_key(|p| (p.point, p.client));
    let mut values: std::collections::BTreeMap<String, String> = Default::default();
    planned
        .into_iter()
        .map(|p| {
            let value = values.entry(p.input.key.clone()).or_default();
            let output = match p.input.op {
                KvOp::Get => KvOutput::new(value.clone()),
                KvOp::Put => {
                    value.clone_from(&p.input.value);
                    KvOutput::default()
                }
                KvOp::Append => {
                    value.push_str(&p.input.value);
                    KvOutput::default()
                }
            };
            Operation::returned(p.client as u64, p.input, output, p.call, p.return_time)
        })
        .collect()
}

/// The value [`mutate_read`] gives a get: no put or append of the lab writes a `!`, so no
/// linearization can produce it.
pub const NEVER_WRITTEN: &str = "x never written y!";

/// Makes the first returned get at or after index `from` (wrapping around) read a value
/// never written; returns its index, or `None` if the history has no returned get.
pub fn mutate_read(history: &mut [Operation<KvInput, KvOutput>], from: usize) -> Option<usize> {
    let len = history.len();
    let index = (0..len)
        .map(|k| (from + k) % len)
        .find(|&i| history[i].input.op == KvOp::Get && history[i].known_output().is_some())?;
    history[index].output = Some(KvOutput::new(NEVER_WRITTEN));
    Some(index)
}
