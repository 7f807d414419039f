//! Paper-mapped tests: one test per claim of §5.1–§5.3 of the extended Raft paper (terms,
//! leader election, log replication), each named after its section. §5.4 and Figure 8
//! live in `figure8.rs`.

mod router;

use raft_core::bytes::Bytes;
use raft_core::{
    Action, Body, Config, Input, LogIndex, Node, NodeId, PersistAction, PersistedState,
    ProposeError, RoleKind, Term,
};
use router::build::{
    append, append_of, append_ok, append_reply_of, entry, install_snapshot, is_granted, log_terms,
    node, only_send, persists, request_vote, sends, state, vote,
};
use router::{config, ids, Router};

fn msg(message: raft_core::Message) -> Input {
    Input::Message(message)
}

/// Ticks a lone node until it campaigns in a new term (a candidate asking silent peers
/// again is not a campaign); returns the number of ticks and that tick's actions.
fn tick_until_actions(node: &mut Node) -> (u32, Vec<Action>) {
    let term = node.term();
    for ticks in 1..=node.config().election_timeout_ticks_max() {
        let actions = node.step(Input::Tick);
        if node.term() != term {
            return (ticks, actions);
        }
    }
    panic!(
        "{} stayed silent past its largest election timeout",
        node.id()
    );
}

// §5.1 Raft basics: terms.

#[test]
fn s5_1_higher_term_makes_leader_step_down() {
    let mut r = Router::new(3);
    r.elect(1);
    let term = r.node(1).term();
    // n2 times out in a partition and comes back with a newer term.
    r.isolate(2);
    r.tick_until_campaign(2);
    r.heal();
    r.deliver_where(|m| m.from().0 == 2 && m.to().0 == 1);
    assert_eq!(r.node(1).role(), RoleKind::Follower);
    assert_eq!(r.node(1).term(), term.next());
    assert_eq!(
        r.persisted(1).term(),
        term.next(),
        "the new term is durable"
    );
}

#[test]
fn s5_1_higher_term_reply_makes_candidate_step_down() {
    let mut n = Node::new(config(1, 3));
    tick_until_actions(&mut n);
    assert_eq!(n.role(), RoleKind::Candidate);
    let actions = n.step(msg(vote(2, 1, 7, false)));
    assert_eq!(n.role(), RoleKind::Follower);
    assert_eq!(n.term(), Term(7));
    assert_eq!(n.voted_for(), None, "a new term starts without a vote");
    assert_eq!(
        persists(&actions),
        [&PersistAction::HardState {
            term: Term(7),
            voted_for: None
        }]
    );
}

#[test]
fn s5_1_stale_term_request_is_rejected() {
    let mut n = node(1, 3, 3, &[1, 2]);
    let stale_append = append(2, 1, 2, (2, 2), vec![entry(3, 2)], 3);
    let actions = n.step(msg(stale_append));
    let reply = only_send(&actions);
    assert_eq!(reply.term(), Term(3), "the answer carries the newer term");
    assert!(!append_reply_of(reply).is_success());
    assert!(persists(&actions).is_empty());
    assert_eq!(n.last_log_index(), LogIndex(2), "nothing stored");
    assert_eq!(n.commit_index(), LogIndex(0), "nothing committed");

    let actions = n.step(msg(request_vote(3, 1, 2, (9, 2))));
    let reply = only_send(&actions);
    assert_eq!(reply.term(), Term(3));
    assert!(!is_granted(reply));
    assert_eq!(n.voted_for(), None);

    assert!(
        n.step(msg(vote(2, 1, 2, true))).is_empty(),
        "a stale reply is dropped"
    );
    assert_eq!(n.term(), Term(3));
}

