//! Log compaction (§7) edge cases: service snapshots at, past and before the applied
//! index; InstallSnapshot older than the commit index, over a conflicting or a matching
//! entry; restart from snapshot plus log; a leader falling back to InstallSnapshot; apply
//! ordering around a snapshot; and the raft state size leaving the snapshot bytes out.

mod router;

use raft_core::bytes::Bytes;
use raft_core::{
    Action, Apply, Body, Input, LogIndex, Message, PersistAction, SnapshotError, Term,
};
use router::build::{append, entry, install_snapshot, log_terms, node, only_send, persists, state};
use router::{Applied, Router};

fn msg(message: Message) -> Input {
    Input::Message(message)
}

/// A three-node cluster where n1 leads and every node applied `commands` entries.
fn cluster_with_applied(commands: u64) -> Router {
    let mut r = Router::new(3);
    r.elect(1);
    for k in 1..=commands {
        r.propose(1, format!("cmd{k}")).expect("leader");
    }
    r.deliver_all();
    r.tick_all_until(|r| {
        r.ids()
            .iter()
            .all(|&id| r.node(id).applied_index().0 == commands)
    });
    r
}

/// n1 leads and has compacted its log through index 6, which n3 (cut off until now)
/// never received; the network is healed and nothing has been delivered yet.
fn cluster_needing_snapshot_at_6() -> Router {
    let mut r = cluster_with_applied(2);
    r.isolate(3);
    for k in 3..=6 {
        r.propose(1, format!("cmd{k}")).expect("leader");
    }
    r.deliver_all();
    assert_eq!(r.snapshot(1, 6), Ok(LogIndex(6)));
    r.heal();
    r.delivered.clear();
    r
}

fn is_install(message: &Message) -> bool {
    matches!(message.body(), Some(Body::InstallSnapshot(_)))
}

/// What `message` says in its InstallSnapshotReply.
fn snapshot_reply_index(message: &Message) -> u64 {
    match message.body() {
        Some(Body::InstallSnapshotReply(reply)) => reply.last_included_index().0,
        other => panic!("expected an InstallSnapshotReply, got {other:?}"),
    }
}

/// Checks that after each snapshot a service installed, the next entry it was handed
/// comes right after the snapshot's index.
fn assert_nothing_covered_applied_after_snapshot(applied: &[Applied]) {
    let mut floor = LogIndex(0);
    for apply in applied {
        match apply {
            Applied::Snapshot { index, .. } => floor = *index,
            Applied::Entry(entry) => {
                assert!(
                    entry.index() > floor,
                    "{} applied after snapshot {floor}",
                    entry.index()
                );
                floor = entry.index();
            }
        }
    }
}

#[test]
fn service_snapshot_at_the_applied_index_is_taken() {
    let mut r = cluster_with_applied(5);
    let before = r.persisted(1).raft_state_size();
    assert_eq!(
        r.snapshot(1, 5),
        Ok(LogIndex(5)),
        "at the commit and applied index"
    );
    assert_eq!(r.node(1).snapshot_index(), LogIndex(5));
    assert_eq!(r.node(1).commit_index(), LogIndex(5));
    assert_eq!(r.persisted(1).snapshot_index(), LogIndex(5));
    assert_eq!(r.persisted(1).snapshot_term(), Term(1));
    assert!(r.persisted(1).entries().is_empty());
    assert!(r.persisted(1).raft_state_size() < before);
    assert_eq!(r.snapshot(2, 3), Ok(LogIndex(3)), "below the applied index");
    assert_eq!(log_terms(r.node(2)), [1, 1], "entries 4 and 5 stay");
    // The cluster goes on as before.
    r.propose(1, "after").expect("leader");
    r.tick_all_until(|r| {
        r.ids()
            .iter()
            .all(|&id| r.node(id).applied_index() == LogIndex(6))
    });
}

