//! Random schedules (crashes, partitions, loss, duplication, reordering, proposals,
//! snapshots) against the router's per-step checks, then a healed phase that must
//! converge: the safety properties hold under every schedule, and liveness returns.

mod router;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use raft_core::PersistAction;
use router::schedule::{
    figure8_schedule, heal_and_converge, production_schedule, run, schedule, Op,
};
use router::{Applied, Router};

fn fast_cluster(n: u64) -> Router {
    Router::with_builder(n, |b| {
        b.election_timeout_ticks(10, 20)
            .heartbeat_interval_ticks(3)
            .max_message_bytes(16)
    })
}

fn fast_cluster_with_pre_vote(n: u64) -> Router {
    Router::with_builder(n, |b| {
        b.election_timeout_ticks(10, 20)
            .heartbeat_interval_ticks(3)
            .max_message_bytes(16)
            .pre_vote(true)
    })
}

/// A proptest configuration with a fixed ChaCha seed, so every run draws the same cases
/// (failures are still saved to and replayed from the regression file beside this one).
fn fixed(cases: u32, seed: u64) -> ProptestConfig {
    ProptestConfig {
        cases,
        rng_algorithm: proptest::test_runner::RngAlgorithm::ChaCha,
        rng_seed: proptest::test_runner::RngSeed::Fixed(seed),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(fixed(256, 0x5c4e_d001))]

    #[test]
    fn three_nodes_stay_safe_and_recover(ops in schedule(3, 20..200)) {
        let mut r = fast_cluster(3);
        run(&mut r, &ops);
        heal_and_converge(&mut r);
    }

    #[test]
    fn three_nodes_with_pre_vote_stay_safe_and_recover(ops in schedule(3, 20..200)) {
        let mut r = fast_cluster_with_pre_vote(3);
        run(&mut r, &ops);
        heal_and_converge(&mut r);
    }

    #[test]
    fn figure8_style_three_nodes_stay_safe_and_recover(ops in figure8_schedule(3, 20..200)) {
        let mut r = fast_cluster(3);
        run(&mut r, &ops);
        heal_and_converge(&mut r);
    }

    #[test]
    fn figure8_style_five_nodes_stay_safe_and_recover(ops in figure8_schedule(5, 20..200)) {
        let mut r = fast_cluster(5);
        run(&mut r, &ops);
        heal_and_converge(&mut r);
    }

    #[test]
    fn five_nodes_stay_safe_and_recover(ops in schedule(5, 20..200)) {
        let mut r = fast_cluster(5);
        run(&mut r, &ops);
        heal_and_converge(&mut r);
    }
}

fn fast_production_cluster(n: u64) -> Router {
    Router::with_builder(n, |b| {
        b.election_timeout_ticks(10, 20)
            .heartbeat_interval_ticks(3)
            .max_message_bytes(16)
            .pre_vote(true)
            .check_quorum(true)
            .no_op_on_election(true)
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        rng_algorithm: proptest::test_runner::RngAlgorithm::ChaCha,
        rng_seed: proptest::test_runner::RngSeed::Fixed(13),
        ..ProptestConfig::with_cases(256)
    })]

    /// Reads (checked by the router: one answer each, never stale), transfers and
    /// CheckQuorum step-downs under the same faults.
    #[test]
    fn check_quorum_reads_and_transfers_stay_safe_and_recover(
        n in prop_oneof![Just(3u64), Just(5u64)],
        ops in production_schedule(5, 20..200),
    ) {
        let ops: Vec<Op> = ops.into_iter().filter(|op| op_fits(op, n)).collect();
        let mut r = fast_production_cluster(n);
        run(&mut r, &ops);
        heal_and_converge(&mut r);
    }
}

/// Whether `op` names only nodes of a cluster of `n`.
fn op_fits(op: &Op, n: u64) -> bool {
    let node = match *op {
        Op::Tick { node, .. }
        | Op::Crash { node }
        | Op::Elect { node }
        | Op::Restart { node }
        | Op::Snapshot { node }
        | Op::Isolate { node } => Some(node),
        Op::Propose { node } | Op::Read { node } => node,
        Op::Transfer { target } => Some(target),
        _ => None,
    };
    node.map_or(true, |node| node <= n)
}

/// Reads and transfers in random schedules do happen, and complete.
#[test]
fn production_schedules_answer_reads_and_complete_transfers() {
    let mut runner = TestRunner::deterministic();
    let (mut answered, mut refused, mut transfers) = (0, 0, 0);
    for _ in 0..64 {
        let ops = production_schedule(3, 20..200)
            .new_tree(&mut runner)
            .expect("a schedule")
            .current();
        let mut r = fast_production_cluster(3);
        run(&mut r, &ops);
        heal_and_converge(&mut r);
        answered += r.reads.iter().filter(|(_, _, o)| o.is_ok()).count();
        refused += r.reads.iter().filter(|(_, _, o)| o.is_err()).count();
        let campaigns = r.delivered.iter().filter(
            |m| matches!(m.body(), Some(raft_core::Body::RequestVote(rv)) if rv.is_transfer()),
        );
        transfers += campaigns.count();
    }
    println!("{answered} reads answered, {refused} refused, {transfers} transfer vote requests");
    assert!(answered >= 50, "only {answered} reads answered");
    assert!(refused >= 20, "only {refused} reads refused");
    assert!(transfers >= 10, "only {transfers} transfer campaigns");
}

/// The fuzzing above is only worth its time if schedules reach the hard paths.
#[test]
fn random_schedules_reach_snapshots_truncations_and_restarts() {
    let mut runner = TestRunner::deterministic();
    let (mut installs, mut truncations, mut restarts) = (0, 0, 0);
    for _ in 0..128 {
        let ops = schedule(3, 20..200)
            .new_tree(&mut runner)
            .expect("a schedule")
            .current();
        restarts += ops
            .iter()
            .filter(|op| matches!(op, Op::Restart { .. }))
            .count();
        let mut r = fast_cluster(3);
        run(&mut r, &ops);
        heal_and_converge(&mut r);
        let applied = r.applied.values().flatten();
        installs += applied
            .filter(|a| matches!(a, Applied::Snapshot { .. }))
            .count();
        let persisted = r.persist_log.values().flatten();
        truncations += persisted
            .filter(|p| matches!(p, PersistAction::TruncateFrom(_)))
            .count();
    }
    assert!(installs >= 5, "only {installs} snapshot installs");
    assert!(truncations >= 5, "only {truncations} truncations");
    assert!(restarts >= 5, "only {restarts} restarts");
}