#[test]
fn s5_1_stale_leader_steps_down_and_loses_its_uncommitted_entry() {
    let mut r = Router::new(3);
    r.elect(1);
    r.isolate(1);
    r.propose(1, "lost").expect("n1 still thinks it leads");
    r.elect(2);
    r.propose(2, "kept").expect("n2 leads");
    r.deliver_all();
    r.heal();
    r.tick_all_until(|r| r.applied_data(1) == [Bytes::from("kept")]);
    assert_eq!(r.node(1).role(), RoleKind::Follower);
    assert_eq!(r.node(1).term(), r.node(2).term());
    assert_eq!(
        r.node(1).entry(LogIndex(1)).map(|e| &e.data()[..]),
        Some(&b"kept"[..])
    );
}

// §5.2 Leader election.

#[test]
fn s5_2_follower_starts_election_after_timeout() {
    let mut n = node(1, 3, 2, &[1, 2]);
    let (ticks, actions) = tick_until_actions(&mut n);
    let (min, max) = (
        n.config().election_timeout_ticks_min(),
        n.config().election_timeout_ticks_max(),
    );
    assert!(
        (min..=max).contains(&ticks),
        "campaigned after {ticks} ticks"
    );
    assert_eq!(n.role(), RoleKind::Candidate);
    assert_eq!(n.term(), Term(3));
    assert_eq!(
        actions[0],
        Action::Persist(PersistAction::HardState {
            term: Term(3),
            voted_for: Some(NodeId(1))
        }),
        "the vote for itself is durable before any request leaves"
    );
    let requests = sends(&actions);
    assert_eq!(requests.len(), 2);
    for (request, peer) in requests.iter().zip([2, 3]) {
        assert_eq!(request.to().0, peer);
        assert_eq!(request.term(), Term(3));
        assert_eq!(
            request.body(),
            Some(&Body::RequestVote(raft_core::RequestVote::vote(
                LogIndex(2),
                Term(2)
            )))
        );
    }
}

#[test]
fn s5_2_candidate_wins_with_majority() {
    let mut n = Node::new(config(1, 5));
    tick_until_actions(&mut n);
    n.step(msg(vote(2, 1, 1, true)));
    n.step(msg(vote(3, 1, 1, false)));
    assert_eq!(n.role(), RoleKind::Candidate, "2 of 5 is no majority");
    n.step(msg(vote(2, 1, 1, true)));
    assert_eq!(
        n.role(),
        RoleKind::Candidate,
        "a duplicate vote counts once"
    );
    let actions = n.step(msg(vote(4, 1, 1, true)));
    assert_eq!(n.role(), RoleKind::Leader, "3 of 5 wins");
    let heartbeats = sends(&actions);
    let targets: Vec<u64> = heartbeats.iter().map(|m| m.to().0).collect();
    assert_eq!(
        targets,
        [2, 3, 4, 5],
        "the new leader asserts itself at once"
    );
    for heartbeat in heartbeats {
        assert!(append_of(heartbeat).entries().is_empty());
    }
}

#[test]
fn s5_2_at_most_one_vote_per_term() {
    let mut n = Node::new(config(1, 3));
    let mut disk = PersistedState::new();
    let mut step = |n: &mut Node, input| {
        let actions = n.step(input);
        for change in persists(&actions) {
            disk.apply(change).expect("applies");
        }
        actions
    };
    let first = step(&mut n, msg(request_vote(2, 1, 1, (0, 0))));
    assert!(is_granted(only_send(&first)));
    assert!(matches!(first[0], Action::Persist(_)), "vote durable first");
    let second = step(&mut n, msg(request_vote(3, 1, 1, (5, 1))));
    assert!(!is_granted(only_send(&second)), "already voted for n2");
    let again = step(&mut n, msg(request_vote(2, 1, 1, (0, 0))));
    assert!(
        is_granted(only_send(&again)),
        "a retransmitted request is granted again"
    );
    assert!(persists(&again).is_empty());

    let mut restarted = Node::restore(config(1, 3), &disk).expect("restores");
    let after_restart = restarted.step(msg(request_vote(3, 1, 1, (5, 1))));
    assert!(
        !is_granted(only_send(&after_restart)),
        "the vote survives a crash"
    );
}