#[test]
fn service_snapshot_past_the_applied_index_is_refused() {
    let mut r = cluster_with_applied(3);
    r.isolate(1);
    r.propose(1, "uncommitted").expect("leader");
    r.deliver_all();
    let actions = r.step(
        1,
        Input::Snapshot {
            index: LogIndex(4),
            data: Bytes::from("too far"),
        },
    );
    assert_eq!(
        actions,
        [Action::Snapshot(Err(SnapshotError::NotApplied {
            index: LogIndex(4),
            applied: LogIndex(3)
        }))],
        "refused, and nothing persisted"
    );
    assert_eq!(r.node(1).snapshot_index(), LogIndex(0));
    assert_eq!(
        r.snapshot(1, 9),
        Err(SnapshotError::NotApplied {
            index: LogIndex(9),
            applied: LogIndex(3)
        })
    );
}

#[test]
fn stale_service_snapshot_is_refused() {
    let mut r = cluster_with_applied(5);
    assert_eq!(r.snapshot(1, 4), Ok(LogIndex(4)));
    for index in [4, 2] {
        assert_eq!(
            r.snapshot(1, index),
            Err(SnapshotError::Stale {
                index: LogIndex(index),
                current: LogIndex(4)
            })
        );
    }
    assert_eq!(r.persisted(1).snapshot_index(), LogIndex(4));
    assert!(matches!(r.snapshot(1, 0), Err(SnapshotError::Stale { .. })));
}

#[test]
fn install_snapshot_older_than_the_commit_index_is_harmless() {
    let mut n = node(2, 3, 1, &[1, 1, 1, 1]);
    n.step(msg(append(1, 2, 1, (4, 1), vec![], 4)));
    assert_eq!(n.commit_index(), LogIndex(4));
    let actions = n.step(msg(install_snapshot(1, 2, 1, (2, 1), "old")));
    assert!(persists(&actions).is_empty(), "nothing to install");
    assert!(!actions.iter().any(|a| matches!(a, Action::Apply(_))));
    assert_eq!(snapshot_reply_index(only_send(&actions)), 2);
    assert_eq!(n.commit_index(), LogIndex(4), "commit never moves back");
    assert_eq!(n.applied_index(), LogIndex(4));
    assert_eq!(
        (n.snapshot_index(), log_terms(&n)),
        (LogIndex(0), vec![1, 1, 1, 1])
    );
}

#[test]
fn install_snapshot_over_a_conflicting_entry_discards_the_log() {
    // Index 4 holds term 2 here, but term 3 in the snapshot: the whole log goes.
    let mut n = node(2, 3, 3, &[1, 1, 2, 2, 2]);
    let actions = n.step(msg(install_snapshot(1, 2, 3, (4, 3), "up to 4")));
    assert_eq!(
        persists(&actions),
        [&PersistAction::Snapshot {
            index: LogIndex(4),
            term: Term(3),
            data: Bytes::from("up to 4")
        }]
    );
    assert!(actions.contains(&Action::Apply(Apply::Snapshot {
        index: LogIndex(4),
        term: Term(3),
        data: Bytes::from("up to 4")
    })));
    assert_eq!(snapshot_reply_index(only_send(&actions)), 4);
    assert_eq!(
        n.last_log_index(),
        LogIndex(4),
        "the conflicting entry 5 is gone too"
    );
    assert_eq!(n.term_at(LogIndex(4)), Some(Term(3)));
    // The leader's next AppendEntries (prev = the snapshot) is accepted: no livelock.
    let actions = n.step(msg(append(1, 2, 3, (4, 3), vec![entry(5, 3)], 5)));
    let reply = router::build::append_reply_of(only_send(&actions));
    assert!(reply.is_success());
    assert_eq!(n.commit_index(), LogIndex(5));
}

#[test]
fn install_snapshot_over_a_matching_entry_keeps_the_suffix() {
    let mut n = node(2, 3, 2, &[1, 1, 2, 2, 2]);
    let actions = n.step(msg(install_snapshot(1, 2, 2, (3, 2), "up to 3")));
    assert_eq!(snapshot_reply_index(only_send(&actions)), 3);
    assert_eq!(n.snapshot_index(), LogIndex(3));
    assert_eq!(log_terms(&n), [2, 2], "entries 4 and 5 stay");
    assert_eq!(
        (n.commit_index(), n.applied_index()),
        (LogIndex(3), LogIndex(3))
    );
    let actions = n.step(msg(append(1, 2, 2, (5, 2), vec![], 5)));
    let applied: Vec<u64> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Apply(Apply::Entries(entries)) => Some(entries.iter().map(|e| e.index().0)),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(applied, [4, 5], "the kept entries apply after the snapshot");
}

