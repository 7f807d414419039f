//! Paper-mapped tests of §5.4 (safety): the election restriction (§5.4.1), the rule that a
//! leader commits only entries of its own term by counting replicas (§5.4.2), and the
//! Figure 8 scenario end to end.

mod router;

use raft_core::bytes::Bytes;
use raft_core::{Body, Input, LogIndex, NodeId, PersistAction, RoleKind, Term};
use router::build::{append_of, is_granted, node, only_send, persists, request_vote, sends};
use router::Router;

#[test]
fn s5_4_1_election_restriction_refuses_stale_log() {
    // The voter's log ends at index 3, term 2.
    let cases = [
        ((5, 1), false, "older last term, however long"),
        ((2, 2), false, "same last term, shorter"),
        ((3, 2), true, "same last term and length"),
        ((4, 2), true, "same last term, longer"),
        ((1, 3), true, "newer last term, however short"),
    ];
    for (last, granted, why) in cases {
        let mut voter = node(1, 3, 2, &[1, 1, 2]);
        let actions = voter.step(Input::Message(request_vote(2, 1, 3, last)));
        assert_eq!(is_granted(only_send(&actions)), granted, "{why}");
        assert_eq!(voter.term(), Term(3), "the term is adopted either way");
        let vote = granted.then_some(NodeId(2));
        assert_eq!(voter.voted_for(), vote);
        assert_eq!(
            persists(&actions).last(),
            Some(&&PersistAction::HardState {
                term: Term(3),
                voted_for: vote
            })
        );
    }
}

#[test]
fn s5_4_1_node_missing_a_committed_entry_cannot_win() {
    let mut r = Router::new(3);
    r.elect(1);
    r.isolate(3);
    r.propose(1, "committed").expect("leader");
    r.deliver_all();
    assert_eq!(r.node(1).commit_index(), LogIndex(1));
    r.crash(1);
    r.heal();
    for _ in 0..3 {
        r.tick_until_campaign(3);
        r.deliver_all();
        assert_ne!(
            r.node(3).role(),
            RoleKind::Leader,
            "n2 refuses the stale log"
        );
    }
    r.elect(2);
    r.propose(2, "next").expect("leader");
    r.deliver_all();
    r.tick_all_until(|r| r.node(3).applied_index() == LogIndex(2));
    assert_eq!(
        r.applied_data(3),
        [Bytes::from("committed"), Bytes::from("next")]
    );
}

/// Lets node `id` alone campaign until it wins (a few terms at most).
fn campaign_until_leader(r: &mut Router, id: u64) {
    for _ in 0..4 {
        r.tick_until_campaign(id);
        r.deliver_all();
        if r.node(id).is_leader() {
            return;
        }
    }
    panic!("n{id} did not win within four terms");
}

/// Figure 8 (a)–(c) in a five-node cluster. Returns the router with S1 leading a later
/// term, holding its old-term entry at index 2 on a majority (S1, S2, S3), S4 cut off
/// and S5 down with a conflicting entry at index 2 from the term in between.
fn figure8_up_to_c() -> Router {
    let mut r = Router::new(5);
    r.elect(1);
    r.propose(1, "a").expect("leader");
    r.deliver_all();
    // (a) S1 replicates "b" at index 2 to S2 only.
    r.partition(&[&[1, 2], &[3, 4, 5]]);
    r.propose(1, "b").expect("leader");
    r.deliver_all();
    assert_eq!(r.node(2).last_log_index(), LogIndex(2));
    // (b) S1 crashes; S5 wins the next term with S3 and S4 and takes "c" at index 2 alone.
    r.crash(1);
    r.elect(5);
    r.isolate(5);
    r.propose(5, "c").expect("leader");
    r.deliver_all(); // lost on the cut links
    r.crash(5);
    let term_of_c = r.persisted(5).entries()[1].term();
    // (c) S1 restarts and wins a later term with S2 and S3 (S4 is cut off).
    r.heal();
    r.isolate(4);
    r.restart(1);
    campaign_until_leader(&mut r, 1);
    assert!(r.node(1).term() > term_of_c);
    for id in [1, 2, 3] {
        assert_eq!(
            r.node(id).entry(LogIndex(2)).map(|e| &e.data()[..]),
            Some(&b"b"[..])
        );
    }
    r
}

