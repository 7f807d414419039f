//! CheckQuorum (thesis §6.2 and §9.6): a leader that has not heard from a majority
//! within an election timeout steps down; a node hearing from a live leader ignores vote
//! and pre-vote requests of later terms (the leader's lease), except the campaign of a
//! leadership transfer; so a node rejoining from a partition cannot depose a healthy
//! leader.

mod router;

use raft_core::{
    Body, Config, Input, LogIndex, Message, Node, NodeId, ProposeError, RequestVote, RoleKind, Term,
};
use router::build::{append, is_granted, message, only_send, pre_vote, request_vote, state};
use router::{ids, Router};

fn msg(message: Message) -> Input {
    Input::Message(message)
}

fn check_quorum_cluster(n: u64, pre_vote: bool) -> Router {
    Router::with_builder(n, |b| b.check_quorum(true).pre_vote(pre_vote))
}

/// Node `id` of a cluster of `n` with CheckQuorum, in `term`, with a log of `log_terms`.
fn check_quorum_node(id: u64, n: u64, term: u64, log_terms: &[u64]) -> Node {
    let config = Config::builder(NodeId(id), ids(n))
        .seed(id)
        .check_quorum(true)
        .build()
        .expect("valid");
    Node::restore(config, &state(term, None, log_terms)).expect("restores")
}

/// Ticks node `id` alone, `ticks` times.
fn tick_alone(r: &mut Router, id: u64, ticks: u32) {
    for _ in 0..ticks {
        r.tick(id);
    }
}

#[test]
fn s6_2_leader_cut_off_from_a_majority_steps_down_after_an_election_timeout() {
    let mut r = check_quorum_cluster(3, true);
    r.elect(1);
    r.propose(1, "x").expect("leader");
    r.deliver_all();
    let term = r.node(1).term();
    let window = r.config(1).election_timeout_ticks_max();
    r.isolate(1);
    // The last answers came just before the partition: the leader holds on until a
    // whole election timeout has passed without hearing from a majority.
    tick_alone(&mut r, 1, window - 1);
    assert!(r.node(1).is_leader(), "not yet a whole election timeout");
    r.propose(1, "still taken").expect("still the leader");
    let actions = r.tick(1);
    assert_eq!(r.node(1).role(), RoleKind::Follower);
    assert_eq!(r.node(1).term(), term, "stepping down keeps the term");
    assert!(
        actions.is_empty(),
        "nothing to persist or send: {actions:?}"
    );
    assert_eq!(
        r.propose(1, "refused"),
        Err(ProposeError::NotLeader { leader_hint: None })
    );
}

#[test]
fn s6_2_leader_hearing_from_a_bare_majority_keeps_leading() {
    let mut r = check_quorum_cluster(5, true);
    r.elect(1);
    r.isolate(4);
    r.isolate(5);
    let term = r.node(1).term();
    r.tick_all(10 * 60);
    assert_eq!(r.leader(), Some(1), "three of five answer: a majority");
    assert_eq!(r.node(1).term(), term);
    // One more lost, and the leader goes within an election timeout.
    r.isolate(3);
    let window = r.config(1).election_timeout_ticks_max() as usize;
    r.tick_all(window + 1);
    assert_ne!(r.node(1).role(), RoleKind::Leader);
}

#[test]
fn s6_2_without_check_quorum_a_cut_off_leader_leads_on() {
    let mut r = Router::with_builder(3, |b| b.pre_vote(true));
    r.elect(1);
    r.isolate(1);
    tick_alone(&mut r, 1, 20 * 60);
    assert!(
        r.node(1).is_leader(),
        "the default is off, as in etcd-io/raft"
    );
}

#[test]
fn s6_2_leader_that_stepped_down_rejoins_the_new_leader() {
    let mut r = check_quorum_cluster(3, true);
    r.elect(1);
    r.isolate(1);
    r.tick_all_until(|r| r.node(1).role() == RoleKind::Follower && r.leader().is_some());
    let leader = r.leader().expect("the majority elected a leader");
    assert_ne!(leader, 1);
    r.propose(leader, "after")
        .expect("the new leader takes proposals");
    r.heal();
    r.tick_all_until(|r| r.node(1).applied_index() == LogIndex(1));
    assert_eq!(r.node(1).term(), r.node(leader).term());
}

#[test]
fn s9_6_follower_under_lease_ignores_votes_and_pre_votes_of_later_terms() {
    let mut n = check_quorum_node(2, 3, 1, &[1]);
    n.step(msg(append(1, 2, 1, (1, 1), vec![], 1)));
    for request in [request_vote(3, 2, 2, (1, 1)), pre_vote(3, 2, 2, (1, 1))] {
        let actions = n.step(msg(request));
        assert!(actions.is_empty(), "ignored without an answer: {actions:?}");
        assert_eq!(
            (n.term(), n.voted_for()),
            (Term(1), None),
            "term not adopted"
        );
    }
    // A vote of the current term is not about the lease: it follows Raft's rules.
    let actions = n.step(msg(request_vote(3, 2, 1, (1, 1))));
    assert!(is_granted(only_send(&actions)));
}

