//! Random schedules for a [`Router`]: ticks, deliveries, losses, duplicates, reorders,
//! proposals, crashes, restarts, partitions and service snapshots, as proptest values.

use proptest::prelude::*;
use proptest::sample::Index;

use raft_core::{Action, Body};

use super::Router;

/// One thing that happens to the cluster.
#[derive(Clone, Debug)]
pub enum Op {
    /// Node `node` ticks `times` times (nothing is delivered).
    Tick { node: u64, times: u8 },
    /// `count` times: every live node ticks once, then everything in flight is delivered.
    Rounds { count: u8 },
    /// The oldest message in flight is delivered.
    DeliverOne,
    /// Up to `count` messages are delivered, oldest first.
    Deliver { count: u8 },
    /// A message in flight is lost.
    Lose { at: Index },
    /// A message in flight is copied to the back of the queue.
    Duplicate { at: Index },
    /// A message in flight goes to the back of the queue (it arrives after the others).
    Reorder { at: Index },
    /// The service proposes a command at `node`, or at the leader if `None` (or no leader).
    Propose { node: Option<u64> },
    /// `node` crashes (if running).
    Crash { node: u64 },
    /// The leader of the highest term crashes (if there is one).
    CrashLeader,
    /// `node` ticks until it campaigns, then everything in flight is delivered.
    Elect { node: u64 },
    /// The leader takes a command, `deliver` messages are delivered, and it crashes
    /// before the rest of what it sent leaves.
    ProposeThenCrash { deliver: u8 },
    /// `node` restarts (if crashed).
    Restart { node: u64 },
    /// `node`'s service snapshots everything it applied.
    Snapshot { node: u64 },
    /// `node` is cut off from everyone.
    Isolate { node: u64 },
    /// Every link works again.
    Heal,
    /// The service asks `node`, or the leader if `None`, for a read.
    Read { node: Option<u64> },
    /// The leader (if any) is asked to hand its leadership to `target`.
    Transfer { target: u64 },
}

/// A strategy for one op in a cluster of `n` nodes.
pub fn op(n: u64) -> impl Strategy<Value = Op> {
    let node = 1..=n;
    prop_oneof![
        3 => (node.clone(), 1u8..40).prop_map(|(node, times)| Op::Tick { node, times }),
        2 => (1u8..12).prop_map(|count| Op::Rounds { count }),
        2 => Just(Op::DeliverOne),
        3 => (1u8..30).prop_map(|count| Op::Deliver { count }),
        1 => any::<Index>().prop_map(|at| Op::Lose { at }),
        1 => any::<Index>().prop_map(|at| Op::Duplicate { at }),
        2 => any::<Index>().prop_map(|at| Op::Reorder { at }),
        4 => proptest::option::weighted(0.2, node.clone()).prop_map(|node| Op::Propose { node }),
        3 => node.clone().prop_map(|node| Op::Crash { node }),
        3 => node.clone().prop_map(|node| Op::Restart { node }),
        2 => node.clone().prop_map(|node| Op::Snapshot { node }),
        2 => node.prop_map(|node| Op::Isolate { node }),
        2 => Just(Op::Heal),
    ]
}

/// A strategy for one op of a Figure 8 style schedule (after the lab's Figure8 tests):
/// leaders take commands and crash soon after, while crashed nodes come back, so that
/// entries of many terms sit on different subsets of the nodes.
pub fn figure8_op(n: u64) -> impl Strategy<Value = Op> {
    let node = 1..=n;
    prop_oneof![
        4 => node.clone().prop_map(|node| Op::Elect { node }),
        4 => (0u8..4).prop_map(|deliver| Op::ProposeThenCrash { deliver }),
        1 => Just(Op::Propose { node: None }),
        1 => (1u8..8).prop_map(|count| Op::Deliver { count }),
        1 => (node.clone(), 1u8..30).prop_map(|(node, times)| Op::Tick { node, times }),
        1 => Just(Op::CrashLeader),
        4 => node.prop_map(|node| Op::Restart { node }),
        1 => any::<Index>().prop_map(|at| Op::Reorder { at }),
    ]
}