#[test]
fn follower_with_a_conflicting_entry_at_the_snapshot_index_catches_up() {
    // cf. hashicorp/raft#697: n3 holds term-2 entries the others never had.
    let mut r = Router::restored(vec![
        state(3, None, &[1, 1, 3, 3, 3]),
        state(3, None, &[1, 1, 3, 3, 3]),
        state(2, None, &[1, 1, 2, 2, 2, 2]),
    ]);
    r.isolate(3);
    r.elect(1);
    r.propose(1, "x").expect("leader");
    r.deliver_all();
    assert_eq!(r.node(1).applied_index(), LogIndex(6));
    assert_eq!(
        r.snapshot(1, 6),
        Ok(LogIndex(6)),
        "n3 holds index 6 with term 2"
    );
    r.heal();
    r.delivered.clear();
    r.tick_all_until(|r| r.node(3).snapshot_index() == LogIndex(6));
    r.propose(1, "y").expect("leader");
    r.tick_all_until(|r| r.node(3).applied_index() == LogIndex(7));
    let installs = r.delivered.iter().filter(|m| is_install(m)).count();
    assert_eq!(installs, 1, "one snapshot, then plain appends");
    assert_eq!(
        r.node(3).term_at(LogIndex(7)),
        r.node(1).term_at(LogIndex(7))
    );
    assert_eq!(
        r.applied_data(3),
        [Bytes::from("y")],
        "entries after the snapshot"
    );
    assert!(matches!(
        r.applied[&3][0],
        Applied::Snapshot {
            index: LogIndex(6),
            ..
        }
    ));
}

#[test]
fn restart_from_snapshot_and_log_reapplies_later_entries() {
    let mut r = cluster_with_applied(6);
    assert_eq!(r.snapshot(2, 4), Ok(LogIndex(4)));
    for command in ["cmd7", "cmd8"] {
        r.propose(1, command).expect("leader");
    }
    r.tick_all_until(|r| r.node(2).applied_index() == LogIndex(8));
    r.crash(2);
    r.restart(2);
    assert_eq!(
        r.node(2).commit_index(),
        LogIndex(4),
        "commit restarts at the snapshot"
    );
    assert_eq!(r.node(2).applied_index(), LogIndex(4));
    assert_eq!(
        r.node(2).last_log_index(),
        LogIndex(8),
        "the log after it is kept"
    );
    let applied_before = r.applied[&2].len();
    r.tick_all_until(|r| r.node(2).applied_index() == LogIndex(8));
    let again: Vec<u64> = r.applied[&2][applied_before..]
        .iter()
        .map(|a| match a {
            Applied::Entry(e) => e.index().0,
            Applied::Snapshot { .. } => panic!("no snapshot needed"),
        })
        .collect();
    assert_eq!(
        again,
        [5, 6, 7, 8],
        "entries after the snapshot apply again, in order"
    );
}

#[test]
fn leader_sends_snapshot_to_a_follower_behind_its_first_index() {
    let mut r = cluster_with_applied(2);
    r.isolate(3);
    for k in 3..=10 {
        r.propose(1, format!("cmd{k}")).expect("leader");
    }
    r.deliver_all();
    assert_eq!(r.node(1).applied_index(), LogIndex(10));
    assert_eq!(r.snapshot(1, 9), Ok(LogIndex(9)));
    r.heal();
    r.delivered.clear();
    r.tick_all_until(|r| r.node(3).applied_index() == LogIndex(10));
    let install = r
        .delivered
        .iter()
        .find(|m| is_install(m))
        .expect("an InstallSnapshot");
    assert_eq!(install.to().0, 3);
    let snapshot_applies: Vec<_> = r.applied[&3]
        .iter()
        .filter_map(|a| match a {
            Applied::Snapshot { index, .. } => Some(*index),
            Applied::Entry(_) => None,
        })
        .collect();
    assert_eq!(snapshot_applies, [LogIndex(9)]);
    assert_eq!(r.applied_data(3).last(), Some(&Bytes::from("cmd10")));
    assert_nothing_covered_applied_after_snapshot(&r.applied[&3]);
}

