//! Random schedules for a [`Router`]: ticks, deliveries, losses, duplicates, reorders,
//! proposals, crashes, restarts, partitions and service snapshots, as proptest values.

use proptest::prelude::*;

use super::Router;

/// One thing that happens to the cluster.
#[derive(Clone, Debug)]
pub enum Op {
    /// Node `node` ticks `times` times (nothing is delivered).
    Tick { node: u64, times: u8 },
    /// Every live node ticks once, then everything in flight is delivered.
    Round,
    /// The oldest message in flight is delivered.
    DeliverOne,
    /// Up to `count` messages are delivered, oldest first.
    Deliver { count: u8 },
    /// The oldest message in flight is lost.
    Lose,
    /// The oldest message in flight is copied to the back of the queue.
    Duplicate,
    /// The oldest message in flight goes to the back of the queue.
    Reorder,
    /// The service proposes a command at `node`.
    Propose { node: u64 },
    /// `node` crashes (if running).
    Crash { node: u64 },
    /// `node` restarts (if crashed).
    Restart { node: u64 },
    /// `node`'s service snapshots everything it applied.
    Snapshot { node: u64 },
    /// `node` is cut off from everyone.
    Isolate { node: u64 },
    /// Every link works again.
    Heal,
}

/// A strategy for one op in a cluster of `n` nodes.
pub fn op(n: u64) -> impl Strategy<Value = Op> {
    let node = 1..=n;
    prop_oneof![
        4 => (node.clone(), 1u8..40).prop_map(|(node, times)| Op::Tick { node, times }),
        3 => Just(Op::Round),
        3 => Just(Op::DeliverOne),
        4 => (1u8..30).prop_map(|count| Op::Deliver { count }),
        1 => Just(Op::Lose),
        1 => Just(Op::Duplicate),
        1 => Just(Op::Reorder),
        4 => node.clone().prop_map(|node| Op::Propose { node }),
        1 => node.clone().prop_map(|node| Op::Crash { node }),
        1 => node.clone().prop_map(|node| Op::Restart { node }),
        1 => node.clone().prop_map(|node| Op::Snapshot { node }),
        1 => node.prop_map(|node| Op::Isolate { node }),
        1 => Just(Op::Heal),
    ]
}

/// A strategy for a schedule of `len` ops in a cluster of `n` nodes.
pub fn schedule(n: u64, len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<Op>> {
    proptest::collection::vec(op(n), len)
}

/// Carries out the schedule; the router checks every step as it goes.
pub fn run(router: &mut Router, ops: &[Op]) {
    let mut commands = 0u64;
    for op in ops {
        match *op {
            Op::Tick { node, times } => {
                for _ in 0..times {
                    if router.is_up(node) {
                        router.tick(node);
                    }
                }
            }
            Op::Round => router.tick_all(1),
            Op::DeliverOne => {
                router.deliver_one();
            }
            Op::Deliver { count } => {
                for _ in 0..count {
                    router.deliver_one();
                }
            }
            Op::Lose => {
                let mut first = true;
                router.drop_where(|_| std::mem::take(&mut first));
            }
            Op::Duplicate => {
                if let Some(message) = router.queue().front().cloned() {
                    router.inject(message);
                }
            }
            Op::Reorder => {
                let mut queue = router.take_queue();
                if !queue.is_empty() {
                    let first = queue.remove(0);
                    queue.push(first);
                }
                for message in queue {
                    router.inject(message);
                }
            }
            Op::Propose { node } => {
                if router.is_up(node) {
                    commands += 1;
                    let _outcome = router.propose(node, format!("cmd{commands}"));
                }
            }
            Op::Crash { node } => {
                if router.is_up(node) {
                    router.crash(node);
                }
            }
            Op::Restart { node } => {
                if !router.is_up(node) {
                    router.restart(node);
                }
            }
            Op::Snapshot { node } => {
                if router.is_up(node) {
                    let applied = router.node(node).applied_index();
                    if applied > router.node(node).snapshot_index() {
                        let taken = router.snapshot(node, applied.0);
                        assert_eq!(taken, Ok(applied), "a snapshot at the applied index");
                    }
                }
            }
            Op::Isolate { node } => router.isolate(node),
            Op::Heal => router.heal(),
        }
    }
}

/// The healed phase: every node restarts, every link works, and a fresh command
/// proposed at the leader reaches every node's service. (Without a no-op entry a new
/// leader commits nothing until it has an entry of its own term, so the command is
/// proposed again whenever leadership changes before it lands.)
pub fn heal_and_converge(router: &mut Router) {
    router.heal();
    for id in router.ids() {
        if !router.is_up(id) {
            router.restart(id);
        }
    }
    for attempt in 0..20 {
        router.tick_all_until(|r| r.leader().is_some());
        let leader = router.leader().expect("a leader");
        let proposed = router
            .propose(leader, format!("final{attempt}"))
            .expect("the leader takes the command");
        let (target, term) = (proposed.index, proposed.term);
        for _ in 0..500 {
            if router
                .ids()
                .iter()
                .all(|&id| router.node(id).applied_index() >= target)
            {
                return;
            }
            if router.leader() != Some(leader) || router.node(leader).term() != term {
                break;
            }
            router.tick_all(1);
        }
    }
    panic!("the healed cluster did not converge");
}
