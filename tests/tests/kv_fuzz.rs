//! Property-based fuzzing of the KV service: random KV schedules (clerk calls on a small
//! key space, clerks started, stopped and cut off, crashes, restarts, partitions, network
//! changes, snapshots through a small max_raft_state), every checker on plus
//! linearizability and exactly-once, then a healed liveness phase. Shrinking yields a
//! 1-minimal schedule, printed as readable steps with the command that replays it; the
//! KV swarm's fixed seeds pass.

mod kv_common;

use kv_common::{check, explain, schedule};
use kv_core::KvBugs;
use proptest::test_runner::{
    Config, FileFailurePersistence, RngAlgorithm, RngSeed, TestError, TestRunner,
};
use sim::fuzz::kv::{parse_kv, render_kv, run_kv_swarm, KvSwarmConfig};

/// Runs random KV schedules; panics with the minimized, readable counterexample. The cases
/// come from a fixed ChaCha seed, so every run draws the same schedules (it drew a new
/// random seed each run before, and once met an append burst that the linearizability
/// search cannot decide). Failures are saved to tests/proptest-regressions/kv_fuzz.txt
/// (kept in the repository), and the cases saved there run first every time.
#[test]
fn random_kv_schedules_stay_linearizable_and_live() {
    let config = Config {
        cases: 128,
        max_shrink_iters: 2000,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/kv_fuzz.txt",
        ))),
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(0x6b76_f022),
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    match runner.run(&schedule(), |schedule| check(&schedule, KvBugs::NONE)) {
        Ok(()) => {}
        Err(TestError::Fail(_, minimal)) => panic!("{}", explain(&minimal, KvBugs::NONE).1),
        Err(other) => panic!("{other}"),
    }
}

#[test]
fn kv_swarm_seeds_pass() {
    for seed in 1..=400 {
        let (config, report) = run_kv_swarm(seed, false, KvBugs::NONE);
        assert!(
            report.report.ok,
            "kv fuzz seed {seed} failed: {}\n  config: {config}\n  replay: cargo run --release -- replay fuzz --kv --seed {seed}",
            report.report.error_line().unwrap_or_default()
        );
        assert!(report.calls.1 > 0, "kv fuzz seed {seed}: no call returned");
    }
}

#[test]
fn kv_swarm_runs_are_deterministic() {
    for seed in [7, 42] {
        let (_, first) = run_kv_swarm(seed, false, KvBugs::NONE);
        let (_, second) = run_kv_swarm(seed, false, KvBugs::NONE);
        assert_eq!(first.report.trace_hash, second.report.trace_hash);
        assert_eq!(first.report.sim_ms, second.report.sim_ms);
        assert_eq!(first.history, second.history);
    }
}

#[test]
fn swarm_schedules_parse_back_from_their_text() {
    for seed in 1..=50 {
        let steps = KvSwarmConfig::pick(seed).schedule(seed);
        assert_eq!(parse_kv(&render_kv(&steps)).unwrap(), steps, "seed {seed}");
    }
}

#[test]
fn the_liveness_phase_completes_every_call_and_reads_every_key() {
    // A leader cut off with calls in flight, a crash, then the heal: every call returns.
    let steps = parse_kv(
        "advance 800; isolate-leader; put 0 0; append 1 0; append 2 1; advance 300; crash 1; get 0 1; advance 200",
    )
    .unwrap();
    let schedule = kv_common::KvSchedule {
        servers: 5,
        seed: 3,
        survives: 500,
        clerks: 3,
        keys: 2,
        log_reads: false,
        max_raft_state: 512,
        steps,
    };
    let report = sim::fuzz::kv::run_kv_schedule(
        &kv_common::spec(&schedule, &schedule.steps, KvBugs::NONE),
        false,
    );
    assert!(report.report.ok, "{:?}", report.report.error_line());
    let (calls, returned) = report.calls;
    // The schedule's calls plus one final read per key, every one returned.
    assert!(calls >= 2 + 2, "{calls} calls");
    assert_eq!(calls, returned);
}
