//! The KV server's promises, one test each: who answers what and when, exactly once
//! across retries and leader changes, limits, batching, no-op entries, halting on a
//! corrupt installed snapshot. These run the lab's mode (Gets through the log, no entry
//! on election), where every index is known; tests/reads.rs covers ReadIndex Gets.

mod cluster;

use cluster::fifo::{request, Fifo};
use cluster::{carries_entries, entry, id, install_snapshot, readdressed};
use kv_core::{
    ClientAddr, KvConfig, KvConfigBuilder, KvFatalError, KvRestoreError, Op, Outcome, ReadMode,
    Refusal, Reply, ServerAction, ServerInput, SnapshotDecodeError,
};
use raft_core::{LogIndex, PersistAction, PersistedState, Term};

fn put(key: &str, value: &str) -> Op {
    Op::Put {
        key: key.into(),
        value: value.into(),
    }
}

fn append(key: &str, value: &str) -> Op {
    Op::Append {
        key: key.into(),
        value: value.into(),
    }
}

fn get(key: &str) -> Op {
    Op::Get { key: key.into() }
}

fn ok(value: &str) -> Outcome {
    Outcome::Ok {
        value: value.into(),
    }
}

fn outcomes(replies: &[Reply]) -> Vec<Outcome> {
    replies.iter().map(|reply| reply.outcome.clone()).collect()
}

/// `n` servers in the lab's mode: Gets through the log and no entry on election.
fn log_fifo(n: usize, config: KvConfigBuilder) -> Fifo {
    let config = config.read_mode(ReadMode::Log).build().unwrap();
    Fifo::with_raft(n, config, |builder| builder.no_op_on_election(false))
}

/// Three servers, server 0 leading.
fn three() -> Fifo {
    let mut fifo = log_fifo(3, KvConfig::builder());
    fifo.elect(0);
    fifo
}

/// One heartbeat round, so followers learn the commit index.
fn heartbeat(fifo: &mut Fifo) {
    let interval = fifo
        .cluster
        .server(0)
        .node()
        .config()
        .heartbeat_interval_ticks();
    fifo.tick_all(interval as usize);
}

#[test]
fn a_follower_answers_wrong_leader_with_the_hint_at_once() {
    let mut fifo = three();
    let replies = fifo.request(1, ClientAddr(9), request(1, 1, put("k", "v")));
    assert_eq!(
        outcomes(&replies),
        vec![Outcome::WrongLeader {
            leader_hint: Some(id(0))
        }]
    );
    assert_eq!(
        fifo.replies[0].1,
        ClientAddr(9),
        "answered to the request's address"
    );
    assert!(fifo.queue().is_empty(), "a follower proposes nothing");
}

#[test]
fn the_leader_answers_when_the_entry_applies() {
    let mut fifo = three();
    let replies = fifo.request(0, ClientAddr(1), request(1, 1, put("k", "v")));
    assert!(
        replies.is_empty(),
        "no answer before a majority holds the entry"
    );
    assert_eq!(fifo.cluster.server(0).waiting_count(), 1);
    fifo.deliver_all();
    assert_eq!(
        outcomes(&fifo.replies.iter().map(|r| r.2.clone()).collect::<Vec<_>>()),
        vec![ok("")]
    );
    fifo.request(0, ClientAddr(1), request(1, 2, get("k")));
    fifo.deliver_all();
    assert_eq!(
        fifo.replies.last().map(|r| r.2.outcome.clone()),
        Some(ok("v"))
    );
    assert_eq!(fifo.cluster.server(0).waiting_count(), 0);
}

#[test]
fn waiting_clients_get_wrong_leader_in_the_step_the_term_moves_on() {
    let mut fifo = three();
    fifo.isolate(0);
    assert!(fifo
        .request(0, ClientAddr(1), request(1, 1, append("k", "a")))
        .is_empty());
    fifo.take_queue();
    fifo.elect(1);
    fifo.heal();
    // The new leader's heartbeat reaches the old one: in that very step it answers.
    let interval = fifo
        .cluster
        .server(1)
        .node()
        .config()
        .heartbeat_interval_ticks();
    for _ in 0..interval {
        fifo.step(1, ServerInput::Tick);
    }
    let to_old_leader: Vec<_> = fifo
        .take_queue()
        .into_iter()
        .filter(|message| message.to() == id(0))
        .collect();
    assert!(!to_old_leader.is_empty());
    let replies = fifo.step(0, ServerInput::Raft(to_old_leader[0].clone()));
    assert_eq!(
        outcomes(&replies),
        vec![Outcome::WrongLeader {
            leader_hint: Some(id(1))
        }]
    );
    // The retry at the new leader applies once.
    fifo.deliver_all();
    let replies = fifo.append(1, 1, 1, "k", "a");
    assert_eq!(outcomes(&replies), vec![ok("")]);
    heartbeat(&mut fifo);
    for i in 0..3 {
        assert_eq!(fifo.cluster.server(i).applied_value("k"), Some("a"));
    }
}