#[test]
fn s5_4_2_leader_does_not_commit_old_term_entry_by_counting() {
    let mut r = figure8_up_to_c();
    // A majority holds "b", but it is from an older term: S1 must not commit it.
    assert!(r.node(1).commit_index() < LogIndex(2));
    for _ in 0..30 {
        let actions = r.tick(1);
        for heartbeat in sends(&actions) {
            assert!(append_of(heartbeat).leader_commit().0 < 2);
        }
        r.deliver_all();
    }
    assert!(r.node(1).commit_index() < LogIndex(2));
    assert!([2, 3]
        .iter()
        .all(|&id| r.node(id).commit_index() < LogIndex(2)));
    // (d) Why: S1 crashes, S5 comes back and wins with S2, S3 and S4 (its last term is
    // newer), and replaces "b" everywhere. Had "b" been committed, the router's state
    // machine safety check would fail here.
    r.crash(1);
    r.heal();
    r.restart(5);
    campaign_until_leader(&mut r, 5);
    r.propose(5, "d").expect("leader");
    r.tick_all_until(|r| {
        [2, 3, 4, 5]
            .iter()
            .all(|&id| r.node(id).applied_index() >= LogIndex(3))
    });
    let expected = [Bytes::from("a"), Bytes::from("c"), Bytes::from("d")];
    for id in [2, 3, 4] {
        assert_eq!(r.applied_data(id)[..], expected[..], "n{id}");
    }
}

#[test]
fn figure8_committed_entry_survives() {
    let mut r = figure8_up_to_c();
    // (e) S1 replicates an entry of its own term to a majority: that commits "b" too.
    let proposed = r.propose(1, "e").expect("leader");
    assert_eq!(proposed.index, LogIndex(3));
    r.deliver_all();
    assert_eq!(r.node(1).commit_index(), LogIndex(3));
    // (S1 applied "a" before its crash, and again after its restart.)
    assert!(r
        .applied_data(1)
        .ends_with(&["a", "b", "e"].map(Bytes::from)));
    // S1 crashes, S5 comes back: its last term is older than S2's and S3's, so it can
    // gather at most its own vote and S4's.
    r.crash(1);
    r.heal();
    r.restart(5);
    for _ in 0..3 {
        r.tick_until_campaign(5);
        r.deliver_all();
        assert_ne!(r.node(5).role(), RoleKind::Leader);
    }
    r.tick_all_until(|r| r.leader().is_some());
    let leader = r.leader().expect("a leader");
    assert!(
        [2, 3].contains(&leader),
        "only a node holding index 3 can win"
    );
    r.propose(leader, "f").expect("leader");
    r.tick_all_until(|r| {
        [2, 3, 4, 5]
            .iter()
            .all(|&id| r.node(id).applied_index() >= LogIndex(4))
    });
    let expected = ["a", "b", "e", "f"].map(Bytes::from);
    for id in [2, 3, 4, 5] {
        assert_eq!(r.applied_data(id)[..], expected[..], "n{id}");
    }
    let rewritten = r.node(5).entry(LogIndex(2)).expect("held");
    assert_eq!(
        &rewritten.data()[..],
        b"b",
        "S5's conflicting entry was replaced"
    );
}

#[test]
fn s5_4_2_leader_commit_is_carried_to_followers() {
    let mut r = Router::new(3);
    r.elect(1);
    r.propose(1, "x").expect("leader");
    r.deliver_all();
    let rounds = r.tick_all_until(|r| r.node(3).commit_index() == LogIndex(1));
    assert!(
        rounds > 0,
        "the commit index travels with the next AppendEntries"
    );
    let carried = r.delivered.iter().any(|m| {
        m.to().0 == 3
            && matches!(m.body(), Some(Body::AppendEntries(a)) if a.leader_commit().0 == 1)
    });
    assert!(carried);
}
