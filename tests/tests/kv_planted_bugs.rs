//! Every planted KV bug (kv-core's `test-hooks`) is caught: by `raftlab fuzz --kv` within
//! a few seeds (the first failing swarm seed of each bug, measured, is asserted), and by
//! the proptest KV schedule suite, whose counterexample shrinks to a short 1-minimal
//! schedule that fails with the bug and passes without it.

mod kv_common;

use kv_common::{check, explain, schedule};
use kv_core::{KvBug, KvBugs};
use proptest::test_runner::{Config, RngAlgorithm, TestError, TestRng, TestRunner};
use sim::fuzz::kv::run_kv_swarm;

/// The first failing `fuzz --kv` seed of each bug, as measured (seeds from 1).
const FIRST_FAILING_SEED: [(KvBug, u64); 8] = [
    (KvBug::NoDuplicateDetection, 4),
    (KvBug::SnapshotWithoutDuplicates, 3),
    (KvBug::ReplyBeforeCommit, 4),
    (KvBug::LocalReads, 4),
    (KvBug::KeepStaleWaiters, 25),
    (KvBug::NewSeqOnRetry, 2),
    (KvBug::StaleSnapshot, 12),
    (KvBug::RestartForgetsApplied, 3),
];

/// The first seed from 1 whose KV swarm run fails with `bugs`, looking at most `limit`.
fn first_failing_seed(bugs: KvBugs, limit: u64) -> Option<(u64, String)> {
    (1..=limit).find_map(|seed| {
        let (_, report) = run_kv_swarm(seed, false, bugs);
        report.report.error_line().map(|error| (seed, error))
    })
}

#[test]
fn fuzz_kv_catches_every_planted_bug_within_its_measured_seed() {
    for (bug, first) in FIRST_FAILING_SEED {
        let found = first_failing_seed(bug.into(), first);
        let (seed, error) = found.unwrap_or_else(|| {
            panic!("fuzz --kv no longer catches {bug} by seed {first} (re-measure with `raftlab fuzz --kv --kv-bug {bug}`)")
        });
        assert_eq!(
            seed, first,
            "{bug}: first failure moved to seed {seed}: {error}"
        );
        assert!(first <= 1000, "{bug}: caught only at seed {first}");
        // The same seed without the bug passes: the bug is the cause.
        let (_, clean) = run_kv_swarm(seed, false, KvBugs::NONE);
        assert!(
            clean.report.ok,
            "{bug}: seed {seed} fails without the bug too"
        );
    }
}

/// Finds a failing KV schedule with `bug` through proptest (a fixed RNG), shrinks it, and
/// returns the shrunk length.
fn found_and_shrunk(bug: KvBug) -> usize {
    let config = Config {
        cases: 256,
        max_shrink_iters: 1000,
        failure_persistence: None,
        ..Config::default()
    };
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[15; 32]);
    let mut runner = TestRunner::new_with_rng(config, rng);
    let bugs = KvBugs::from(bug);
    let minimal = match runner.run(&schedule(), |schedule| check(&schedule, bugs)) {
        Err(TestError::Fail(_, minimal)) => minimal,
        other => panic!("the KV schedule suite did not find {bug}: {other:?}"),
    };
    let (steps, text) = explain(&minimal, bugs);
    println!("{bug}: shrunk to {} steps:\n{text}\n", steps.len());
    let mut shrunk = minimal;
    shrunk.steps = steps;
    assert!(
        check(&shrunk, bugs).is_err(),
        "{bug}: the shrunk schedule passes"
    );
    assert!(
        check(&shrunk, KvBugs::NONE).is_ok(),
        "{bug}: the shrunk schedule fails without the bug:\n{text}"
    );
    // 1-minimal: dropping any one step makes the failure go away.
    for i in 0..shrunk.steps.len() {
        let mut fewer = shrunk.clone();
        fewer.steps.remove(i);
        assert!(
            check(&fewer, bugs).is_ok(),
            "{bug}: step {} is not needed:\n{text}",
            i + 1
        );
    }
    shrunk.steps.len()
}

/// The longest shrunk schedule accepted for `bug`: the snapshot bugs need enough writes
/// for a snapshot or two at a max_raft_state of 512 bytes (one call per step, and a wait
/// between two calls of one clerk), the others a handful of steps.
fn shrunk_at_most(bug: KvBug) -> usize {
    match bug {
        KvBug::SnapshotWithoutDuplicates | KvBug::StaleSnapshot | KvBug::RestartForgetsApplied => {
            45
        }
        _ => 10,
    }
}

#[test]
fn the_schedule_suite_finds_and_shrinks_every_planted_bug() {
    for bug in KvBug::ALL {
        let len = found_and_shrunk(bug);
        println!("FIGURE {bug}: shrunk to {len} steps");
        assert!(len <= shrunk_at_most(bug), "{bug}: shrunk to {len} steps");
    }
}
