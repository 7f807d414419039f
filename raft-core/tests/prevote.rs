//! Pre-vote (Ongaro's thesis §9.6): a node whose election timer runs out first asks
//! whether it could win, without raising its term or persisting anything; voters say no
//! while they hear from a leader (leader stickiness) or when its log is stale.

mod router;

use raft_core::{
    Action, Body, Config, Input, LogIndex, Message, Node, NodeId, PersistAction, RoleKind, Term,
};
use router::build::{append, only_send, persists, pre_vote, pre_vote_reply, sends, state};
use router::{ids, Router};

fn msg(message: Message) -> Input {
    Input::Message(message)
}

fn pre_vote_config(id: u64, n: u64) -> Config {
    Config::builder(NodeId(id), ids(n))
        .seed(id)
        .pre_vote(true)
        .build()
        .expect("valid")
}

/// A pre-vote node `id` of a cluster of `n`, restored with `term` and a log.
fn pre_vote_node(id: u64, n: u64, term: u64, log_terms: &[u64]) -> Node {
    Node::restore(pre_vote_config(id, n), &state(term, None, log_terms)).expect("restores")
}

/// Ticks a lone node until it acts.
fn tick_until_actions(node: &mut Node) -> Vec<Action> {
    for _ in 0..=node.config().election_timeout_ticks_max() {
        let actions = node.step(Input::Tick);
        if !actions.is_empty() {
            return actions;
        }
    }
    panic!(
        "{} stayed silent past its largest election timeout",
        node.id()
    );
}

/// The answer of a pre-vote reply (`None` for any other message).
fn pre_vote_answer(message: &Message) -> Option<bool> {
    match message.body() {
        Some(Body::RequestVoteReply(reply)) if reply.is_pre_vote() => Some(reply.granted()),
        _ => None,
    }
}

/// Whether `message` is a pre-vote request.
fn is_pre_vote(message: &Message) -> bool {
    matches!(message.body(), Some(Body::RequestVote(request)) if request.is_pre_vote())
}

#[test]
fn s9_6_pre_candidate_raises_no_term_and_persists_nothing() {
    let mut n = pre_vote_node(1, 3, 2, &[1, 2]);
    for _ in 0..5 {
        let actions = tick_until_actions(&mut n);
        assert!(
            persists(&actions).is_empty(),
            "a pre-vote changes nothing durable"
        );
        let requests = sends(&actions);
        assert_eq!(requests.len(), 2);
        for request in requests {
            assert!(is_pre_vote(request));
            assert_eq!(request.term(), Term(3), "asks about the next term");
        }
        assert_eq!(n.role(), RoleKind::PreCandidate);
        assert_eq!((n.term(), n.voted_for()), (Term(2), None));
    }
}

#[test]
fn s9_6_pre_vote_majority_starts_a_real_campaign() {
    let mut n = pre_vote_node(1, 5, 2, &[1, 2]);
    tick_until_actions(&mut n);
    n.step(msg(pre_vote_reply(2, 1, 3, true)));
    assert_eq!(n.role(), RoleKind::PreCandidate, "2 of 5");
    let actions = n.step(msg(pre_vote_reply(3, 1, 3, true)));
    assert_eq!(n.role(), RoleKind::Candidate);
    assert_eq!((n.term(), n.voted_for()), (Term(3), Some(NodeId(1))));
    assert_eq!(
        actions[0],
        Action::Persist(PersistAction::HardState {
            term: Term(3),
            voted_for: Some(NodeId(1))
        })
    );
    let requests = sends(&actions);
    assert_eq!(requests.len(), 4);
    assert!(requests
        .iter()
        .all(|m| !is_pre_vote(m) && m.term() == Term(3)));
}

#[test]
fn s9_6_follower_hearing_from_a_leader_refuses_pre_votes() {
    let mut n = pre_vote_node(2, 3, 1, &[1]);
    n.step(msg(append(1, 2, 1, (1, 1), vec![], 1)));
    let actions = n.step(msg(pre_vote(3, 2, 2, (1, 1))));
    let reply = only_send(&actions);
    assert_eq!(pre_vote_answer(reply), Some(false), "the leader is alive");
    assert_eq!(
        reply.term(),
        Term(1),
        "a refusal carries the voter's own term"
    );
    // Once the leader has been silent for the minimum election timeout, the answer is yes.
    for _ in 0..n.config().election_timeout_ticks_min() {
        n.step(Input::Tick);
    }
    let actions = n.step(msg(pre_vote(3, 2, 2, (1, 1))));
    let reply = only_send(&actions);
    assert_eq!(pre_vote_answer(reply), Some(true));
    assert_eq!(
        reply.term(),
        Term(2),
        "a yes speaks of the term asked about"
    );
    assert!(
        persists(&actions).is_empty(),
        "granting a pre-vote changes nothing"
    );
    assert_eq!((n.term(), n.voted_for()), (Term(1), None));
}

#[test]
fn s9_6_pre_vote_is_refused_for_a_stale_log() {
    let mut n = pre_vote_node(2, 3, 2, &[1, 1, 2]);
    let actions = n.step(msg(pre_vote(3, 2, 3, (5, 1))));
    assert_eq!(pre_vote_answer(only_send(&actions)), Some(false));
    assert_eq!(
        n.term(),
        Term(2),
        "a pre-vote does not move the voter's term"
    );
    let actions = n.step(msg(pre_vote(3, 2, 3, (3, 2))));
    assert_eq!(pre_vote_answer(only_send(&actions)), Some(true));
}