#[test]
fn waiting_clients_get_wrong_leader_when_another_entry_takes_their_index() {
    // Five servers: the old leader 0 waits for its entry at index 1, away from the others;
    // the new leader 1 commits another entry there (with 2 and 3, not 4).
    let mut fifo = log_fifo(5, KvConfig::builder());
    fifo.elect(0);
    fifo.isolate(0);
    fifo.request(0, ClientAddr(1), request(1, 1, append("k", "lost")));
    fifo.take_queue();
    fifo.cut_pair(1, 4);
    fifo.elect(1);
    assert_eq!(outcomes(&fifo.append(1, 2, 1, "k", "won")), vec![ok("")]);
    // When 4 comes back, the leader sends it index 1 with a commit index covering it;
    // the same message, reaching 0, replaces 0's entry and commits the new one.
    fifo.heal();
    fifo.isolate(0);
    let mut catch_up = None;
    for _ in 0..100 {
        fifo.step(1, ServerInput::Tick);
        loop {
            let in_flight = fifo.take_queue();
            if in_flight.is_empty() {
                break;
            }
            for message in in_flight {
                if message.to() == id(4) && carries_entries(&message) {
                    catch_up = Some(message.clone());
                }
                fifo.deliver(message);
            }
        }
        if catch_up.is_some() {
            break;
        }
    }
    let catch_up = catch_up.expect("the leader sends 4 the entries it lacks");
    fifo.heal();
    assert_eq!(fifo.cluster.server(0).applied_index(), LogIndex(0));
    let replies = fifo.step(0, ServerInput::Raft(readdressed(&catch_up, 0)));
    assert_eq!(
        outcomes(&replies),
        vec![Outcome::WrongLeader {
            leader_hint: Some(id(1))
        }]
    );
    assert_eq!(
        fifo.cluster.server(0).applied_index(),
        LogIndex(1),
        "applied in that step"
    );
    assert_eq!(fifo.cluster.server(0).applied_value("k"), Some("won"));
    assert_eq!(fifo.cluster.server(0).waiting_count(), 0);
}

#[test]
fn a_duplicate_is_not_applied_again_across_a_leader_change() {
    let mut fifo = three();
    // The leader commits and applies the append, but crashes before telling anyone.
    fifo.request(0, ClientAddr(1), request(1, 1, append("k", "a")));
    fifo.deliver_all();
    assert_eq!(fifo.cluster.server(0).applied_value("k"), Some("a"));
    assert_eq!(
        fifo.cluster.server(1).applied_value("k"),
        None,
        "not applied yet"
    );
    fifo.cluster.crash(0);
    fifo.elect(1);
    // The clerk retries with the same seq: the new leader logs it again, and applies
    // the first copy only.
    let replies = fifo.append(1, 1, 1, "k", "a");
    assert_eq!(outcomes(&replies), vec![ok("")]);
    assert_eq!(fifo.cluster.server(1).applied_value("k"), Some("a"));
    // A second retry is answered from the duplicate table at once.
    let replies = fifo.request(1, ClientAddr(1), request(1, 1, append("k", "a")));
    assert_eq!(outcomes(&replies), vec![ok("")]);
    fifo.cluster.restart(0).expect("restarts");
    fifo.deliver_all();
    heartbeat(&mut fifo);
    heartbeat(&mut fifo);
    for i in 0..3 {
        assert_eq!(fifo.cluster.server(i).applied_value("k"), Some("a"));
    }
    assert!(fifo.cluster.converged());
}

#[test]
fn a_retry_while_waiting_waits_for_the_same_entry() {
    let mut fifo = three();
    fifo.request(0, ClientAddr(1), request(1, 1, append("k", "a")));
    let last = fifo.cluster.server(0).node().last_log_index();
    fifo.request(0, ClientAddr(2), request(1, 1, append("k", "a")));
    assert_eq!(
        fifo.cluster.server(0).node().last_log_index(),
        last,
        "not appended twice"
    );
    fifo.deliver_all();
    assert_eq!(fifo.replies.len(), 1);
    assert_eq!(
        fifo.replies[0].1,
        ClientAddr(2),
        "answered at the latest address"
    );
    assert_eq!(fifo.cluster.server(0).applied_value("k"), Some("a"));
}