/// A strategy for one op of a schedule that also asks for reads and transfers (for a
/// cluster with CheckQuorum and the no-op entry).
pub fn production_op(n: u64) -> impl Strategy<Value = Op> {
    prop_oneof![
        12 => op(n),
        2 => proptest::option::weighted(0.3, 1..=n).prop_map(|node| Op::Read { node }),
        1 => (1..=n).prop_map(|target| Op::Transfer { target }),
    ]
}

/// A schedule of `len` ops with reads and transfers in a cluster of `n` nodes.
pub fn production_schedule(n: u64, len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<Op>> {
    proptest::collection::vec(production_op(n), len)
}

/// A Figure 8 style schedule of `len` ops in a cluster of `n` nodes.
pub fn figure8_schedule(n: u64, len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<Op>> {
    proptest::collection::vec(figure8_op(n), len)
}

/// A strategy for a schedule of `len` ops in a cluster of `n` nodes.
pub fn schedule(n: u64, len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<Op>> {
    proptest::collection::vec(op(n), len)
}

/// Carries out the schedule; the router checks every step as it goes.
pub fn run(router: &mut Router, ops: &[Op]) {
    let mut commands = 0u64;
    let mut reads = 0u64;
    for op in ops {
        match *op {
            Op::Tick { node, times } => {
                for _ in 0..times {
                    if router.is_up(node) {
                        router.tick(node);
                    }
                }
            }
            Op::Rounds { count } => router.tick_all(usize::from(count)),
            Op::DeliverOne => {
                router.deliver_one();
            }
            Op::Deliver { count } => {
                for _ in 0..count {
                    router.deliver_one();
                }
            }
            Op::Lose { at } => {
                let mut queue = router.take_queue();
                if !queue.is_empty() {
                    queue.remove(at.index(queue.len()));
                }
                queue.into_iter().for_each(|message| router.inject(message));
            }
            Op::Duplicate { at } => {
                if !router.queue().is_empty() {
                    let copy = router.queue()[at.index(router.queue().len())].clone();
                    router.inject(copy);
                }
            }
            Op::Reorder { at } => {
                let mut queue = router.take_queue();
                if !queue.is_empty() {
                    let late = queue.remove(at.index(queue.len()));
                    queue.push(late);
                }
                queue.into_iter().for_each(|message| router.inject(message));
            }
            Op::Propose { node } => {
                let node = node.or_else(|| router.leader()).unwrap_or(1);
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
            Op::Elect { node } => {
                if router.is_up(node) && !router.node(node).is_leader() {
                    for _ in 0..router.config(node).election_timeout_ticks_max() {
                        let actions = router.tick(node);
                        if actions.iter().any(is_vote_request) {
                            break;
                        }
                    }
                    router.deliver_all();
                }
            }
            Op::ProposeThenCrash { deliver } => {
                if let Some(leader) = router.leader() {
                    commands += 1;
                    let _outcome = router.propose(leader, format!("cmd{commands}"));
                    for _ in 0..deliver {
                        router.deliver_one();
                    }
                    if router.is_up(leader) {
                        router.crash(leader);
                        router.drop_where(|message| message.from().0 == leader);
                    }
                }
            }
            Op::CrashLeader => {
                if let Some(leader) = router.leader() {
                    router.crash(leader);
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
            Op::Read { node } => {
                let node = node.or_else(|| router.leader()).unwrap_or(1);
                if router.is_up(node) {
                    reads += 1;
                    router.read(node, reads);
                }
            }
            Op::Transfer { target } => {
                if let Some(leader) = router.leader() {
                    let _outcome = router.transfer(leader, target);
                }
            }
        }
    }
}

fn is_vote_request(action: &Action) -> bool {
    matches!(action, Action::Send(message) if matches!(message.body(), Some(Body::RequestVote(_))))
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
        // A leader that is handing over its leadership refuses: wait for the outcome.
        let Ok(proposed) = router.propose(leader, format!("final{attempt}")) else {
            router.tick_all(1);
            continue;
        };
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
