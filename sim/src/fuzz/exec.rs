//! Runs a fuzzing schedule on the simulator with every checker on: a safety phase (the
//! schedule), then a liveness phase (heal everything, restart everyone, and require a
//! new command to commit on every server within a bounded simulated time, and then a
//! ReadIndex read of the leader to be answered with an index at least the command's).

use bytes::Bytes;

use super::liveness::{LivenessBounds, LivenessFigures, Mark};
use super::schedule::Step;
use crate::applier::Applier;
use crate::network::NetworkConfig;
use crate::world::{Millis, RaftSetup, World};

/// How long the liveness phase may take, in simulated ms.
pub const LIVENESS_LIMIT_MS: Millis = 30_000;

/// How long a read asked of the leader of the healed cluster may wait for its answer,
/// in simulated ms (one heartbeat round trip is enough; the bound leaves room for a
/// leadership change).
pub const READ_LIMIT_MS: Millis = 2_000;

/// How long a read asked after healing waits before its leader is given a command (a
/// read needs an entry of the leader's term committed), in simulated ms.
pub const READ_NUDGE_MS: Millis = 500;

/// What to run.
#[derive(Clone, Debug)]
pub struct ScheduleSpec {
    /// Cluster size.
    pub servers: usize,
    /// The seed of the world (network, nodes).
    pub seed: u64,
    /// Applied entries between automatic service snapshots (0: only `snapshot` steps).
    pub snapshot_interval: u64,
    /// The network the run starts with.
    pub network: NetworkConfig,
    /// The chance, per mille, that a message in flight when its sender crashes arrives.
    pub survives_sender_crash_per_mille: u64,
    /// The safety phase.
    pub steps: Vec<Step>,
    /// How the nodes are set up: timeouts, message size, pre-vote (and, in test-hooks
    /// builds, the planted bugs).
    pub setup: RaftSetup,
}

impl ScheduleSpec {
    /// A spec with a reliable network and snapshots every 10 applied entries.
    pub fn new(servers: usize, seed: u64, steps: Vec<Step>) -> ScheduleSpec {
        ScheduleSpec {
            servers,
            seed,
            snapshot_interval: 10,
            network: NetworkConfig::default(),
            survives_sender_crash_per_mille: 500,
            steps,
            setup: RaftSetup::default(),
        }
    }
}

/// Which phase a failure happened in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// During the schedule.
    Safety,
    /// After healing.
    Liveness,
}

/// The outcome of one schedule.
#[derive(Clone, Debug)]
pub struct ScheduleReport {
    /// Whether every checker held and the liveness phase committed.
    pub ok: bool,
    /// The first failure, and where.
    pub error: Option<(Phase, String)>,
    /// The determinism fingerprint.
    pub trace_hash: u64,
    /// Simulated time of the whole run.
    pub sim_ms: Millis,
    /// The largest index applied anywhere.
    pub commits: u64,
    /// What the liveness phase took, if it committed.
    pub liveness: Option<LivenessFigures>,
    /// What the run used of its storm caps.
    pub usage: crate::limits::Usage,
    /// Trace lines, if recorded.
    pub trace: Vec<String>,
}

impl ScheduleReport {
    /// The failure as one line, e.g. `safety: at 1234 ms: election safety: ...`.
    pub fn error_line(&self) -> Option<String> {
        self.error.as_ref().map(|(phase, message)| {
            let phase = match phase {
                Phase::Safety => "safety",
                Phase::Liveness => "liveness",
            };
            format!("{phase}: {message}")
        })
    }
}

/// Runs `spec`, recording the trace lines if `record_trace`.
pub fn run_schedule(spec: &ScheduleSpec, record_trace: bool) -> ScheduleReport {
    let mut world = build_world(spec, record_trace);
    let mut driver = Driver {
        world: &mut world,
        next_command: 0,
        liveness: None,
    };
    let error = match driver.safety_phase(&spec.steps) {
        Err(message) => Some((Phase::Safety, message)),
        Ok(()) => driver.liveness_phase().err().map(|m| (Phase::Liveness, m)),
    };
    let liveness = driver.liveness;
    ScheduleReport {
        ok: error.is_none(),
        error,
        trace_hash: world.trace.hash(),
        sim_ms: world.now(),
        commits: world.applier.max_index(),
        liveness,
        usage: world.usage.clone(),
        trace: world.trace.lines().to_vec(),
    }
}

fn build_world(spec: &ScheduleSpec, record_trace: bool) -> World {
    let mut network = spec.network.clone();
    network.survives_sender_crash_per_mille = spec.survives_sender_crash_per_mille;
    let setup = spec.setup.clone();
    let mut world = World::new(spec.servers, spec.seed, setup, network, true, record_trace);
    world.applier = Applier::new(spec.servers, true).with_snapshot_interval(spec.snapshot_interval);
    for i in 0..spec.servers {
        world.start(i);
        world.net.set_connected(i, true);
    }
    world
}

struct Driver<'w> {
    world: &'w mut World,
    next_command: u64,
    liveness: Option<LivenessFigures>,
}