#[test]
fn a_stale_get_is_dropped_and_a_retried_get_reads_again() {
    let mut fifo = three();
    fifo.append(0, 1, 1, "k", "a");
    fifo.request(0, ClientAddr(1), request(1, 2, get("k")));
    fifo.deliver_all();
    assert_eq!(
        fifo.replies.last().map(|r| r.2.outcome.clone()),
        Some(ok("a"))
    );
    fifo.append(0, 2, 1, "k", "b");
    // A retry of Get #2 (its answer was lost) reads at its new position in the log.
    let before = fifo.replies.len();
    fifo.request(0, ClientAddr(1), request(1, 2, get("k")));
    fifo.deliver_all();
    assert_eq!(
        outcomes(
            &fifo.replies[before..]
                .iter()
                .map(|r| r.2.clone())
                .collect::<Vec<_>>()
        ),
        vec![ok("ab")]
    );
    // Once call #3 applied, a late copy of Get #2 gets no answer and no entry.
    fifo.append(0, 1, 3, "k", "c");
    let last = fifo.cluster.server(0).node().last_log_index();
    assert!(fifo
        .request(0, ClientAddr(1), request(1, 2, get("k")))
        .is_empty());
    assert_eq!(fifo.cluster.server(0).node().last_log_index(), last);
}

#[test]
fn requests_over_a_limit_are_refused_by_any_server() {
    let config = KvConfig::builder()
        .max_key_bytes(4)
        .max_value_bytes(8)
        .max_raft_state(Some(256));
    let mut fifo = log_fifo(3, config);
    fifo.elect(0);
    let cases = [
        (put("12345", "v"), Refusal::KeyTooLarge { bytes: 5, max: 4 }),
        (get("12345"), Refusal::KeyTooLarge { bytes: 5, max: 4 }),
        (
            append("k", "123456789"),
            Refusal::ValueTooLarge { bytes: 9, max: 8 },
        ),
    ];
    for server in [0, 1] {
        for (op, refusal) in cases.clone() {
            let replies = fifo.request(server, ClientAddr(1), request(1, 1, op));
            assert_eq!(outcomes(&replies), vec![Outcome::Refused(refusal)]);
        }
    }
    // A command above max_raft_state / 4 = 64 bytes, with key and value within limits.
    let config = KvConfig::builder().max_raft_state(Some(256));
    let mut fifo = log_fifo(3, config);
    fifo.elect(0);
    let big = request(1, 1, put("k", &"v".repeat(70)));
    let len = big.encoded_len() as u64;
    let replies = fifo.request(0, ClientAddr(1), big);
    assert_eq!(
        outcomes(&replies),
        vec![Outcome::Refused(Refusal::CommandTooLarge {
            bytes: len,
            max: 64
        })]
    );
    assert_eq!(
        fifo.cluster.server(0).node().last_log_index().0,
        0,
        "nothing logged"
    );
}

#[test]
fn requests_given_together_are_one_raft_batch() {
    let mut fifo = three();
    let batch = vec![
        (ClientAddr(1), request(1, 1, append("a", "1"))),
        (ClientAddr(2), request(2, 1, append("b", "2"))),
        (ClientAddr(3), request(3, 1, get("a"))),
        (ClientAddr(4), request(1, 1, append("a", "1"))), // a duplicate within the batch
    ];
    let actions = fifo_step_raw(&mut fifo, 0, ServerInput::Requests(batch));
    let appends: Vec<usize> = actions
        .iter()
        .filter_map(|action| match action {
            ServerAction::Persist(PersistAction::Append(entries)) => Some(entries.len()),
            _ => None,
        })
        .collect();
    assert_eq!(appends, vec![3], "one persisted append of three entries");
    fifo.deliver_all();
    let mut answered: Vec<(u64, Outcome)> = fifo
        .replies
        .iter()
        .map(|(_, to, reply)| (to.0, reply.outcome.clone()))
        .collect();
    answered.sort_by_key(|(to, _)| *to);
    assert_eq!(answered, vec![(2, ok("")), (3, ok("1")), (4, ok(""))]);
}

/// Steps server `i` through the cluster and returns its raw actions (the network part of
/// the step is dropped: the test inspects the actions and delivers nothing of them).
fn fifo_step_raw(fifo: &mut Fifo, i: usize, input: ServerInput) -> Vec<ServerAction> {
    let mut server = fifo.cluster.server(i).clone();
    let actions = server.step(input.clone());
    fifo.step(i, input);
    actions
}