#[test]
fn s5_2_candidate_steps_down_on_leader_append() {
    let mut n = Node::new(config(1, 3));
    tick_until_actions(&mut n);
    tick_until_actions(&mut n);
    assert_eq!((n.role(), n.term()), (RoleKind::Candidate, Term(2)));
    let stale = n.step(msg(append(2, 1, 1, (0, 0), vec![], 0)));
    assert!(!append_reply_of(only_send(&stale)).is_success());
    assert_eq!(
        n.role(),
        RoleKind::Candidate,
        "a stale leader changes nothing"
    );

    let actions = n.step(msg(append(2, 1, 2, (0, 0), vec![entry(1, 2)], 0)));
    assert_eq!(n.role(), RoleKind::Follower);
    assert_eq!(n.term(), Term(2));
    assert_eq!(n.leader_hint(), Some(NodeId(2)));
    assert_eq!(n.voted_for(), Some(NodeId(1)), "the vote of the term stays");
    let reply = append_reply_of(only_send(&actions));
    assert!(reply.is_success());
    assert_eq!(reply.match_index().0, 1);
}

#[test]
fn s5_2_candidate_asks_silent_peers_again_every_heartbeat() {
    let mut n = Node::new(config(1, 5));
    tick_until_actions(&mut n);
    n.step(msg(vote(2, 1, 1, false)));
    n.step(msg(vote(3, 1, 1, true)));
    let mut again = Vec::new();
    for _ in 0..n.config().heartbeat_interval_ticks() {
        again.extend(n.step(Input::Tick));
    }
    assert!(persists(&again).is_empty(), "the vote is already durable");
    let targets: Vec<u64> = sends(&again).iter().map(|m| m.to().0).collect();
    assert_eq!(targets, [4, 5], "only the peers that did not answer");
    for request in sends(&again) {
        assert_eq!(request.term(), Term(1));
        assert_eq!(
            request.body(),
            Some(&Body::RequestVote(raft_core::RequestVote::vote(
                LogIndex(0),
                Term(0)
            )))
        );
    }
    n.step(msg(vote(5, 1, 1, true)));
    assert_eq!(n.role(), RoleKind::Leader, "a repeated request still wins");
}

#[test]
fn s5_2_split_vote_times_out_and_retries() {
    let mut r = Router::new(4);
    r.tick_until_campaign(1);
    r.tick_until_campaign(2);
    // n4 hears n2 first; n3 hears n1 first: two votes each, three needed.
    r.deliver_where(|m| m.from().0 == 2 && m.to().0 == 4);
    r.deliver_all();
    for id in [1, 2] {
        assert_eq!(r.node(id).role(), RoleKind::Candidate);
        assert_eq!(r.node(id).term(), Term(1));
    }
    assert_eq!(r.leader(), None);
    let ticks = r.tick_until_campaign(1);
    let config = r.node(1).config().clone();
    assert!(ticks >= config.election_timeout_ticks_min());
    assert!(ticks <= config.election_timeout_ticks_max());
    assert_eq!(r.node(1).term(), Term(2), "the retry is in a new term");
    r.deliver_all();
    assert_eq!(r.leader(), Some(1));
}

/// The ticks between successive campaigns of a lone node, and every action it took.
fn campaign_gaps(seed: u64, elections: usize) -> (Vec<u32>, Vec<Action>) {
    let config = Config::builder(NodeId(1), ids(3))
        .seed(seed)
        .build()
        .expect("valid");
    let mut n = Node::new(config);
    let (mut gaps, mut all) = (Vec::new(), Vec::new());
    while gaps.len() < elections {
        let (ticks, actions) = tick_until_actions(&mut n);
        gaps.push(ticks);
        all.extend(actions);
    }
    (gaps, all)
}

