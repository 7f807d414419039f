//! ReadIndex and the leader's no-op entry (thesis §6.4): a leader answers a read with its
//! commit index once an entry of its term has committed and a majority answered a
//! heartbeat round sent after the read was asked; reads share rounds; followers,
//! candidates and deposed leaders refuse. The router checks every answer: one per read,
//! at most the leader's commit index, at least what was committed anywhere when asked.

mod router;

use raft_core::bytes::Bytes;
use raft_core::{
    Action, AppendEntriesReply, Body, Config, Input, LogIndex, Message, NodeId, ReadError, Term,
};
use router::build::{append_of, message, sends, state};
use router::{ids, Applied, Router};

/// A cluster of `n` with the no-op entry, where n1 leads and has committed its no-op.
fn ready_cluster(n: u64) -> Router {
    let mut r = Router::with_builder(n, |b| b.no_op_on_election(true));
    r.elect(1);
    r.deliver_all();
    assert!(r.node(1).is_ready_for_reads());
    r
}

fn not_leader(hint: Option<u64>) -> Result<LogIndex, ReadError> {
    Err(ReadError::NotLeader {
        leader_hint: hint.map(NodeId),
    })
}

/// The round the AppendEntries among `actions` carry (all the same).
fn round_of_sends(actions: &[Action]) -> u64 {
    let rounds: Vec<u64> = sends(actions)
        .iter()
        .map(|m| append_of(m).round())
        .collect();
    assert!(!rounds.is_empty() && rounds.iter().all(|&r| r == rounds[0]));
    rounds[0]
}

#[test]
fn s6_4_no_op_on_election_commits_earlier_entries_at_once() {
    let configs = |no_op: bool| -> Vec<Config> {
        (1..=3)
            .map(|id| {
                Config::builder(NodeId(id), ids(3))
                    .seed(id)
                    .no_op_on_election(no_op)
                    .build()
                    .expect("valid")
            })
            .collect()
    };
    let states = || (0..3).map(|_| state(1, None, &[1, 1])).collect::<Vec<_>>();
    let mut with = Router::from_states(configs(true), states());
    with.tick_until_campaign(1);
    with.deliver_in_flight(); // the vote requests
    with.deliver_in_flight(); // the votes
    assert!(with.node(1).is_leader());
    let noop = with.node(1).entry(LogIndex(3)).expect("the no-op").clone();
    assert_eq!((noop.term(), noop.data().len()), (Term(2), 0));
    assert_eq!(
        with.persisted(1).last_index(),
        LogIndex(3),
        "durable at once"
    );
    let first_appends: Vec<_> = with
        .queue()
        .iter()
        .filter(|m| matches!(m.body(), Some(Body::AppendEntries(_))))
        .map(|m| append_of(m).entries().to_vec())
        .collect();
    assert_eq!(
        first_appends,
        [vec![noop.clone()], vec![noop]],
        "sent at once"
    );
    with.deliver_all();
    assert_eq!(with.node(1).commit_index(), LogIndex(3), "one round trip");
    let applied = &with.applied[&1];
    assert!(matches!(&applied[2], Applied::Entry(e) if e.data().is_empty()));

    let mut without = Router::from_states(configs(false), states());
    without.elect(1);
    without.deliver_all();
    assert_eq!(without.node(1).last_log_index(), LogIndex(2));
    assert_eq!(
        without.node(1).commit_index(),
        LogIndex(0),
        "waits for a proposal"
    );
}

#[test]
fn s6_4_read_costs_one_round_trip_sent_at_once() {
    let mut r = ready_cluster(3);
    r.propose(1, "x").expect("leader");
    r.deliver_all();
    let before = r.delivered.len();
    let actions = r.step(1, Input::ReadIndex { context: 7 });
    assert_eq!(
        sends(&actions).len(),
        2,
        "the round leaves without a heartbeat"
    );
    assert!(sends(&actions)
        .iter()
        .all(|m| append_of(m).entries().is_empty()));
    assert_eq!(r.read_answer(1, 7), None);
    r.deliver_all();
    assert_eq!(r.read_answer(1, 7), Some(Ok(LogIndex(2))));
    assert_eq!(r.delivered.len() - before, 4, "two requests, two answers");
}

