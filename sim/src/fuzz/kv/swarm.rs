//! KV swarm testing: each seed picks a whole configuration (servers, clerks, key space,
//! value sizes, read mode, snapshot threshold, workload mix, fault rates, leadership
//! transfers), writes a random KV schedule from it, and runs it through the safety and
//! liveness phases.

use std::fmt;

use kv_core::ReadMode;

use super::exec::{run_kv_schedule, KvReport, KvSpec};
use super::schedule::KvStep;
use crate::fuzz::Step;
use crate::rng::Stream;

/// The length of one slice of the generated schedule, in simulated ms.
const SLICE_MS: u64 = 50;

/// What one seed chose. Rates are per mille, per 50 ms slice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KvSwarmConfig {
    /// Cluster size: 3, 5 or 7.
    pub servers: usize,
    /// Clerk slots: 1 to 20.
    pub clerks: usize,
    /// Keys: 1 to 5.
    pub keys: usize,
    /// Padding of each value written, bytes.
    pub value_bytes: usize,
    /// How Gets are served.
    pub read_mode: ReadMode,
    /// The snapshot threshold (`None`: no snapshots).
    pub max_raft_state: Option<usize>,
    /// Calls per slice (0..=this), each by a random clerk on a random key.
    pub calls_per_slice: u64,
    /// Share of calls that are Gets (25% to 70%), then Puts (the rest are Appends), per
    /// mille.
    pub mix: (u64, u64),
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
    /// Chance of healing per slice (servers and clerks).
    pub heal_rate: u64,
    /// Chance of cutting a clerk from a server per slice.
    pub clerk_cut_rate: u64,
    /// Chance of a clerk stopping or a new one starting per slice.
    pub churn_rate: u64,
    /// Length of the safety phase, ms.
    pub duration_ms: u64,
    /// Chance of a leadership transfer per slice (its own stream, so that the other
    /// draws of a seed stay what they were before transfers were added).
    pub transfer_rate: u64,
}

impl KvSwarmConfig {
    /// The configuration seed `seed` picks.
    pub fn pick(seed: u64) -> KvSwarmConfig {
        let mut rng = Stream::new(seed, "kv-swarm-config");
        let servers = [3, 5, 7][rng.index(3)];
        let unreliable = rng.chance(1, 2);
        // A Get in every few calls at least: reads pin down the order of the writes
        // before them, without which the linearizability search cannot decide a long
        // history of appends within its budget (an Unknown fails the run).
        let gets = rng.range_inclusive(250, 700);
        KvSwarmConfig {
            servers,
            clerks: [1, 2, 3, 5, 8, 20][rng.index(6)],
            keys: rng.range_inclusive(1, 5) as usize,
            value_bytes: [0, 1, 8, 32][rng.index(4)],
            read_mode: if rng.chance(1, 2) {
                ReadMode::ReadIndex
            } else {
                ReadMode::Log
            },
            max_raft_state: [None, Some(512), Some(1000), Some(4000)][rng.index(4)],
            calls_per_slice: rng.range_inclusive(1, 6),
            mix: (gets, rng.below(1001 - gets) / 3),
            loss_per_mille: if unreliable { rng.below(301) as u16 } else { 0 },
            delay_ms: if unreliable { rng.below(60) as u16 } else { 0 },
            reorder: rng.chance(1, 4),
            crash_rate: rng.below(100),
            mid_step_share: rng.below(1001),
            leader_share: rng.below(1001),
            survives_crash: [0, 500, 1000][rng.index(3)],
            restart_rate: rng.range_inclusive(20, 300),
            partition_rate: rng.below(80),
            heal_rate: rng.range_inclusive(20, 300),
            clerk_cut_rate: rng.below(60),
            churn_rate: rng.below(30),
            duration_ms: rng.range_inclusive(1_500, 6_000),
            transfer_rate: [0, 0, 10, 40][Stream::new(seed, "kv-swarm-transfers").index(4)],
        }
    }