#[test]
fn s5_2_election_timeouts_are_randomized_and_seeded() {
    let (gaps, actions) = campaign_gaps(7, 20);
    assert_eq!(
        campaign_gaps(7, 20),
        (gaps.clone(), actions),
        "same seed, same run"
    );
    let (other_gaps, _) = campaign_gaps(8, 20);
    assert_ne!(gaps, other_gaps, "another seed draws other timeouts");
    let defaults = config(1, 3);
    let range = defaults.election_timeout_ticks_min()..=defaults.election_timeout_ticks_max();
    assert!(gaps
        .iter()
        .chain(&other_gaps)
        .all(|gap| range.contains(gap)));
    let distinct: std::collections::BTreeSet<_> = gaps.iter().collect();
    assert!(
        distinct.len() > 5,
        "each election draws a fresh timeout: {gaps:?}"
    );
}

#[test]
fn s5_2_leader_sends_heartbeats_at_the_configured_interval() {
    let mut r = Router::with_builder(3, |b| b.heartbeat_interval_ticks(7));
    r.elect(1);
    let mut heartbeat_ticks = Vec::new();
    for tick in 1..=70u32 {
        let actions = r.tick(1);
        let sent = sends(&actions);
        if !sent.is_empty() {
            heartbeat_ticks.push(tick);
            let targets: Vec<u64> = sent.iter().map(|m| m.to().0).collect();
            assert_eq!(targets, [2, 3]);
            assert!(sent.iter().all(|m| append_of(m).entries().is_empty()));
        }
        r.deliver_all();
    }
    assert_eq!(heartbeat_ticks, [7, 14, 21, 28, 35, 42, 49, 56, 63, 70]);
}

#[test]
fn s5_2_heartbeats_keep_followers_from_campaigning() {
    let mut r = Router::new(3);
    r.elect(1);
    let term = r.node(1).term();
    r.tick_all(10 * 60);
    assert_eq!(r.leader(), Some(1));
    assert!(r.ids().iter().all(|&id| r.node(id).term() == term));
}

// §5.3 Log replication.

#[test]
fn s5_3_leader_replicates_proposal_immediately() {
    let mut r = Router::new(3);
    r.elect(1);
    let actions = r.step(1, Input::Propose(Bytes::from("x")));
    let persisted_at = actions
        .iter()
        .position(|a| matches!(a, Action::Persist(PersistAction::Append(_))))
        .expect("the entry is persisted");
    let first_send = actions
        .iter()
        .position(|a| matches!(a, Action::Send(_)))
        .expect("the entry is sent in the same step");
    assert!(persisted_at < first_send);
    let appends = sends(&actions);
    assert_eq!(appends.len(), 2);
    for append in appends {
        assert_eq!(
            append_of(append).entries().to_vec(),
            [raft_core::Entry::new(
                LogIndex(1),
                Term(1),
                Bytes::from("x")
            )]
        );
    }
    let proposed = router::proposal_outcome(&actions).expect("accepted");
    assert_eq!(
        (proposed.index, proposed.term, proposed.count),
        (LogIndex(1), Term(1), 1)
    );
    r.deliver_all();
    assert_eq!(r.node(1).commit_index(), LogIndex(1));
    assert_eq!(r.applied_data(1), [Bytes::from("x")]);
}

#[test]
fn s5_3_batch_proposal_is_one_persist_and_one_append_per_peer() {
    let mut r = Router::new(3);
    r.elect(1);
    let batch = vec![Bytes::from("a"), Bytes::from("b"), Bytes::from("c")];
    let actions = r.step(1, Input::ProposeBatch(batch));
    assert_eq!(persists(&actions).len(), 1);
    let appends = sends(&actions);
    assert_eq!(appends.len(), 2);
    assert!(appends.iter().all(|m| append_of(m).entries().len() == 3));
    let proposed = router::proposal_outcome(&actions).expect("accepted");
    assert_eq!((proposed.index, proposed.count), (LogIndex(1), 3));
    let empty = r.step(1, Input::ProposeBatch(Vec::new()));
    assert_eq!(
        router::proposal_outcome(&empty),
        Err(ProposeError::EmptyBatch)
    );
}