#[test]
fn s6_4_reads_asked_while_a_round_is_in_flight_share_the_next_round() {
    let mut r = ready_cluster(3);
    let first = r.step(1, Input::ReadIndex { context: 1 });
    let round = round_of_sends(&first);
    for context in [2, 3, 4] {
        let actions = r.step(1, Input::ReadIndex { context });
        assert!(sends(&actions).is_empty(), "round {round} is in flight");
    }
    r.deliver_in_flight(); // the round's requests
    let answers = r.deliver_in_flight(); // their answers: the first confirms the round
    assert_eq!(answers, 2);
    assert_eq!(r.read_answer(1, 1), Some(Ok(LogIndex(1))));
    assert_eq!(r.read_answer(1, 2), None, "asked after round {round} left");
    let next: Vec<&Message> = r.queue().iter().collect();
    assert_eq!(next.len(), 2, "one round for the three waiting reads");
    assert!(next.iter().all(|m| append_of(m).round() == round + 1));
    r.deliver_all();
    for context in [2, 3, 4] {
        assert_eq!(r.read_answer(1, context), Some(Ok(LogIndex(1))));
    }
    assert_eq!(r.node(1).pending_reads(), 0);
}

#[test]
fn s6_4_read_waits_for_a_commit_of_the_leaders_term() {
    let mut r = Router::restored((0..3).map(|_| state(1, None, &[1, 1])).collect());
    r.elect(1);
    r.deliver_all();
    assert_eq!(r.node(1).commit_index(), LogIndex(0));
    assert!(!r.node(1).is_ready_for_reads());
    r.read(1, 5);
    r.tick_all(3 * 10);
    assert_eq!(
        r.read_answer(1, 5),
        None,
        "confirmed, but the commit index is unknown"
    );
    r.propose(1, "x").expect("leader");
    r.deliver_all();
    assert_eq!(r.read_answer(1, 5), Some(Ok(LogIndex(3))));
}

#[test]
fn s6_4_followers_and_candidates_refuse_reads_with_a_leader_hint() {
    let mut r = ready_cluster(3);
    assert_eq!(r.read(2, 1), [(1, not_leader(Some(1)))]);
    r.isolate(3);
    r.tick_until_campaign(3);
    assert_eq!(r.read(3, 2), [(2, not_leader(None))]);
}

#[test]
fn s6_4_leader_that_steps_down_refuses_its_pending_reads() {
    let mut r = ready_cluster(3);
    r.isolate(1);
    r.read(1, 9);
    r.read(1, 10);
    r.elect(2);
    r.heal();
    r.tick_all_until(|r| !r.node(1).is_leader());
    assert_eq!(r.read_answer(1, 9), Some(not_leader(Some(2))));
    assert_eq!(r.read_answer(1, 10), Some(not_leader(Some(2))));
    assert_eq!(r.node(1).pending_reads(), 0);
}

#[test]
fn s6_4_stale_leader_partitioned_away_never_confirms_a_read() {
    // No CheckQuorum: the old leader keeps leading its minority, and ReadIndex alone
    // must keep it from answering with a stale commit index.
    let mut r = Router::with_builder(5, |b| b.no_op_on_election(true));
    r.elect(1);
    r.deliver_all();
    r.partition(&[&[1, 2], &[3, 4, 5]]);
    r.read(1, 1);
    r.elect(3);
    r.propose(3, "new").expect("leader");
    r.tick_all(10 * 60);
    assert!(r.node(1).is_leader(), "it still believes it leads");
    assert_eq!(r.read_answer(1, 1), None, "never confirmed");
    r.read(3, 2);
    r.deliver_all();
    let fresh = r.read_answer(3, 2).expect("answered").expect("leader");
    assert!(fresh >= r.node(3).commit_index().min(LogIndex(3)));
    assert_eq!(
        r.node(3).entry(fresh).map(|e| e.data().clone()),
        Some(Bytes::from("new"))
    );
    r.heal();
    r.tick_all_until(|r| !r.node(1).is_leader());
    assert_eq!(r.read_answer(1, 1), Some(not_leader(Some(3))));
}