    /// The schedule this configuration writes under `seed`.
    pub fn schedule(&self, seed: u64) -> Vec<KvStep> {
        let mut rng = Stream::new(seed, "kv-swarm-schedule");
        let n = self.servers;
        let server = |step| KvStep::Server(step);
        let mut steps = vec![server(Step::Network {
            loss_per_mille: self.loss_per_mille,
            delay_ms: self.delay_ms,
            reorder: self.reorder,
        })];
        let mut transfers = Stream::new(seed, "kv-swarm-transfer-steps");
        for _ in 0..self.duration_ms / SLICE_MS {
            if transfers.chance(self.transfer_rate, 1000) {
                steps.push(server(Step::Transfer(transfers.index(n))));
            }
            for _ in 0..rng.below(self.calls_per_slice + 1) {
                let (clerk, key) = (rng.index(self.clerks), rng.index(self.keys));
                let roll = rng.below(1000);
                steps.push(if roll < self.mix.0 {
                    KvStep::Get { clerk, key }
                } else if roll < self.mix.0 + self.mix.1 {
                    KvStep::Put { clerk, key }
                } else {
                    KvStep::Append { clerk, key }
                });
            }
            if rng.chance(self.crash_rate, 1000) {
                let i = rng.index(n);
                steps.push(server(if rng.chance(self.leader_share, 1000) {
                    Step::CrashLeader
                } else if rng.chance(self.mid_step_share, 1000) {
                    Step::CrashMidStep {
                        server: i,
                        keep: rng.index(6),
                    }
                } else {
                    Step::Crash(i)
                }));
            }
            if rng.chance(self.restart_rate, 1000) {
                steps.push(server(Step::Restart(rng.index(n))));
            }
            if rng.chance(self.partition_rate, 1000) {
                steps.push(server(if rng.chance(self.leader_share, 1000) {
                    Step::IsolateLeader
                } else if rng.chance(1, 3) {
                    Step::Cut {
                        from: rng.index(n),
                        to: rng.index(n),
                    }
                } else {
                    Step::Partition(rng.below(1 << n) as u8)
                }));
            }
            if rng.chance(self.clerk_cut_rate, 1000) {
                steps.push(KvStep::ClerkCut {
                    clerk: rng.index(self.clerks),
                    server: rng.index(n),
                });
            }
            if rng.chance(self.heal_rate, 1000) {
                steps.push(if rng.chance(1, 2) {
                    server(Step::Heal)
                } else {
                    KvStep::ClerkHeal
                });
            }
            if rng.chance(self.churn_rate, 1000) {
                let clerk = rng.index(self.clerks);
                steps.push(if rng.chance(1, 3) {
                    KvStep::Stop(clerk)
                } else {
                    KvStep::Start(clerk)
                });
            }
            steps.push(server(Step::Advance(SLICE_MS)));
        }
        steps
    }

    /// The spec of the run: this configuration's schedule on a world seeded by `seed`.
    pub fn spec(&self, seed: u64) -> KvSpec {
        let mut spec = KvSpec::new(
            self.servers,
            Stream::new(seed, "kv-swarm-world").next_u64(),
            self.schedule(seed),
        );
        spec.clerks = self.clerks;
        spec.keys = self.keys;
        spec.value_bytes = self.value_bytes;
        spec.read_mode = self.read_mode;
        spec.max_raft_state = self.max_raft_state;
        spec.survives_sender_crash_per_mille = self.survives_crash;
        spec
    }
}

impl fmt::Display for KvSwarmConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let snapshots = self
            .max_raft_state
            .map_or("never".to_string(), |m| format!("{m}B"));
        write!(
            f,
            "servers={} clerks={} keys={} value+{}B reads={:?} max-raft-state={snapshots} calls≤{}/50ms get/put={}‰/{}‰ loss={}‰ delay≤{}ms reorder={} crash={}‰ (mid-step {}%, at the leader {}%, in-flight survives {}‰) restart={}‰ partition={}‰ heal={}‰ clerk-cut={}‰ churn={}‰ duration={}ms transfers={}‰",
            self.servers,
            self.clerks,
            self.keys,
            self.value_bytes,
            self.read_mode,
            self.calls_per_slice,
            self.mix.0,
            self.mix.1,
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
            self.clerk_cut_rate,
            self.churn_rate,
            self.duration_ms,
            self.transfer_rate
        )
    }
}

/// Runs KV swarm seed `seed` with `bugs` planted: picks its configuration, writes its
/// schedule, runs it.
pub fn run_kv_swarm(seed: u64, record_trace: bool, bugs: KvBugSet) -> (KvSwarmConfig, KvReport) {
    let config = KvSwarmConfig::pick(seed);
    #[allow(unused_mut)]
    let mut spec = config.spec(seed);
    #[cfg(feature = "test-hooks")]
    {
        spec.bugs = bugs;
    }
    #[cfg(not(feature = "test-hooks"))]
    let () = bugs;
    let report = run_kv_schedule(&spec, record_trace);
    (config, report)
}

/// The planted bugs of a run: kv-core's set with `test-hooks`, nothing without.
#[cfg(feature = "test-hooks")]
pub type KvBugSet = kv_core::KvBugs;
/// The planted bugs of a run: kv-core's set with `test-hooks`, nothing without.
#[cfg(not(feature = "test-hooks"))]
pub type KvBugSet = ();