#[test]
fn s5_3_proposal_at_follower_is_refused_with_leader_hint() {
    let mut r = Router::new(3);
    r.elect(1);
    assert_eq!(
        r.propose(2, "x"),
        Err(ProposeError::NotLeader {
            leader_hint: Some(NodeId(1))
        })
    );
    assert_eq!(r.node(2).last_log_index(), LogIndex(0));
}

#[test]
fn s5_3_entry_commits_once_a_majority_stores_it() {
    let mut r = Router::new(5);
    r.elect(1);
    r.isolate(4);
    r.isolate(5);
    r.propose(1, "three of five").expect("leader");
    r.deliver_all();
    assert_eq!(r.node(1).commit_index(), LogIndex(1));
    r.isolate(3);
    r.propose(1, "two of five").expect("leader");
    r.deliver_all();
    assert_eq!(
        r.node(1).commit_index(),
        LogIndex(1),
        "a minority cannot commit"
    );
    assert_eq!(r.node(2).last_log_index(), LogIndex(2));
    // Followers learn the commit index from the next AppendEntries.
    r.tick_all_until(|r| r.node(2).applied_index() == LogIndex(1));
    assert_eq!(r.applied_data(2), [Bytes::from("three of five")]);
}

#[test]
fn s5_3_log_matching_consistency_check_rejects() {
    let mut n = node(2, 3, 3, &[1, 1]);
    // The follower holds index 2, but of term 1, not 2.
    let actions = n.step(msg(append(1, 2, 3, (2, 2), vec![entry(3, 3)], 0)));
    let reply = append_reply_of(only_send(&actions)).clone();
    assert!(!reply.is_success());
    assert_eq!(
        (
            reply.rejected_index().0,
            reply.conflict_term().0,
            reply.conflict_index().0
        ),
        (2, 1, 1)
    );
    // The follower's log is too short for index 5.
    let actions = n.step(msg(append(1, 2, 3, (5, 3), vec![entry(6, 3)], 0)));
    let reply = append_reply_of(only_send(&actions)).clone();
    assert!(!reply.is_success());
    assert_eq!(
        (
            reply.rejected_index().0,
            reply.conflict_term().0,
            reply.conflict_index().0
        ),
        (5, 0, 3)
    );
    assert!(persists(&actions).is_empty());
    assert_eq!(log_terms(&n), [1, 1], "a rejected append stores nothing");
}

#[test]
fn s5_3_follower_conflicting_entries_are_truncated() {
    let mut n = node(2, 3, 3, &[1, 1, 2, 2]);
    let actions = n.step(msg(append(1, 2, 3, (2, 1), vec![entry(3, 3)], 0)));
    assert_eq!(
        persists(&actions),
        [
            &PersistAction::TruncateFrom(LogIndex(3)),
            &PersistAction::Append(vec![entry(3, 3)].into())
        ]
    );
    assert!(
        matches!(actions.last(), Some(Action::Send(_))),
        "reply after persisting"
    );
    let reply = append_reply_of(only_send(&actions));
    assert!(reply.is_success());
    assert_eq!(reply.match_index().0, 3);
    assert_eq!(log_terms(&n), [1, 1, 3]);
}

#[test]
fn s5_3_follower_keeps_its_entries_on_a_delayed_append() {
    let mut n = node(2, 3, 1, &[1, 1, 1, 1]);
    let actions = n.step(msg(append(1, 2, 1, (1, 1), vec![entry(2, 1)], 0)));
    assert!(
        persists(&actions).is_empty(),
        "nothing to truncate or append"
    );
    assert_eq!(append_reply_of(only_send(&actions)).match_index().0, 2);
    assert_eq!(log_terms(&n), [1, 1, 1, 1]);
}

