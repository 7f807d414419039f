//! Runs a KV fuzzing schedule on a world of KV servers and clerks with every checker on:
//! a safety phase (the schedule), then a healed liveness phase (every running clerk's
//! call in flight completes, and a fresh clerk reads every key), then the history checks
//! (linearizability, Unknown a failure; exactly-once of every value written).

use std::sync::Arc;
use std::task::{Wake, Waker};

use kv_core::{KvConfig, Op, ReadMode};

use super::checks::check_exactly_once;
use super::schedule::KvStep;
use crate::fuzz::exec::{Phase, ScheduleReport, LIVENESS_LIMIT_MS};
use crate::fuzz::faults::{apply_fault, restart};
use crate::fuzz::Step;
use crate::kv::{check_linearizable, RecordedOp};
use crate::network::NetworkConfig;
use crate::world::{Millis, RaftSetup, Service, World};

/// A run fails once it has sent more messages than this (a message storm).
pub const MESSAGE_CAP: u64 = 2_000_000;

/// At most this many Puts and Appends of one key are open at once (a call on a key at
/// the cap is skipped): concurrent writes of one key are what the linearizability search
/// must order, and its work grows with the factorial of their number. A write whose
/// clerk stopped stays open for ever.
pub const OPEN_WRITES_PER_KEY: usize = 4;

/// What to run.
#[derive(Clone, Debug)]
pub struct KvSpec {
    /// Cluster size.
    pub servers: usize,
    /// The seed of the world (network, nodes, clerks).
    pub seed: u64,
    /// Clerk slots, each with a running clerk at the start.
    pub clerks: usize,
    /// Keys `k0`, `k1`, ... of the key space.
    pub keys: usize,
    /// Padding of every value written, bytes.
    pub value_bytes: usize,
    /// How Gets are served.
    pub read_mode: ReadMode,
    /// The servers' snapshot threshold (`None`: no snapshots).
    pub max_raft_state: Option<usize>,
    /// The chance, per mille, that a message in flight when its sender crashes arrives.
    pub survives_sender_crash_per_mille: u64,
    /// The safety phase.
    pub steps: Vec<KvStep>,
    /// TEST ONLY: the planted bugs of every server and clerk.
    #[cfg(feature = "test-hooks")]
    pub bugs: kv_core::KvBugs,
}

impl KvSpec {
    /// A spec of 3 clerks on 3 keys, ReadIndex Gets, snapshots at 1000 bytes.
    pub fn new(servers: usize, seed: u64, steps: Vec<KvStep>) -> KvSpec {
        KvSpec {
            servers,
            seed,
            clerks: 3,
            keys: 3,
            value_bytes: 4,
            read_mode: ReadMode::ReadIndex,
            max_raft_state: Some(1000),
            survives_sender_crash_per_mille: 500,
            steps,
            #[cfg(feature = "test-hooks")]
            bugs: kv_core::KvBugs::NONE,
        }
    }

    fn kv_config(&self) -> Result<KvConfig, String> {
        let builder = KvConfig::builder()
            .max_raft_state(self.max_raft_state)
            .read_mode(self.read_mode);
        #[cfg(feature = "test-hooks")]
        let builder = builder.bugs(self.bugs);
        builder.build().map_err(|e| format!("bad kv setup: {e}"))
    }
}

/// The outcome of one KV schedule.
#[derive(Clone, Debug)]
pub struct KvReport {
    /// The verdict, the fingerprint, the time and the highest applied index.
    pub report: ScheduleReport,
    /// The clients' history (for the view).
    pub history: Vec<RecordedOp>,
    /// Calls made, and how many returned.
    pub calls: (u64, u64),
}

/// Runs `spec`, recording the trace lines if `record_trace`.
pub fn run_kv_schedule(spec: &KvSpec, record_trace: bool) -> KvReport {
    let mut world = World::new(
        spec.servers,
        spec.seed,
        RaftSetup::default(),
        NetworkConfig {
            survives_sender_crash_per_mille: spec.survives_sender_crash_per_mille,
            ..NetworkConfig::default()
        },
        false,
        record_trace,
    );
    let error = match spec.kv_config() {
        Ok(config) => {
            world.set_service(Service::Kv(config));
            let mut driver = Driver::new(&mut world, spec);
            driver.run().err()
        }
        Err(e) => Some((Phase::Safety, e)),
    };
    let history = world.kv.history.ops().to_vec();
    let calls = (history.len() as u64, world.kv.history.completed());
    KvReport {
        report: ScheduleReport {
            ok: error.is_none(),
            error,
            trace_hash: world.trace.hash(),
            sim_ms: world.now(),
            commits: world.kv.agreement.max_index().0,
            liveness: None,
            usage: world.usage.clone(),
            trace: world.trace.lines().to_vec(),
        },
        history,
        calls,
    }
}