#[test]
fn s6_4_acks_of_rounds_sent_before_the_read_do_not_count() {
    let mut r = ready_cluster(3);
    let interval = r.config(1).heartbeat_interval_ticks();
    let mut heartbeat = Vec::new();
    for _ in 0..interval {
        heartbeat = r.tick(1);
    }
    let round = round_of_sends(&heartbeat);
    r.read(1, 1);
    // Answers claiming rounds not yet started come from no honest peer: ignored.
    let term = r.node(1).term().0;
    for from in [2, 3] {
        let forged = AppendEntriesReply::success(LogIndex(1)).with_round(round + 5);
        r.step(
            1,
            Input::Message(message(from, 1, term, Body::AppendEntriesReply(forged))),
        );
    }
    assert_eq!(r.read_answer(1, 1), None, "a forged round does not confirm");
    r.take_queue();
    // The heartbeat's own answers confirm its round, which left before the read.
    for from in [2, 3] {
        let answer = AppendEntriesReply::success(LogIndex(1)).with_round(round);
        r.step(
            1,
            Input::Message(message(from, 1, term, Body::AppendEntriesReply(answer))),
        );
    }
    assert_eq!(r.read_answer(1, 1), None);
    assert!(r.queue().iter().all(|m| append_of(m).round() == round + 1));
    assert_eq!(r.queue().len(), 2, "the read's own round started");
    r.deliver_all();
    assert_eq!(r.read_answer(1, 1), Some(Ok(LogIndex(1))));
}

#[test]
fn s6_4_single_node_answers_reads_at_once() {
    let mut r = Router::with_builder(1, |b| b.no_op_on_election(true));
    r.tick_until_campaign(1);
    assert_eq!(r.read(1, 4), [(4, Ok(LogIndex(1)))]);
}

/// A steady read load: every tick each node ticks, the leader is asked `per_tick` reads,
/// and the network moves every message one hop (a round trip takes two ticks). Returns
/// the messages per read beyond those of the same run without reads, and all messages
/// per read.
fn messages_per_read(n: u64, per_tick: u64, ticks: u64) -> (f64, f64) {
    let run = |reads: bool| {
        let mut r = ready_cluster(n);
        let start = r.delivered.len();
        let mut context = 0;
        for _ in 0..ticks {
            for id in r.ids() {
                r.tick(id);
            }
            for _ in 0..per_tick * u64::from(reads) {
                context += 1;
                r.read(1, context);
            }
            r.deliver_in_flight();
        }
        r.deliver_all();
        let answered = r.reads.iter().filter(|(_, _, o)| o.is_ok()).count() as u64;
        assert_eq!(answered, context, "every read answered");
        assert_eq!(r.leader(), Some(1));
        (r.delivered.len() - start) as f64
    };
    let reads = (per_tick * ticks) as f64;
    let (with, without) = (run(true), run(false));
    ((with - without) / reads, with / reads)
}

#[test]
fn s6_4_messages_per_read_under_load() {
    for n in [3, 5] {
        for per_tick in [1, 4, 16] {
            let (extra, all) = messages_per_read(n, per_tick, 500);
            println!("{n} nodes, {per_tick} reads per tick: {extra:.3} extra messages per read ({all:.3} with heartbeats)");
            // One round (a request and an answer per peer) per round trip of two ticks.
            let bound = (2 * (n - 1)) as f64 / (2 * per_tick) as f64;
            assert!(extra <= bound * 1.05, "{extra} > {bound}");
        }
    }
    // Unloaded, a read costs a round of its own: 2 (n - 1) messages.
    let mut r = ready_cluster(5);
    let before = r.delivered.len();
    r.read(1, 1);
    r.deliver_all();
    assert_eq!(r.delivered.len() - before, 8);
}

#[test]
fn s6_4_read_answer_comes_after_the_applies_of_its_step() {
    let mut r = ready_cluster(3);
    r.read(1, 3);
    // Proposed after the read was asked: its AppendEntries carry the read's round too.
    r.propose(1, "y").expect("leader");
    r.drop_where(|m| append_of(m).entries().is_empty());
    r.deliver_in_flight();
    let first_answer = r.queue()[0].clone();
    r.take_queue();
    let actions = r.step(1, Input::Message(first_answer));
    let applied_at = actions
        .iter()
        .position(|a| matches!(a, Action::Apply(_)))
        .expect("y commits in this step");
    let read_at = actions
        .iter()
        .position(|a| matches!(a, Action::Read { .. }))
        .expect("the same answer confirms the read");
    assert!(applied_at < read_at, "{actions:?}");
    assert_eq!(
        r.read_answer(1, 3),
        Some(Ok(LogIndex(1))),
        "the commit index when asked"
    );
}