/// Elects n1 (log `leader`) over n2 (log `follower`) with n3 away, and counts the
/// AppendEntries n2 rejects before n1 finds where their logs match.
fn backup_rejections(leader: &[u64], follower: &[u64]) -> usize {
    let leader_term = *leader.last().expect("non-empty");
    let follower_term = follower.last().copied().unwrap_or(0);
    let mut r = Router::restored(vec![
        state(leader_term, None, leader),
        state(follower_term, None, follower),
        state(0, None, &[]),
    ]);
    r.isolate(3);
    r.elect(1);
    r.deliver_all();
    assert_eq!(log_terms(r.node(2)), leader, "the follower converged");
    r.delivered
        .iter()
        .filter(|m| m.from().0 == 2 && m.to().0 == 1)
        .filter(
            |m| matches!(m.body(), Some(Body::AppendEntriesReply(reply)) if !reply.is_success()),
        )
        .count()
}

#[test]
fn s5_3_fast_backup_skips_a_term_per_round_trip() {
    // The leader lacks both of the follower's terms: one rejection per term, where a
    // one-entry-at-a-time backup would take eleven.
    let leader = [1, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4];
    let follower = [1, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3];
    assert_eq!(backup_rejections(&leader, &follower), 2);
    // The leader holds the follower's conflicting term: it resumes after its own last
    // entry of that term.
    assert_eq!(
        backup_rejections(&[1, 1, 2, 2, 4, 4], &[1, 1, 2, 2, 2, 2, 2, 2, 3, 3]),
        1
    );
    // The follower's log is too short: it says where it ends.
    assert_eq!(backup_rejections(&[1, 1, 1, 1, 1, 1, 1, 1, 2], &[1]), 1);
}

#[test]
fn s5_3_follower_caps_commit_at_its_last_entry() {
    let mut n = node(2, 3, 1, &[1, 1]);
    let actions = n.step(msg(append(1, 2, 1, (2, 1), vec![], 10)));
    assert_eq!(n.commit_index(), LogIndex(2), "capped at the last entry");
    let applied: Vec<LogIndex> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Apply(raft_core::Apply::Entries(entries)) => {
                Some(entries.iter().map(|e| e.index()))
            }
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(applied, [LogIndex(1), LogIndex(2)]);
    n.step(msg(append(1, 2, 1, (2, 1), vec![entry(3, 1)], 1000)));
    assert_eq!(n.commit_index(), LogIndex(3));
}

#[test]
fn s5_3_follower_commits_only_what_the_append_proved() {
    // Index 3 (term 2) may not be the leader's entry 3: a heartbeat that only proved
    // index 1 must not commit it, whatever the leader's commit index.
    let mut n = node(2, 3, 3, &[1, 1, 2]);
    n.step(msg(append(1, 2, 3, (1, 1), vec![], 3)));
    assert_eq!(n.commit_index(), LogIndex(1));
}

#[test]
fn s5_3_several_entries_per_append_capped_by_max_message_bytes() {
    // 150 bytes: 88 of header bound leave room for three 10-byte entries (18 bytes each
    // inside the message) but not four.
    const LIMIT: usize = 150;
    let mut r = Router::with_builder(3, |b| b.max_message_bytes(LIMIT));
    r.elect(1);
    r.isolate(3);
    for byte in b'a'..b'a' + 10 {
        r.propose(1, vec![byte; 10]).expect("leader");
    }
    r.propose(1, vec![b'z'; 50]).expect("leader");
    r.deliver_all();
    assert_eq!(
        r.node(1).commit_index(),
        LogIndex(11),
        "n1 and n2 are a majority"
    );
    r.heal();
    r.delivered.clear();
    r.tick_all_until(|r| r.node(3).last_log_index() == LogIndex(11));
    let to_n3: Vec<_> = r
        .delivered
        .iter()
        .filter(|m| m.to().0 == 3 && matches!(m.body(), Some(Body::AppendEntries(_))))
        .filter(|m| !append_of(m).entries().is_empty())
        .collect();
    for message in &to_n3 {
        assert!(
            message.encoded_len_bytes() <= LIMIT,
            "{} bytes: {}",
            message.encoded_len_bytes(),
            message.summary()
        );
    }
    let batches: Vec<_> = to_n3.iter().map(|m| append_of(m).entries()).collect();
    assert!(
        batches.iter().any(|entries| entries.len() == 3),
        "batches fill the budget"
    );
    assert!(batches.iter().all(|entries| entries.len() <= 3));
    assert!(
        batches
            .iter()
            .any(|entries| entries.len() == 1
                && entries.first().is_some_and(|e| e.data().len() == 50))
    );
    assert!(
        batches.len() <= 5,
        "catch-up takes few messages: {}",
        batches.len()
    );
}

