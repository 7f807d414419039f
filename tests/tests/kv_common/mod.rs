//! What the KV fuzz suites share: the proptest strategy of KV schedules (clerk calls on
//! a small key space, clerks started, stopped and cut off, server faults, waits), the run
//! of one schedule with planted bugs, and its step-level shrinking into a readable
//! counterexample with the command that replays it.
#![allow(dead_code)]

use kv_core::{KvBug, KvBugs, ReadMode};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use sim::fuzz::kv::{render_kv, render_kv_lines, run_kv_schedule, KvSpec, KvStep};
use sim::fuzz::{minimize, Step};

fn server_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0..7usize).prop_map(Step::Crash),
        2 => Just(Step::CrashLeader),
        2 => Just(Step::IsolateLeader),
        3 => (0..7usize).prop_map(Step::Restart),
        1 => (0..7usize, 0..6usize).prop_map(|(server, keep)| Step::CrashMidStep { server, keep }),
        1 => (1..127u8).prop_map(Step::Partition),
        1 => (0..7usize, 0..7usize).prop_map(|(from, to)| Step::Cut { from, to }),
        2 => Just(Step::Heal),
        1 => (0..300u16, 0..60u16, any::<bool>()).prop_map(|(loss_per_mille, delay_ms, reorder)| {
            Step::Network { loss_per_mille, delay_ms, reorder }
        }),
    ]
}

/// One step of a KV schedule.
pub fn kv_step() -> impl Strategy<Value = KvStep> {
    prop_oneof![
        4 => (0..8usize, 0..4usize).prop_map(|(clerk, key)| KvStep::Get { clerk, key }),
        2 => (0..8usize, 0..4usize).prop_map(|(clerk, key)| KvStep::Put { clerk, key }),
        4 => (0..8usize, 0..4usize).prop_map(|(clerk, key)| KvStep::Append { clerk, key }),
        5 => (1..800u64).prop_map(|ms| KvStep::Server(Step::Advance(ms))),
        4 => server_step().prop_map(KvStep::Server),
        1 => (0..8usize).prop_map(KvStep::Start),
        1 => (0..8usize).prop_map(KvStep::Stop),
        1 => (0..8usize, 0..7usize).prop_map(|(clerk, server)| KvStep::ClerkCut { clerk, server }),
        1 => Just(KvStep::ClerkHeal),
    ]
}

/// A short episode: a burst of calls then a wait; a leader cut off while calls are in
/// flight, then a wait and a heal; a crash and a restart; a few random steps; or a run of
/// appends by turns of the clerks (enough writes for several snapshots).
pub fn episode() -> impl Strategy<Value = Vec<KvStep>> {
    let call = (0..8usize, 0..4usize, 0..3u8).prop_map(|(clerk, key, kind)| match kind {
        0 => KvStep::Get { clerk, key },
        1 => KvStep::Put { clerk, key },
        _ => KvStep::Append { clerk, key },
    });
    prop_oneof![
        4 => (proptest::collection::vec(call.clone(), 1..6), 1..400u64).prop_map(|(mut calls, wait)| {
            calls.push(KvStep::Server(Step::Advance(wait)));
            calls
        }),
        3 => (proptest::collection::vec(call, 1..4), 0..30u64, 300..2000u64).prop_map(|(calls, pause, wait)| {
            let mut steps = vec![KvStep::Server(Step::IsolateLeader)];
            steps.extend(calls);
            steps.extend([
                KvStep::Server(Step::Advance(pause)),
                KvStep::Server(Step::Advance(wait)),
                KvStep::Server(Step::Heal),
            ]);
            steps
        }),
        2 => (0..7usize, 0..7usize, 100..1500u64).prop_map(|(a, b, wait)| vec![
            KvStep::Server(Step::Crash(a)),
            KvStep::Server(Step::Advance(wait)),
            KvStep::Server(Step::Restart(b)),
        ]),
        3 => proptest::collection::vec(kv_step(), 1..5),
        2 => (0..8usize, 0..4usize, 5..30usize, 1..30u64).prop_map(|(clerk, key, count, gap)| {
            (0..count)
                .flat_map(|i| [
                    KvStep::Append { clerk: clerk + i, key },
                    KvStep::Server(Step::Advance(gap)),
                ])
                .collect()
        }),
    ]
}

