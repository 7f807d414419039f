//! Swarm testing: each seed picks a whole configuration (cluster size, loss, delays,
//! reordering, crash and partition rates, snapshot interval, workload), writes a random
//! schedule from it, and runs it through the safety and liveness phases.

use std::fmt;

use super::exec::{run_schedule, ScheduleReport, ScheduleSpec};
use super::schedule::Step;
use crate::network::NetworkConfig;
use crate::rng::Stream;

/// The length of one slice of the generated schedule, in simulated ms.
const SLICE_MS: u64 = 50;

/// What one seed chose. Rates are per mille, per 50 ms slice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwarmConfig {
    /// Cluster size: 3, 5 or 7.
    pub servers: usize,
    /// Loss of each request and reply, per mille.
    pub loss_per_mille: u16,
    /// Extra delay bound, ms.
    pub delay_ms: u16,
    /// Long reordering of replies.
    pub reorder: bool,
    /// Chance of a crash per slice.
    pub crash_rate: u64,
    /// Share of crashes that strike in the middle of a step.
    pub mid_step_share: u64,
    /// Share of crashes and partitions aimed at whoever leads.
    pub leader_share: u64,
    /// The chance that a message in flight when its sender crashes still arrives.
    pub survives_crash: u64,
    /// Chance of a restart per slice.
    pub restart_rate: u64,
    /// Chance of a new partition (or a cut link) per slice.
    pub partition_rate: u64,
    /// Chance of healing per slice.
    pub heal_rate: u64,
    /// Applied entries between automatic snapshots (0: never).
    pub snapshot_interval: u64,
    /// Chance of an explicit snapshot at some server per slice.
    pub snapshot_rate: u64,
    /// Proposals per slice (0..=this).
    pub proposals_per_slice: u64,
    /// Length of the safety phase, ms.
    pub duration_ms: u64,
}

impl SwarmConfig {
    /// The configuration seed `seed` picks.
    pub fn pick(seed: u64) -> SwarmConfig {
        let mut rng = Stream::new(seed, "swarm-config");
        let servers = [3, 5, 7][rng.index(3)];
        let unreliable = rng.chance(1, 2);
        SwarmConfig {
            servers,
            loss_per_mille: if unreliable { rng.below(301) as u16 } else { 0 },
            delay_ms: if unreliable { rng.below(60) as u16 } else { 0 },
            reorder: rng.chance(1, 4),
            crash_rate: rng.below(120),
            mid_step_share: rng.below(1001),
            leader_share: rng.below(1001),
            survives_crash: [0, 500, 1000][rng.index(3)],
            restart_rate: rng.range_inclusive(20, 300),
            partition_rate: rng.below(80),
            heal_rate: rng.range_inclusive(20, 300),
            snapshot_interval: [0, 5, 10, 25, 50][rng.index(5)],
            snapshot_rate: rng.below(50),
            proposals_per_slice: rng.range_inclusive(1, 5),
            duration_ms: rng.range_inclusive(3_000, 15_000),
        }
    }

    /// The schedule this configuration writes under `seed`.
    pub fn schedule(&self, seed: u64) -> Vec<Step> {
        let mut rng = Stream::new(seed, "swarm-schedule");
        let n = self.servers;
        let mut steps = vec![Step::Network {
            loss_per_mille: self.loss_per_mille,
            delay_ms: self.delay_ms,
            reorder: self.reorder,
        }];
        for _ in 0..self.duration_ms / SLICE_MS {
            for _ in 0..rng.below(self.proposals_per_slice + 1) {
                steps.push(if rng.chance(1, 2) {
                    Step::ProposeAll
                } else {
                    Step::Propose(rng.index(n))
                });
            }
            if rng.chance(self.crash_rate, 1000) {
                let server = rng.index(n);
                steps.push(if rng.chance(self.leader_share, 1000) {
                    Step::CrashLeader
                } else if rng.chance(self.mid_step_share, 1000) {
                    Step::CrashMidStep {
                        server,
                        keep: rng.index(6),
                    }
                } else {
                    Step::Crash(server)
                });
            }
            if rng.chance(self.restart_rate, 1000) {
                steps.push(Step::Restart(rng.index(n)));
            }
            if rng.chance(self.partition_rate, 1000) {
                steps.push(if rng.chance(self.leader_share, 1000) {
                    Step::IsolateLeader
                } else if rng.chance(1, 3) {
                    Step::Cut {
                        from: rng.index(n),
                        to: rng.index(n),
                    }
                } else {
                    Step::Partition(rng.below(1 << n) as u8)
                });
            }
            if rng.chance(self.heal_rate, 1000) {
                steps.push(Step::Heal);
            }
            if rng.chance(self.snapshot_rate, 1000) {
                steps.push(Step::Snapshot(rng.index(n)));
            }
            steps.push(Step::Advance(SLICE_MS));
        }
        steps
    }

    /// The spec of the run: this configuration's schedule on a world seeded by `seed`.
    pub fn spec(&self, seed: u64) -> ScheduleSpec {
        let mut spec = ScheduleSpec::new(
            self.servers,
            Stream::new(seed, "swarm-world").next_u64(),
            self.schedule(seed),
        );
        spec.snapshot_interval = self.snapshot_interval;
        spec.survives_sender_crash_per_mille = self.survives_crash;
        spec.network = NetworkConfig::default();
        spec
    }
}

impl fmt::Display for SwarmConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "servers={} loss={}‰ delay≤{}ms reorder={} crash={}‰ (mid-step {}%, at the leader {}%, in-flight survives {}‰) restart={}‰ partition={}‰ heal={}‰ snapshot-every={} snapshot={}‰ proposals≤{}/50ms duration={}ms",
            self.servers,
            self.loss_per_mille,
            self.delay_ms,
            self.reorder,
            self.crash_rate,
            self.mid_step_share / 10,
            self.leader_share / 10,
            self.survives_crash,
            self.restart_rate,
            self.partition_rate,
            self.heal_rate,
            self.snapshot_interval,
            self.snapshot_rate,
            self.proposals_per_slice,
            self.duration_ms
        )
    }
}

/// Runs swarm seed `seed`: picks its configuration, writes its schedule, runs it.
pub fn run_swarm(seed: u64, record_trace: bool) -> (SwarmConfig, ScheduleReport) {
    let config = SwarmConfig::pick(seed);
    let report = run_schedule(&config.spec(seed), record_trace);
    (config, report)
}