// Robustness: bad input is ignored, never a panic.

#[test]
fn messages_naming_unknown_nodes_are_ignored() {
    let mut n = node(1, 3, 2, &[1, 2]);
    let strangers = [
        append(9, 1, 5, (2, 2), vec![entry(3, 5)], 3),
        request_vote(9, 1, 5, (9, 5)),
        append(2, 7, 5, (2, 2), vec![], 3),
        request_vote(1, 1, 5, (9, 5)),
        request_vote(0, 1, 5, (9, 5)),
        vote(4, 1, 5, true),
    ];
    for stranger in strangers {
        assert!(n.step(msg(stranger)).is_empty());
    }
    assert_eq!((n.term(), n.last_log_index()), (Term(2), LogIndex(2)));

    let mut r = Router::new(3);
    r.elect(1);
    r.propose(1, "x").expect("leader");
    let term = r.node(1).term().0;
    assert!(r.step(1, msg(append_ok(9, 1, term, 1))).is_empty());
    assert_eq!(r.node(1).commit_index(), LogIndex(0));
}

#[test]
fn messages_with_absurd_terms_or_indexes_are_ignored() {
    let mut n = node(2, 3, 1, &[1]);
    let absurd = [
        append(1, 2, 1, (u64::MAX, 1), vec![entry(0, 1)], 0),
        install_snapshot(1, 2, 1, (u64::MAX, 1), "everything"),
        append(1, 2, u64::MAX, (1, 1), vec![], 1),
        request_vote(3, 2, 2, (u64::MAX, 1)),
    ];
    for message in absurd {
        assert!(n.step(msg(message)).is_empty());
    }
    assert_eq!(
        (n.term(), n.snapshot_index(), n.last_log_index()),
        (Term(1), LogIndex(0), LogIndex(1))
    );
    // The node still works: it takes a sane append and campaigns when the leader is gone.
    n.step(msg(append(1, 2, 1, (1, 1), vec![entry(2, 1)], 2)));
    assert_eq!(n.commit_index(), LogIndex(2));
    tick_until_actions(&mut n);
    assert_eq!((n.role(), n.term()), (RoleKind::Candidate, Term(2)));
}

#[test]
fn single_node_cluster_commits_alone() {
    let mut r = Router::new(1);
    r.tick_until_campaign(1);
    assert!(r.node(1).is_leader());
    let actions = r.step(1, Input::Propose(Bytes::from("solo")));
    assert!(sends(&actions).is_empty());
    assert_eq!(
        r.applied_data(1),
        [Bytes::from("solo")],
        "applied in the same step"
    );
}

#[test]
fn s5_5_crashed_follower_catches_up_after_restart() {
    let mut r = Router::new(3);
    r.elect(1);
    r.crash(3);
    for command in ["a", "b", "c"] {
        r.propose(1, command).expect("leader");
    }
    r.deliver_all();
    r.restart(3);
    r.tick_all_until(|r| r.node(3).applied_index() == LogIndex(3));
    assert_eq!(r.applied_data(3), r.applied_data(1));
}