/// A KV schedule: cluster size, world seed, in-flight survival per mille, clerk slots,
/// keys, log reads, max_raft_state, and the steps.
#[derive(Clone, Debug)]
pub struct KvSchedule {
    pub servers: usize,
    pub seed: u64,
    pub survives: u64,
    pub clerks: usize,
    pub keys: usize,
    pub log_reads: bool,
    pub max_raft_state: usize,
    pub steps: Vec<KvStep>,
}

pub fn schedule() -> impl Strategy<Value = KvSchedule> {
    (
        prop_oneof![Just(3usize), Just(5), Just(7)],
        any::<u64>(),
        prop_oneof![Just(0u64), Just(500), Just(1000)],
        1..6usize,
        1..4usize,
        any::<bool>(),
        prop_oneof![Just(0usize), Just(512), Just(1000)],
        proptest::collection::vec(episode(), 1..14).prop_map(|episodes| episodes.concat()),
    )
        .prop_map(
            |(servers, seed, survives, clerks, keys, log_reads, max_raft_state, steps)| {
                KvSchedule {
                    servers,
                    seed,
                    survives,
                    clerks,
                    keys,
                    log_reads,
                    max_raft_state,
                    steps,
                }
            },
        )
}

/// The spec of `schedule` with `steps` instead of its own, and `bugs` planted.
pub fn spec(schedule: &KvSchedule, steps: &[KvStep], bugs: KvBugs) -> KvSpec {
    let mut spec = KvSpec::new(schedule.servers, schedule.seed, steps.to_vec());
    spec.survives_sender_crash_per_mille = schedule.survives;
    spec.clerks = schedule.clerks;
    spec.keys = schedule.keys;
    spec.read_mode = if schedule.log_reads {
        ReadMode::Log
    } else {
        ReadMode::ReadIndex
    };
    spec.max_raft_state = (schedule.max_raft_state > 0).then_some(schedule.max_raft_state);
    spec.bugs = bugs;
    spec
}

/// Runs a schedule; a failing one is a test-case failure.
pub fn check(schedule: &KvSchedule, bugs: KvBugs) -> Result<(), TestCaseError> {
    let report = run_kv_schedule(&spec(schedule, &schedule.steps, bugs), false);
    match report.report.error_line() {
        None => Ok(()),
        Some(error) => Err(TestCaseError::fail(error)),
    }
}

/// The names of the bugs in `bugs`.
pub fn names(bugs: KvBugs) -> Vec<&'static str> {
    KvBug::ALL
        .into_iter()
        .filter(|&bug| bugs.has(bug))
        .map(KvBug::name)
        .collect()
}

/// Shrinks a failing schedule to a 1-minimal one and describes it: the failure, the
/// readable steps, and the command that replays it.
pub fn explain(schedule: &KvSchedule, bugs: KvBugs) -> (Vec<KvStep>, String) {
    let fails = |steps: &[KvStep]| {
        !run_kv_schedule(&spec(schedule, steps, bugs), false)
            .report
            .ok
    };
    let steps = minimize(schedule.steps.clone(), fails);
    let report = run_kv_schedule(&spec(schedule, &steps, bugs), false);
    let bug_flags: String = names(bugs).iter().map(|b| format!(" --bug {b}")).collect();
    let features = if bugs.is_empty() {
        ""
    } else {
        " --features sim/test-hooks"
    };
    let KvSchedule {
        servers,
        seed,
        survives,
        clerks,
        keys,
        log_reads,
        max_raft_state,
        ..
    } = schedule;
    let text = format!(
        "{}\nkv schedule on {servers} servers, {clerks} clerks, {keys} keys, seed {seed}:\n{}replay: cargo run --release{features} -- schedule --kv --servers {servers} --seed {seed} --survives-crash {survives} --clerks {clerks} --keys {keys} --max-raft-state {max_raft_state}{}{bug_flags} \"{}\"",
        report.report.error_line().unwrap_or_default(),
        render_kv_lines(&steps),
        if *log_reads { " --log-reads" } else { "" },
        render_kv(&steps)
    );
    (steps, text)
}