#[test]
fn empty_and_undecodable_log_entries_apply_as_no_ops() {
    let mut fifo = log_fifo(3, KvConfig::builder());
    let valid = request(1, 1, put("k", "v")).to_bytes();
    let mut disk = PersistedState::new();
    let changes = [
        PersistAction::HardState {
            term: Term(1),
            voted_for: None,
        },
        PersistAction::Append(
            vec![
                entry(1, 1, b""),
                entry(2, 1, &[0xff, 0xff, 0xff]),
                entry(3, 1, &valid),
            ]
            .into(),
        ),
    ];
    for change in &changes {
        disk.apply(change).unwrap();
    }
    for i in 0..3 {
        fifo.cluster.set_persisted(i, disk.clone());
        fifo.cluster.restart(i).expect("restarts");
    }
    fifo.elect(0);
    fifo.append(0, 2, 1, "other", "x");
    heartbeat(&mut fifo);
    for i in 0..3 {
        let server = fifo.cluster.server(i);
        assert_eq!(server.applied_index(), LogIndex(4));
        assert_eq!(server.applied_value("k"), Some("v"));
        assert_eq!(server.key_count(), 2);
    }
    assert!(fifo.cluster.converged());
}

#[test]
fn a_corrupt_installed_snapshot_halts_the_server_with_a_typed_error() {
    let mut fifo = three();
    fifo.append(0, 1, 1, "k", "a");
    heartbeat(&mut fifo);
    let term = fifo.cluster.server(0).node().term();
    let forged = install_snapshot(0, 2, term, LogIndex(50), term, vec![0xff; 9].into());
    let replies = fifo.step(2, ServerInput::Raft(forged));
    assert!(replies.is_empty());
    let halted = fifo.cluster.server(2).halted().cloned();
    assert!(
        matches!(
            halted,
            Some(KvFatalError::InstalledSnapshot {
                index: LogIndex(50),
                error: SnapshotDecodeError::Protobuf(_)
            })
        ),
        "{halted:?}"
    );
    assert_eq!(fifo.cluster.halts.len(), 1);
    // It answers clients elsewhere and ignores Raft from now on.
    let replies = fifo.request(2, ClientAddr(1), request(1, 2, get("k")));
    assert_eq!(
        outcomes(&replies),
        vec![Outcome::WrongLeader { leader_hint: None }]
    );
    fifo.take_queue();
    fifo.step(2, ServerInput::Tick);
    assert!(fifo.queue().is_empty());
    // Its disk holds the corrupt snapshot: a restart refuses and says why.
    fifo.cluster.crash(2);
    let error = fifo.cluster.restart(2).expect_err("corrupt snapshot");
    assert!(matches!(
        error,
        KvRestoreError::Snapshot {
            index: LogIndex(50),
            error: SnapshotDecodeError::Protobuf(_)
        }
    ));
    // The other two go on.
    let replies = fifo.append(0, 1, 2, "k", "b");
    assert_eq!(outcomes(&replies), vec![ok("")]);
}

#[test]
fn a_server_without_apply_reports_answers_alike_and_computes_the_same_digest() {
    let mut reporting = three();
    let mut quiet = log_fifo(3, KvConfig::builder().report_applied(false));
    quiet.elect(0);
    let requests = [
        request(1, 1, put("k", "v")),
        request(2, 1, append("k", "w")),
        request(1, 2, append("other", "x")),
        request(2, 2, get("k")),
    ];
    for request in requests {
        let raw = fifo_step_raw(
            &mut quiet,
            0,
            ServerInput::Request {
                from: ClientAddr(1),
                request: request.clone(),
            },
        );
        assert!(raw.iter().all(|a| !matches!(a, ServerAction::Applied(_))));
        reporting.request(0, ClientAddr(1), request);
        reporting.deliver_all();
        quiet.deliver_all();
    }
    heartbeat(&mut reporting);
    heartbeat(&mut quiet);
    let answers = |fifo: &Fifo| -> Vec<Outcome> {
        outcomes(&fifo.replies.iter().map(|r| r.2.clone()).collect::<Vec<_>>())
    };
    assert_eq!(answers(&quiet), answers(&reporting));
    assert_eq!(answers(&quiet).last(), Some(&ok("vw")));
    for i in 0..3 {
        let (a, b) = (quiet.cluster.server(i), reporting.cluster.server(i));
        assert_eq!(a.applied_index(), b.applied_index(), "server {i}");
        assert_eq!(a.digest(), b.digest(), "server {i}");
        a.check_invariants().unwrap();
    }
}
