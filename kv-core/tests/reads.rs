//! Gets through ReadIndex (the default read mode): answered without a log entry after
//! one round of heartbeats, refused by followers, never answered by a leader that lost
//! its majority, and sharing rounds.

mod cluster;

use cluster::fifo::{request, Fifo};
use cluster::id;
use kv_core::{ClientAddr, KvConfig, Op, Outcome};

fn get(key: &str) -> Op {
    Op::Get { key: key.into() }
}

/// Three servers with CheckQuorum, server 0 leading, "k" = "v" committed everywhere.
fn three() -> Fifo {
    let mut fifo = Fifo::with_raft(3, KvConfig::default(), |b| b.check_quorum(true));
    fifo.elect(0);
    fifo.append(0, 1, 1, "k", "v");
    fifo
}

#[test]
fn a_get_is_answered_after_one_round_without_a_log_entry() {
    let mut fifo = three();
    let last = fifo.cluster.server(0).node().last_log_index();
    let replies = fifo.request(0, ClientAddr(2), request(2, 1, get("k")));
    assert!(replies.is_empty(), "no answer before a majority confirms");
    assert_eq!(fifo.cluster.server(0).pending_reads(), 1);
    assert_eq!(
        fifo.queue().len(),
        2,
        "one heartbeat to each follower, at once"
    );
    fifo.deliver_all();
    let answer = fifo.replies.last().expect("answered").2.clone();
    assert_eq!(answer.outcome, Outcome::Ok { value: "v".into() });
    assert_eq!(
        fifo.cluster.server(0).node().last_log_index(),
        last,
        "no log entry"
    );
    assert_eq!(fifo.cluster.server(0).pending_reads(), 0);
}

#[test]
fn a_follower_refuses_a_get_with_the_leader_hint() {
    let mut fifo = three();
    let replies = fifo.request(1, ClientAddr(2), request(2, 1, get("k")));
    assert_eq!(
        replies[0].outcome,
        Outcome::WrongLeader {
            leader_hint: Some(id(0))
        }
    );
}

#[test]
fn a_leader_cut_off_never_answers_and_refuses_when_it_steps_down() {
    let mut fifo = three();
    fifo.isolate(0);
    let replies = fifo.request(0, ClientAddr(2), request(2, 1, get("k")));
    assert!(replies.is_empty());
    fifo.deliver_all();
    assert!(fifo.replies.iter().all(|(_, to, _)| *to != ClientAddr(2)));
    // CheckQuorum: after an election timeout without a majority, it steps down.
    let timeout = fifo
        .cluster
        .server(0)
        .node()
        .config()
        .election_timeout_ticks_max();
    for _ in 0..=timeout {
        fifo.step(0, kv_core::ServerInput::Tick);
    }
    assert!(!fifo.cluster.server(0).node().is_leader());
    let refused: Vec<_> = fifo
        .replies
        .iter()
        .filter(|(_, to, _)| *to == ClientAddr(2))
        .collect();
    assert_eq!(refused.len(), 1);
    assert!(matches!(refused[0].2.outcome, Outcome::WrongLeader { .. }));
    assert_eq!(fifo.cluster.server(0).pending_reads(), 0);
}

#[test]
fn gets_asked_together_share_one_round() {
    let mut fifo = three();
    let batch = (2..6)
        .map(|client| (ClientAddr(client), request(client, 1, get("k"))))
        .collect();
    fifo.step(0, kv_core::ServerInput::Requests(batch));
    assert_eq!(fifo.queue().len(), 2, "four reads, one round");
    fifo.deliver_all();
    let answered = fifo
        .replies
        .iter()
        .filter(|(_, to, reply)| to.0 >= 2 && reply.outcome == Outcome::Ok { value: "v".into() })
        .count();
    assert_eq!(answered, 4);
}

#[test]
fn a_retried_get_is_asked_once_and_answered_at_the_latest_address() {
    let mut fifo = three();
    fifo.request(0, ClientAddr(2), request(2, 1, get("k")));
    fifo.request(0, ClientAddr(3), request(2, 1, get("k")));
    assert_eq!(fifo.cluster.server(0).pending_reads(), 1);
    fifo.deliver_all();
    let to: Vec<ClientAddr> = fifo
        .replies
        .iter()
        .filter(|(_, _, reply)| reply.client.0 == 2)
        .map(|(_, to, _)| *to)
        .collect();
    assert_eq!(to, vec![ClientAddr(3)]);
}

#[test]
fn a_leader_without_the_raft_no_op_appends_one_for_its_first_read() {
    let mut fifo = Fifo::with_raft(3, KvConfig::default(), |b| b.no_op_on_election(false));
    fifo.elect(0);
    let leader = fifo.cluster.server(0).node();
    let (term, last) = (leader.term(), leader.last_log_index());
    assert!(leader.last_log_term() < term, "nothing of this term yet");
    fifo.request(0, ClientAddr(2), request(2, 1, get("k")));
    fifo.deliver_all();
    let answer = fifo
        .replies
        .last()
        .expect("a Get alone is answered")
        .2
        .clone();
    assert_eq!(answer.outcome, Outcome::Ok { value: "".into() });
    let leader = fifo.cluster.server(0).node();
    assert_eq!(leader.last_log_index(), last.next(), "one empty entry");
    assert_eq!(leader.last_log_term(), term);
    // Later reads of the term need no entry.
    fifo.request(0, ClientAddr(2), request(2, 2, get("k")));
    fifo.deliver_all();
    assert_eq!(
        fifo.replies.last().expect("answered").2.seq,
        kv_core::Seq(2)
    );
    assert_eq!(fifo.cluster.server(0).node().last_log_index(), last.next());
}