impl Driver<'_> {
    fn n(&self) -> usize {
        self.world.servers()
    }

    fn check(&self) -> Result<(), String> {
        match self.world.failure() {
            Some(failure) => Err(failure.to_string()),
            None => Ok(()),
        }
    }

    fn command(&mut self) -> Bytes {
        self.next_command += 1;
        Bytes::from(format!("c{}", self.next_command))
    }

    fn advance(&mut self, ms: Millis) -> Result<(), String> {
        let until = self.world.now() + ms;
        self.world.run_until(until);
        self.check()
    }

    fn safety_phase(&mut self, steps: &[Step]) -> Result<(), String> {
        for step in steps {
            let now = self.world.now();
            self.world.trace.line(|| format!("{now:>8} step: {step}"));
            self.apply(step)?;
            self.check()?;
        }
        Ok(())
    }

    fn restart(&mut self, i: usize) {
        super::faults::restart(self.world, i);
    }

    fn live_servers(&self) -> usize {
        (0..self.n()).filter(|&i| self.world.is_alive(i)).count()
    }

    fn apply(&mut self, step: &Step) -> Result<(), String> {
        if super::faults::apply_fault(self.world, step) {
            return Ok(());
        }
        let n = self.n();
        match *step {
            Step::Propose(i) => {
                let command = self.command();
                self.world.propose(i % n, command);
            }
            Step::ProposeAll => {
                self.propose_all();
            }
            Step::Advance(ms) => self.advance(ms)?,
            Step::Read(i) => {
                self.world.read_index(i % n);
            }
            Step::ReadAll => {
                for i in 0..n {
                    if self.world.is_alive(i) {
                        self.world.read_index(i);
                    }
                }
            }
            Step::Snapshot(i) => {
                if let Some((index, data)) = self.world.applier.snapshot_now(i % n) {
                    let input = raft_core::Input::Snapshot {
                        index: raft_core::LogIndex(index),
                        data,
                    };
                    self.world.step(i % n, input);
                }
            }
            Step::Figure8Round { pause_ms, restart } => {
                let leader = self.propose_all();
                self.advance(pause_ms)?;
                if let Some(leader) = leader {
                    self.world.crash(leader);
                }
                if self.live_servers() <= n / 2 && !self.world.is_alive(restart % n) {
                    self.restart(restart % n);
                }
            }
            // The faults, carried out above.
            _ => {}
        }
        Ok(())
    }

    /// Offers a fresh command to every live server; returns the last that accepted.
    fn propose_all(&mut self) -> Option<usize> {
        let command = self.command();
        let mut leader = None;
        for i in 0..self.n() {
            if self.world.propose(i, command.clone()).is_some() {
                leader = Some(i);
            }
        }
        leader
    }

    /// After the liveness command committed at `index` on every server of the healed
    /// cluster: a ReadIndex read asked of whoever leads must be answered, with an index
    /// at least `index`, within [`READ_LIMIT_MS`] (a refused read, from a leader that
    /// just lost its leadership, is asked again of the next one). A read waits for an
    /// entry of the leader's term to commit, and bare nodes append no entry on election:
    /// a read still unanswered after [`READ_NUDGE_MS`] gets a fresh command proposed to
    /// its leader, as a service would.
    fn read_after_heal(&mut self, index: u64) -> Result<(), String> {
        let asked = self.world.now();
        while self.world.now() - asked < READ_LIMIT_MS {
            let Some(leader) = super::faults::leader(self.world) else {
                self.advance(10)?;
                continue;
            };
            let context = self.world.read_index(leader);
            let read_asked = self.world.now();
            let mut nudged = false;
            while self.world.now() - read_asked < READ_LIMIT_MS {
                match self.world.read_answer(context) {
                    Some(Some(read)) if read >= index => return Ok(()),
                    Some(Some(read)) => {
                        return Err(format!(
                            "read freshness: a read after healing was answered with index \
                             {read}, below the command committed everywhere at {index}"
                        ))
                    }
                    Some(None) => break,
                    None if !self.world.is_alive(leader) => break,
                    None => {
                        if !nudged && self.world.now() - read_asked >= READ_NUDGE_MS {
                            nudged = true;
                            let command = self.command();
                            self.world.propose(leader, command);
                        }
                        self.advance(10)?;
                    }
                }
            }
        }
        Err(format!(
            "no read answered within {READ_LIMIT_MS} ms in the healed cluster (liveness)"
        ))
    }

    /// Heal, restart everyone, reliable network; then a new command must reach every
    /// server (as the lab's `one(cmd, n, retry)`), within [`LIVENESS_LIMIT_MS`] and the
    /// bounds of [`LivenessBounds`].
    fn liveness_phase(&mut self) -> Result<(), String> {
        let now = self.world.now();
        self.world.trace.line(|| format!("{now:>8} liveness phase"));
        let mark = Mark::new(self.world);
        self.world.disarm_crash_mid_step();
        self.world.net.heal();
        self.world.net.config = NetworkConfig {
            survives_sender_crash_per_mille: 1000,
            ..NetworkConfig::default()
        };
        for i in 0..self.n() {
            if !self.world.is_alive(i) {
                self.restart(i);
            }
            self.world.net.set_connected(i, true);
        }
        let started = self.world.now();
        let command = self.command();
        let mut taken_at = None;
        while self.world.now() - started < LIVENESS_LIMIT_MS {
            let accepted = (0..self.n()).find_map(|i| self.world.propose(i, command.clone()));
            let Some((index, _)) = accepted else {
                self.advance(10)?;
                continue;
            };
            let offered = self.world.now();
            let taken_at = *taken_at.get_or_insert(offered);
            while self.world.now() - offered < 2_000 {
                let (count, value) = self.world.applier.n_committed(index)?;
                if count == self.n() && value.as_ref() == Some(&command) {
                    let figures = LivenessFigures::since(&mark, self.world, taken_at);
                    self.liveness = Some(figures);
                    let bounds = LivenessBounds::new(self.world.setup(), self.n());
                    bounds.check(&figures)?;
                    return self.read_after_heal(index);
                }
                self.advance(10)?;
            }
        }
        Err(format!(
            "no command committed on all {} servers within {} s after healing",
            self.n(),
            LIVENESS_LIMIT_MS / 1000
        ))
    }
}