struct Driver<'w> {
    world: &'w mut World,
    spec: &'w KvSpec,
    /// Per clerk slot: the world's clerk running in it.
    slots: Vec<Option<usize>>,
    /// Per world clerk: the history handle of its call in flight.
    in_flight: Vec<Option<usize>>,
    /// Per key: the Puts and Appends open.
    open_writes: Vec<usize>,
    next_value: u64,
    /// The driver polls the clerks after every wait; nobody needs waking.
    waker: Waker,
}

/// A waker that does nothing.
struct NoWake;

impl Wake for NoWake {
    fn wake(self: Arc<Self>) {}
}

type Failure = (Phase, String);

impl<'w> Driver<'w> {
    fn new(world: &'w mut World, spec: &'w KvSpec) -> Driver<'w> {
        Driver {
            world,
            spec,
            slots: vec![None; spec.clerks.max(1)],
            in_flight: Vec::new(),
            open_writes: vec![0; spec.keys.max(1)],
            next_value: 0,
            waker: Waker::from(Arc::new(NoWake)),
        }
    }

    fn run(&mut self) -> Result<(), Failure> {
        for i in 0..self.world.servers() {
            restart(self.world, i);
        }
        for slot in 0..self.slots.len() {
            self.start_clerk(slot);
        }
        self.safety_phase().map_err(|e| (Phase::Safety, e))?;
        self.liveness_phase().map_err(|e| (Phase::Liveness, e))?;
        let ops = self.world.kv.history.ops();
        check_linearizable(ops).map_err(|e| (Phase::Safety, format!("linearizability: {e}")))?;
        check_exactly_once(ops).map_err(|e| (Phase::Safety, format!("exactly-once: {e}")))
    }

    fn check(&self) -> Result<(), String> {
        if let Some(failure) = self.world.failure() {
            return Err(failure.to_string());
        }
        let sent = self.world.stats.messages_sent;
        if sent > MESSAGE_CAP {
            return Err(format!(
                "at {} ms: message storm: {sent} messages sent, over the cap of {MESSAGE_CAP}",
                self.world.now()
            ));
        }
        Ok(())
    }

    /// Lets `ms` pass, then records the calls that returned meanwhile. Calls are made
    /// only between waits, so every return keeps its order against every call.
    fn advance(&mut self, ms: Millis) -> Result<(), String> {
        let until = self.world.now() + ms;
        self.world.run_until(until);
        self.collect()?;
        self.check()
    }

    fn collect(&mut self) -> Result<(), String> {
        let now = self.world.now();
        for c in 0..self.in_flight.len() {
            let Some(handle) = self.in_flight[c] else {
                continue;
            };
            if let Some(completion) = self.world.poll_completion(c, &self.waker) {
                let output = completion
                    .result
                    .map_err(|refusal| format!("at {now} ms: clerk {c} was refused: {refusal}"))?;
                let history = &mut self.world.kv.history;
                history.finish(handle, output.unwrap_or_default(), now);
                if let Some(Op::Put { key, .. } | Op::Append { key, .. }) =
                    history.ops().get(handle).map(|op| &op.op)
                {
                    if let Some(open) = key_index(key).and_then(|k| self.open_writes.get_mut(k)) {
                        *open = open.saturating_sub(1);
                    }
                }
                self.in_flight[c] = None;
            }
        }
        Ok(())
    }

    fn start_clerk(&mut self, slot: usize) {
        self.stop_clerk(slot);
        let all: Vec<usize> = (0..self.world.servers()).collect();
        let c = self.world.add_client(&all);
        self.in_flight.resize(self.world.client_count(), None);
        self.slots[slot] = Some(c);
    }

    fn stop_clerk(&mut self, slot: usize) {
        if let Some(c) = self.slots[slot].take() {
            self.world.remove_client(c);
            self.in_flight[c] = None;
        }
    }

    fn key(&self, key: usize) -> String {
        format!("k{}", key % self.spec.keys.max(1))
    }

    /// A value never written before: its token `<n>`, then padding.
    fn value(&mut self) -> String {
        self.next_value += 1;
        format!("<{}>{}", self.next_value, ".".repeat(self.spec.value_bytes))
    }

    /// Clerk `c` calls `op`, recorded in the history.
    fn call(&mut self, c: usize, op: Op) {
        let now = self.world.now();
        let handle = self.world.kv.history.begin(c, op.clone(), now);
        self.world.client_call(c, op);
        self.in_flight[c] = Some(handle);
    }

    /// The running clerk of `slot` with no call in flight.
    fn idle(&self, slot: usize) -> Option<usize> {
        let c = self.slots[slot % self.slots.len()]?;
        self.in_flight[c].is_none().then_some(c)
    }

    fn safety_phase(&mut self) -> Result<(), String> {
        let spec = self.spec;
        for step in &spec.steps {
            let now = self.world.now();
            self.world.trace.line(|| format!("{now:>8} step: {step}"));
            self.apply(step)?;
            self.check()?;
        }
        Ok(())
    }

    fn apply(&mut self, step: &KvStep) -> Result<(), String> {
        let slots = self.slots.len();
        match *step {
            KvStep::Server(Step::Advance(ms)) => self.advance(ms)?,
            KvStep::Server(ref fault) => {
                apply_fault(self.world, fault);
            }
            KvStep::Start(slot) => self.start_clerk(slot % slots),
            KvStep::Stop(slot) => self.stop_clerk(slot % slots),
            KvStep::Get { clerk, key } => {
                if let Some(c) = self.idle(clerk) {
                    let key = self.key(key);
                    self.call(c, Op::Get { key: key.into() });
                }
            }
            KvStep::Put { clerk, key } | KvStep::Append { clerk, key } => {
                let k = key % self.open_writes.len();
                if self.open_writes[k] >= OPEN_WRITES_PER_KEY {
                    return Ok(());
                }
                if let Some(c) = self.idle(clerk) {
                    self.open_writes[k] += 1;
                    let (key, value) = (self.key(key), self.value());
                    let op = if matches!(step, KvStep::Put { .. }) {
                        Op::Put {
                            key: key.into(),
                            value: value.into(),
                        }
                    } else {
                        Op::Append {
                            key: key.into(),
                            value: value.into(),
                        }
                    };
                    self.call(c, op);
                }
            }
            KvStep::ClerkCut { clerk, server } => {
                if let Some(c) = self.slots[clerk % slots] {
                    self.world
                        .set_client_link(c, server % self.world.servers(), false);
                }
            }
            KvStep::ClerkHeal => self.link_all_clerks(),
        }
        Ok(())
    }

    fn link_all_clerks(&mut self) {
        for c in self.slots.clone().into_iter().flatten() {
            for s in 0..self.world.servers() {
                self.world.set_client_link(c, s, true);
            }
        }
    }

    /// Heal, restart everyone, reliable network; every running clerk's call in flight
    /// must complete, then a fresh clerk reads every key, within [`LIVENESS_LIMIT_MS`].
    fn liveness_phase(&mut self) -> Result<(), String> {
        let now = self.world.now();
        self.world.trace.line(|| format!("{now:>8} liveness phase"));
        self.world.disarm_crash_mid_step();
        self.world.net.heal();
        self.world.net.config = NetworkConfig {
            survives_sender_crash_per_mille: 1000,
            ..NetworkConfig::default()
        };
        for i in 0..self.world.servers() {
            if !self.world.is_alive(i) {
                restart(self.world, i);
            }
            self.world.net.set_connected(i, true);
        }
        self.link_all_clerks();
        let started = self.world.now();
        self.settle(started, "a clerk's call")?;
        let all: Vec<usize> = (0..self.world.servers()).collect();
        let reader = self.world.add_client(&all);
        self.in_flight.resize(self.world.client_count(), None);
        for key in 0..self.spec.keys.max(1) {
            let key = self.key(key);
            self.call(reader, Op::Get { key: key.into() });
            self.settle(started, "the final read")?;
        }
        Ok(())
    }

    /// Waits until no call is in flight, or fails once the liveness limit is past.
    fn settle(&mut self, started: Millis, what: &str) -> Result<(), String> {
        while let Some(c) = self.in_flight.iter().position(Option::is_some) {
            if self.world.now() - started >= LIVENESS_LIMIT_MS {
                let op = self.in_flight[c]
                    .and_then(|handle| self.world.kv.history.ops().get(handle))
                    .map(|op| format!("{:?}", op.op))
                    .unwrap_or_default();
                return Err(format!(
                    "{what} did not complete within {} s after healing: clerk {c}'s {op}",
                    LIVENESS_LIMIT_MS / 1000
                ));
            }
            self.advance(20)?;
        }
        Ok(())
    }
}

/// The number of key `k<n>`.
fn key_index(key: &str) -> Option<usize> {
    key.strip_prefix('k')?.parse().ok()
}