#[test]
fn lost_install_snapshot_is_sent_again() {
    let mut r = cluster_needing_snapshot_at_6();
    let mut lost = 0;
    for _ in 0..10_000 {
        if lost == 0 {
            lost += r.drop_where(is_install);
        }
        if !r.deliver_one() {
            for id in r.ids() {
                r.tick(id);
            }
        }
        if r.node(3).snapshot_index() == LogIndex(6) {
            break;
        }
    }
    assert_eq!(lost, 1, "the first InstallSnapshot was lost");
    assert_eq!(r.node(3).snapshot_index(), LogIndex(6), "a second one came");
    assert!(r.delivered.iter().any(is_install));
}

#[test]
fn a_slow_install_snapshot_reply_costs_no_second_snapshot() {
    let mut r = cluster_needing_snapshot_at_6();
    // Every InstallSnapshotReply is held back for good, as if the network delayed it.
    let is_install_reply = |m: &Message| matches!(m.body(), Some(Body::InstallSnapshotReply(_)));
    let heartbeat = u64::from(r.config(1).heartbeat_interval_ticks());
    let patience = u64::from(raft_core::SNAPSHOT_PATIENCE_HEARTBEATS);
    // More heartbeats than the leader's patience: the snapshot goes out once, and the
    // heartbeat probe at the snapshot index, before the patience runs out, tells the
    // leader it was installed.
    for _ in 0..heartbeat * (patience + 3) {
        r.drop_where(is_install_reply);
        r.deliver_all();
        r.tick(1);
    }
    r.drop_where(is_install_reply);
    r.deliver_all();
    let installs = r.delivered.iter().filter(|m| is_install(m)).count();
    assert_eq!(installs, 1, "one InstallSnapshot while its reply is slow");
    assert_eq!(r.node(3).snapshot_index(), LogIndex(6));
    assert_eq!(
        r.node(3).last_log_index(),
        r.node(1).last_log_index(),
        "caught up"
    );
}

#[test]
fn no_entry_at_or_below_a_snapshot_is_applied_after_it() {
    // n3 lags with committed entries it has not applied past its log; the snapshot it
    // installs covers them, so they never come as entries after it.
    let mut r = cluster_with_applied(3);
    r.isolate(3);
    for k in 4..=8 {
        r.propose(1, format!("cmd{k}")).expect("leader");
    }
    r.deliver_all();
    r.tick_all_until(|r| r.node(2).applied_index() == LogIndex(8));
    assert_eq!(r.snapshot(1, 7), Ok(LogIndex(7)));
    assert_eq!(r.snapshot(2, 8), Ok(LogIndex(8)));
    r.heal();
    r.propose(1, "cmd9").expect("leader");
    r.tick_all_until(|r| {
        r.ids()
            .iter()
            .all(|&id| r.node(id).applied_index() == LogIndex(9))
    });
    for id in r.ids() {
        assert_nothing_covered_applied_after_snapshot(&r.applied[&id]);
    }
    let applied_by_3: Vec<String> = r.applied[&3]
        .iter()
        .map(|a| match a {
            Applied::Entry(e) => format!("e{}", e.index().0),
            Applied::Snapshot { index, .. } => format!("s{}", index.0),
        })
        .collect();
    assert_eq!(applied_by_3, ["e1", "e2", "e3", "s7", "e8", "e9"]);
}

#[test]
fn raft_state_size_excludes_the_snapshot_bytes() {
    let mut r = cluster_with_applied(4);
    let before = r.persisted(1).raft_state_size();
    let data = Bytes::from(vec![7u8; 10_000]);
    let actions = r.step(
        1,
        Input::Snapshot {
            index: LogIndex(4),
            data: data.clone(),
        },
    );
    assert!(actions.contains(&Action::Snapshot(Ok(LogIndex(4)))));
    let persisted = r.persisted(1);
    assert_eq!(persisted.snapshot_data(), &data);
    assert!(
        persisted.raft_state_size() < before,
        "compaction shrinks the raft state"
    );
    assert!(
        persisted.raft_state_size() < 100,
        "{} bytes",
        persisted.raft_state_size()
    );
    assert_eq!(
        persisted.raft_state_size(),
        persisted.encode_raft_state().len()
    );
    assert_eq!(r.node(1).raft_state_size(), persisted.raft_state_size());
}