#[test]
fn s9_6_lease_ends_after_the_smallest_election_timeout() {
    let mut n = check_quorum_node(2, 3, 1, &[1]);
    n.step(msg(append(1, 2, 1, (1, 1), vec![], 1)));
    for _ in 0..n.config().election_timeout_ticks_min() - 1 {
        n.step(Input::Tick);
    }
    assert!(n.step(msg(request_vote(3, 2, 2, (1, 1)))).is_empty());
    n.step(Input::Tick);
    let actions = n.step(msg(request_vote(3, 2, 2, (1, 1))));
    assert!(is_granted(only_send(&actions)), "the leader fell silent");
    assert_eq!((n.term(), n.voted_for()), (Term(2), Some(NodeId(3))));
}

#[test]
fn s9_6_leader_under_check_quorum_ignores_vote_requests_of_later_terms() {
    let mut r = check_quorum_cluster(3, false);
    r.elect(1);
    let term = r.node(1).term();
    let later = term.0 + 3;
    let actions = r.step(1, msg(request_vote(3, 1, later, (9, later))));
    assert!(actions.is_empty());
    assert!(r.node(1).is_leader());
    assert_eq!(r.node(1).term(), term);
    // Without CheckQuorum the same request deposes the leader (and wins its vote).
    let mut plain = Router::new(3);
    plain.elect(1);
    let actions = plain.step(1, msg(request_vote(3, 1, later, (9, later))));
    assert!(is_granted(only_send(&actions)));
    assert_eq!(plain.node(1).role(), RoleKind::Follower);
}

#[test]
fn s9_6_transfer_campaign_is_not_ignored_under_the_lease() {
    let mut n = check_quorum_node(2, 3, 1, &[1]);
    n.step(msg(append(1, 2, 1, (1, 1), vec![], 1)));
    let transfer = Body::RequestVote(RequestVote::transfer(LogIndex(1), Term(1)));
    let actions = n.step(msg(message(3, 2, 2, transfer)));
    assert!(is_granted(only_send(&actions)));
    assert_eq!((n.term(), n.voted_for()), (Term(2), Some(NodeId(3))));
}

/// Elects a leader, isolates another node for many election timeouts, heals, runs many
/// more; returns (the leader's term before, the leader and its term after).
fn rejoin(mut r: Router) -> (Term, Option<u64>, Term) {
    r.tick_all_until(|r| r.leader().is_some());
    let leader = r.leader().expect("a leader");
    let before = r.node(leader).term();
    let outsider = if leader == 3 { 2 } else { 3 };
    r.isolate(outsider);
    r.tick_all(10 * 60);
    r.heal();
    r.tick_all(10 * 60);
    let after = r.leader();
    (
        before,
        after.filter(|&id| id == leader),
        after.map_or(Term(0), |id| r.node(id).term()),
    )
}

#[test]
fn s9_6_rejoining_partitioned_node_does_not_depose_the_leader() {
    let (before, same_leader, after) = rejoin(check_quorum_cluster(3, true));
    assert!(same_leader.is_some(), "the leader kept its place");
    assert_eq!(after, before, "no election happened");
}

#[test]
fn s9_6_without_pre_vote_a_node_that_raised_its_term_rejoins_through_one_election() {
    // The outsider's vote requests are ignored, but its higher term reaches the leader in
    // its answer to a heartbeat: it must, or the outsider could never rejoin (etcd's
    // "stuck candidate"). This is why the lease goes with pre-vote.
    let mut r = check_quorum_cluster(3, false);
    r.elect(1);
    r.isolate(3);
    for _ in 0..5 {
        r.tick_until_campaign(3);
    }
    let outsider_term = r.node(3).term();
    r.take_queue();
    r.heal();
    r.tick_until_campaign(3);
    r.deliver_where(|m| m.from().0 == 3);
    assert!(r.node(1).is_leader(), "its vote requests are ignored");
    assert!(r.node(1).term() < outsider_term);
    r.tick_all_until(|r| {
        r.leader()
            .is_some_and(|id| r.node(id).term() > outsider_term)
    });
    let leader = r.leader().expect("a leader");
    r.propose(leader, "x").expect("leader");
    r.tick_all_until(|r| {
        r.ids()
            .iter()
            .all(|&id| r.node(id).applied_index() == LogIndex(1))
    });
}

#[test]
fn s9_6_cut_off_leader_steps_down_and_the_majority_elects_under_the_lease() {
    // Followers that heard from the old leader ignore votes for an election timeout;
    // after that, the majority elects a successor within a few election timeouts.
    let mut r = check_quorum_cluster(5, true);
    r.elect(1);
    r.isolate(1);
    let elected = r.tick_all_until(|r| r.ids().iter().any(|&id| id != 1 && r.node(id).is_leader()));
    let min = r.config(1).election_timeout_ticks_min() as usize;
    let max = r.config(1).election_timeout_ticks_max() as usize;
    assert!(elected >= min, "the lease held for {elected} ticks");
    assert!(elected <= 2 * max, "took {elected} ticks");
    let stepped_down = elected + r.tick_all_until(|r| !r.node(1).is_leader());
    assert!(
        stepped_down <= max + 1,
        "the old leader stepped down after {stepped_down}"
    );
}