#[test]
fn s9_6_refusal_from_a_newer_term_ends_the_pre_campaign() {
    let mut n = pre_vote_node(1, 3, 1, &[1]);
    tick_until_actions(&mut n);
    n.step(msg(pre_vote_reply(2, 1, 5, false)));
    assert_eq!((n.role(), n.term()), (RoleKind::Follower, Term(5)));
}

/// Elects a leader in a pre-vote cluster, isolates n3 for many election timeouts, heals,
/// and returns (the leader's term before, the leader's term after, the leader after).
fn rejoin_after_partition(pre_vote_enabled: bool) -> (Term, Term, Option<u64>) {
    let mut r = Router::with_builder(3, |b| b.pre_vote(pre_vote_enabled));
    r.tick_all_until(|r| r.leader().is_some());
    let leader = r.leader().expect("a leader");
    let before = r.node(leader).term();
    let outsider = if leader == 3 { 2 } else { 3 };
    r.isolate(outsider);
    r.tick_all(10 * 60);
    r.heal();
    r.tick_all(10 * 60);
    let after_leader = r.leader();
    let after = after_leader.map_or(Term(0), |id| r.node(id).term());
    (before, after, after_leader.filter(|&id| id == leader))
}

#[test]
fn s9_6_rejoining_node_does_not_disrupt_the_leader() {
    let (before, after, same_leader) = rejoin_after_partition(true);
    assert_eq!(after, before, "the term did not move");
    assert!(same_leader.is_some(), "the leader kept its place");
    // Without pre-vote, the outsider's raised term deposes the leader.
    let (before, after, _) = rejoin_after_partition(false);
    assert!(after > before);
}

#[test]
fn s9_6_cluster_with_pre_vote_elects_and_commits() {
    let mut r = Router::with_builder(3, |b| b.pre_vote(true));
    r.tick_all_until(|r| r.leader().is_some());
    let leader = r.leader().expect("a leader");
    assert_eq!(
        r.node(leader).term(),
        Term(1),
        "only one real election happened"
    );
    r.propose(leader, "x").expect("leader");
    r.tick_all_until(|r| {
        r.ids()
            .iter()
            .all(|&id| r.node(id).applied_index() == LogIndex(1))
    });
}

#[test]
fn s9_6_late_votes_of_a_timed_out_campaign_still_elect() {
    let mut n = pre_vote_node(1, 5, 2, &[1, 2]);
    tick_until_actions(&mut n);
    n.step(msg(pre_vote_reply(2, 1, 3, true)));
    n.step(msg(pre_vote_reply(3, 1, 3, true)));
    assert_eq!((n.role(), n.term()), (RoleKind::Candidate, Term(3)));
    n.step(msg(router::build::vote(2, 1, 3, true)));
    // The other answers are held back past the election timeout: a new pre-vote starts.
    let actions = loop {
        let actions = n.step(Input::Tick);
        if n.role() == RoleKind::PreCandidate {
            break actions;
        }
    };
    assert_eq!((n.role(), n.term()), (RoleKind::PreCandidate, Term(3)));
    assert_eq!(sends(&actions).len(), 4);
    assert!(sends(&actions).iter().all(|m| is_pre_vote(m)));
    // A stale or refused answer changes nothing; a late grant of term 3 completes it.
    n.step(msg(router::build::vote(4, 1, 2, true)));
    n.step(msg(router::build::vote(5, 1, 3, false)));
    assert_eq!(n.role(), RoleKind::PreCandidate);
    let actions = n.step(msg(router::build::vote(3, 1, 3, true)));
    assert_eq!((n.role(), n.term()), (RoleKind::Leader, Term(3)));
    assert_eq!(
        sends(&actions).len(),
        4,
        "the new leader asserts itself at once"
    );
    assert!(
        persists(&actions).is_empty(),
        "the vote of term 3 was already durable"
    );
}

#[test]
fn s9_6_real_votes_do_not_count_for_a_pre_candidate_that_never_campaigned() {
    let mut n = pre_vote_node(1, 3, 2, &[1, 2]);
    tick_until_actions(&mut n);
    n.step(msg(router::build::vote(2, 1, 2, true)));
    n.step(msg(router::build::vote(3, 1, 2, true)));
    assert_eq!((n.role(), n.term()), (RoleKind::PreCandidate, Term(2)));
}

#[test]
fn s9_6_pre_candidate_asks_silent_peers_again_every_heartbeat() {
    let mut n = pre_vote_node(1, 3, 2, &[1, 2]);
    tick_until_actions(&mut n);
    n.step(msg(pre_vote_reply(2, 1, 2, false)));
    let mut again = Vec::new();
    for _ in 0..n.config().heartbeat_interval_ticks() {
        again.extend(n.step(Input::Tick));
    }
    let requests = sends(&again);
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].to(), NodeId(3));
    assert!(is_pre_vote(requests[0]));
    assert_eq!(requests[0].term(), Term(3), "still the next term");
    assert!(persists(&again).is_empty());
    assert_eq!((n.role(), n.term()), (RoleKind::PreCandidate, Term(2)));
}
