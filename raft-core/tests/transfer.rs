//! Leadership transfer (thesis §3.10): the leader stops taking proposals, brings the
//! target up to date, then sends it a TimeoutNow; the target campaigns at once, without
//! pre-vote, with a vote request voters do not ignore under CheckQuorum's lease. The
//! leader gives up after an election timeout.

mod router;

use raft_core::{Body, Input, LogIndex, Message, NodeId, ProposeError, RoleKind, TransferError};
use router::build::sends;
use router::Router;

fn is_timeout_now(message: &Message) -> bool {
    matches!(message.body(), Some(Body::TimeoutNow(_)))
}

/// A pre-vote cluster of `n` with CheckQuorum, where n1 leads and everyone holds `commands`.
fn cluster(n: u64, commands: u64) -> Router {
    let mut r = Router::with_builder(n, |b| b.pre_vote(true).check_quorum(true));
    r.elect(1);
    for k in 1..=commands {
        r.propose(1, format!("cmd{k}")).expect("leader");
    }
    r.deliver_all();
    r
}

#[test]
fn s3_10_up_to_date_target_is_told_at_once_and_wins_the_next_term() {
    let mut r = cluster(3, 2);
    let term = r.node(1).term();
    assert_eq!(r.transfer(1, 2), Ok(NodeId(2)));
    let told: Vec<&Message> = r.queue().iter().filter(|m| is_timeout_now(m)).collect();
    assert_eq!(told.len(), 1);
    assert_eq!(told[0].to(), NodeId(2));
    assert_eq!(r.node(1).transfer_target(), Some(NodeId(2)));
    r.deliver_one();
    // The target campaigns at once: a real, transfer-marked vote request, no pre-vote.
    assert_eq!(r.node(2).role(), RoleKind::Candidate);
    let requests: Vec<_> = r
        .queue()
        .iter()
        .filter_map(|m| match m.body() {
            Some(Body::RequestVote(request)) => Some(request.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(requests.len(), 2);
    assert!(requests
        .iter()
        .all(|rv| rv.is_transfer() && !rv.is_pre_vote()));
    r.deliver_all();
    assert_eq!(r.leader(), Some(2));
    assert_eq!(r.node(2).term(), term.next());
    assert_eq!(r.node(1).role(), RoleKind::Follower);
    assert_eq!(r.node(1).transfer_target(), None);
    r.propose(2, "after")
        .expect("the new leader takes proposals");
    r.tick_all_until(|r| r.node(1).applied_index() == LogIndex(3));
}

#[test]
fn s3_10_proposals_are_refused_while_transferring() {
    let mut r = cluster(3, 1);
    r.cut(1, 2);
    r.propose(1, "lagging").expect("leader");
    r.deliver_all();
    assert_eq!(r.transfer(1, 2), Ok(NodeId(2)));
    assert_eq!(
        r.propose(1, "refused"),
        Err(ProposeError::Transferring { target: NodeId(2) })
    );
    let batch = r.step(1, Input::ProposeBatch(vec!["a".into()]));
    assert_eq!(
        router::proposal_outcome(&batch),
        Err(ProposeError::Transferring { target: NodeId(2) })
    );
    assert_eq!(
        r.transfer(1, 2),
        Ok(NodeId(2)),
        "asking again changes nothing"
    );
}

#[test]
fn s3_10_leader_gives_up_after_an_election_timeout() {
    let mut r = cluster(3, 1);
    r.isolate(2);
    let term = r.node(1).term();
    assert_eq!(r.transfer(1, 2), Ok(NodeId(2)));
    let patience = r.config(1).election_timeout_ticks_min();
    for _ in 0..patience - 1 {
        r.tick(1);
        r.deliver_all();
    }
    assert_eq!(r.node(1).transfer_target(), Some(NodeId(2)));
    r.tick(1);
    assert_eq!(r.node(1).transfer_target(), None, "given up");
    assert!(r.node(1).is_leader());
    assert_eq!(r.node(1).term(), term);
    r.propose(1, "taken again").expect("proposals resume");
    assert_eq!(r.transfer(1, 3), Ok(NodeId(3)), "a new transfer may start");
}

#[test]
fn s3_10_lagging_target_is_caught_up_before_it_is_told() {
    let mut r = cluster(3, 1);
    r.isolate(3);
    for k in 0..5 {
        r.propose(1, format!("missed{k}")).expect("leader");
    }
    r.deliver_all();
    r.heal();
    r.delivered.clear();
    assert_eq!(r.transfer(1, 3), Ok(NodeId(3)));
    r.tick_all_until(|r| r.leader() == Some(3));
    let told_at = r.delivered.iter().position(is_timeout_now).expect("told");
    let caught_up_at = r
        .delivered
        .iter()
        .position(|m| {
            m.from().0 == 3
                && matches!(m.body(), Some(Body::AppendEntriesReply(reply))
                    if reply.is_success() && reply.match_index() == LogIndex(6))
        })
        .expect("n3 caught up");
    assert!(
        caught_up_at < told_at,
        "told only once it held the whole log"
    );
    assert_eq!(r.node(3).last_log_index(), LogIndex(6));
}

#[test]
fn s3_10_lost_timeout_now_is_sent_again_at_the_next_heartbeat() {
    let mut r = cluster(3, 1);
    r.transfer(1, 2).expect("started");
    assert_eq!(r.drop_where(is_timeout_now), 1);
    let mut resent = false;
    for _ in 0..r.config(1).heartbeat_interval_ticks() {
        resent |= sends(&r.tick(1)).iter().any(|m| is_timeout_now(m));
    }
    assert!(resent);
    r.deliver_all();
    assert_eq!(r.leader(), Some(2));
}

#[test]
fn s3_10_bad_transfers_are_refused() {
    let mut r = cluster(3, 0);
    assert_eq!(r.transfer(1, 1), Err(TransferError::ToSelf));
    assert_eq!(r.transfer(1, 9), Err(TransferError::NotVoter(NodeId(9))));
    assert_eq!(r.transfer(1, 0), Err(TransferError::NotVoter(NodeId(0))));
    assert_eq!(
        r.transfer(2, 3),
        Err(TransferError::NotLeader {
            leader_hint: Some(NodeId(1))
        })
    );
    r.cut(1, 2);
    r.propose(1, "x").expect("leader");
    r.transfer(1, 2).expect("started");
    assert_eq!(
        r.transfer(1, 3),
        Err(TransferError::InProgress { target: NodeId(2) })
    );
    assert!(r.node(1).is_leader(), "refusals change nothing");
}

#[test]
fn s3_10_followers_under_the_lease_vote_for_the_target() {
    // With CheckQuorum every follower heard from n1 just now, and would ignore any other
    // vote request of a later term.
    let mut r = cluster(5, 1);
    r.tick_all(5);
    r.transfer(1, 4).expect("started");
    r.deliver_all();
    assert_eq!(r.leader(), Some(4));
}
