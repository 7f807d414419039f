//! Snapshots (the KV part of part 3B): the raft state stays within 2 × max_raft_state
//! after every step (the cluster checks it on each one), a small state gives a small
//! snapshot, restart restores the map and the duplicate table, a lagging follower catches
//! up through InstallSnapshot, a stale one changes nothing, waiting clients covered by an
//! installed snapshot are sent elsewhere, corrupt snapshots are typed errors.

mod cluster;

use cluster::fifo::{request, Fifo};
use cluster::{id, install_snapshot, is_install_snapshot, readdressed};
use kv_core::{
    ClientAddr, KvConfig, KvRestoreError, KvServer, Op, Outcome, ServerAction, ServerInput,
    SnapshotDecodeError,
};
use raft_core::{Config, LogIndex, NodeId, PersistAction, PersistedState, Term};

fn config(max_raft_state: usize) -> KvConfig {
    KvConfig::builder()
        .max_raft_state(Some(max_raft_state))
        .build()
        .unwrap()
}

fn ok() -> Outcome {
    Outcome::Ok {
        value: String::new(),
    }
}

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
fn snapshots_bound_the_raft_state_and_restart_restores_map_and_duplicate_table() {
    let mut fifo = Fifo::new(3, config(1000));
    fifo.elect(0);
    for seq in 1..=300u64 {
        let client = seq % 7;
        let value = format!("x {client} {seq} y");
        let replies = fifo.append(0, client, seq, &format!("k{}", seq % 5), &value);
        assert_eq!(replies.last().map(|r| r.outcome.clone()), Some(ok()));
    }
    heartbeat(&mut fifo);
    assert!(
        fifo.cluster.snapshots_persisted >= 3 * 10,
        "every server snapshotted often"
    );
    assert!(fifo.cluster.max_raft_state_seen <= 2000);
    let before: Vec<_> = (0..3).map(|i| fifo.cluster.server(i).digest()).collect();
    let values: Vec<_> = (0..5)
        .map(|k| {
            fifo.cluster
                .server(0)
                .applied_value(&format!("k{k}"))
                .map(String::from)
        })
        .collect();
    for i in 0..3 {
        assert!(fifo.cluster.persisted(i).snapshot_index() > LogIndex(200));
        fifo.cluster.crash(i);
    }
    for i in 0..3 {
        fifo.cluster.restart(i).expect("restarts from its snapshot");
        let server = fifo.cluster.server(i);
        assert_eq!(
            server.applied_index(),
            fifo.cluster.persisted(i).snapshot_index()
        );
        assert!(server.client_count() == 7, "the duplicate table came back");
    }
    fifo.elect(1);
    // A retry of an old call is still a duplicate after the restart.
    // Client 6 made calls 293 and 300: a late copy of Get 293 is stale and dropped.
    let stale_get = request(6, 293, Op::Get { key: "k0".into() });
    assert!(fifo.request(1, ClientAddr(1), stale_get).is_empty());
    let old_append = Op::Append {
        key: "k1".into(),
        value: "again".into(),
    };
    let replies = fifo.request(1, ClientAddr(1), request(1, 1, old_append));
    assert_eq!(
        replies
            .iter()
            .map(|r| r.outcome.clone())
            .collect::<Vec<_>>(),
        vec![ok()]
    );
    fifo.append(1, 99, 1, "fresh", "v");
    heartbeat(&mut fifo);
    for (i, digest_before) in before.iter().enumerate() {
        let server = fifo.cluster.server(i);
        for (k, value) in values.iter().enumerate() {
            assert_eq!(
                server.applied_value(&format!("k{k}")).map(String::from),
                *value
            );
        }
        assert_ne!(
            server.digest(),
            *digest_before,
            "the fresh write changed the state"
        );
    }
    assert!(fifo.cluster.converged());
}

#[test]
fn kv_snapshot_size_800_ops_on_one_key_stay_small() {
    // The lab's TestSnapshotSize3B: maxraftstate 1000, snapshot at most 500 bytes.
    let mut fifo = Fifo::new(3, config(1000));
    fifo.elect(0);
    let mut seq = 0;
    for _ in 0..200 {
        for value in ["0", "1"] {
            seq += 1;
            let op = Op::Put {
                key: "x".into(),
                value: value.into(),
            };
            fifo.request(0, ClientAddr(1), request(1, seq, op));
            fifo.deliver_all();
            seq += 1;
            fifo.request(
                0,
                ClientAddr(1),
                request(1, seq, Op::Get { key: "x".into() }),
            );
            fifo.deliver_all();
            let last = fifo.replies.last().map(|r| r.2.outcome.clone());
            assert_eq!(
                last,
                Some(Outcome::Ok {
                    value: value.into()
                })
            );
        }
    }
    heartbeat(&mut fifo);
    assert!(fifo.cluster.snapshots_persisted > 0);
    assert!(
        fifo.cluster.max_snapshot_seen <= 500,
        "snapshot of {} bytes",
        fifo.cluster.max_snapshot_seen
    );
    assert!(fifo.cluster.max_raft_state_seen <= 2000);
    for i in 0..3 {
        assert!(fifo.cluster.persisted(i).raft_state_size() <= 2000);
    }
}

/// A cluster where follower 2 missed enough that the leader must send it a snapshot;
/// returns the InstallSnapshot messages the leader sent it while it caught up.
fn lagging_follower() -> (Fifo, Vec<raft_core::Message>) {
    let mut fifo = Fifo::new(3, config(256));
    fifo.elect(0);
    fifo.isolate(2);
    for seq in 1..=40 {
        fifo.append(0, 1, seq, "k", &format!("{seq},"));
    }
    assert!(fifo.cluster.server(0).node().snapshot_index() > LogIndex(10));
    fifo.heal();
    let mut snapshots = Vec::new();
    for _ in 0..50 {
        for i in fifo.cluster.live() {
            fifo.step(i, ServerInput::Tick);
        }
        while let Some(message) = fifo.queue().front().cloned() {
            if is_install_snapshot(&message) && message.to() == id(2) {
                snapshots.push(message);
            }
            fifo.deliver_one();
        }
    }
    (fifo, snapshots)
}

#[test]
fn a_lagging_follower_catches_up_through_install_snapshot() {
    let (fifo, snapshots) = lagging_follower();
    assert!(!snapshots.is_empty(), "the leader sent a snapshot");
    let follower = fifo.cluster.server(2);
    assert_eq!(
        follower.applied_index(),
        fifo.cluster.server(0).applied_index()
    );
    assert_eq!(follower.digest(), fifo.cluster.server(0).digest());
    assert_eq!(
        follower.applied_value("k"),
        fifo.cluster.server(0).applied_value("k")
    );
    assert_eq!(
        follower.applied_seq(kv_core::ClientId(1)),
        Some(kv_core::Seq(40))
    );
}

#[test]
fn a_stale_install_snapshot_changes_nothing() {
    let (mut fifo, snapshots) = lagging_follower();
    for seq in 41..=60 {
        fifo.append(0, 1, seq, "k", &format!("{seq},"));
    }
    heartbeat(&mut fifo);
    let follower = fifo.cluster.server(2).clone();
    assert!(follower.applied_index() >= LogIndex(60));
    // Replay the old snapshot, with the current term so Raft does not just drop it.
    let old = snapshots.last().expect("a snapshot was sent");
    let Some(raft_core::Body::InstallSnapshot(body)) = old.body() else {
        unreachable!("an InstallSnapshot");
    };
    let term = fifo.cluster.server(0).node().term();
    let index = body.last_included_index();
    let replay = install_snapshot(
        0,
        2,
        term,
        index,
        body.last_included_term(),
        body.data().clone(),
    );
    let mut probe = follower.clone();
    let actions = probe.step(ServerInput::Raft(replay.clone()));
    assert!(
        !actions
            .iter()
            .any(|a| matches!(a, ServerAction::Applied(_) | ServerAction::Persist(_))),
        "nothing applied or persisted: {actions:?}"
    );
    fifo.step(2, ServerInput::Raft(replay));
    let after = fifo.cluster.server(2);
    assert_eq!(after.applied_index(), follower.applied_index());
    assert_eq!(after.digest(), follower.digest());
    assert_eq!(after.applied_value("k"), follower.applied_value("k"));
}

#[test]
fn waiting_clients_covered_by_an_installed_snapshot_get_wrong_leader() {
    // The old leader 0 waits at index 1, cut off; leader 1 commits and compacts far
    // past it with 2 and 3; the snapshot it sends to the lagging 4, reaching 0, replaces
    // 0's state in one step and sends 0's client elsewhere.
    let mut fifo = Fifo::new(5, config(256));
    fifo.elect(0);
    fifo.isolate(0);
    fifo.request(
        0,
        ClientAddr(1),
        request(
            1,
            1,
            Op::Append {
                key: "k".into(),
                value: "lost".into(),
            },
        ),
    );
    fifo.take_queue();
    fifo.cut_pair(1, 4);
    fifo.elect(1);
    for seq in 1..=30 {
        fifo.append(1, 2, seq, "k", &format!("{seq},"));
    }
    assert!(fifo.cluster.server(1).node().snapshot_index() > LogIndex(1));
    fifo.heal();
    fifo.isolate(0);
    let mut snapshot = None;
    for _ in 0..100 {
        fifo.step(1, ServerInput::Tick);
        while let Some(message) = fifo.queue().front().cloned() {
            if is_install_snapshot(&message) && message.to() == id(4) {
                snapshot.get_or_insert(message);
            }
            fifo.deliver_one();
        }
        if snapshot.is_some() {
            break;
        }
    }
    let snapshot = snapshot.expect("the leader sends 4 a snapshot");
    fifo.heal();
    let replies = fifo.step(0, ServerInput::Raft(readdressed(&snapshot, 0)));
    assert_eq!(
        replies
            .iter()
            .map(|r| r.outcome.clone())
            .collect::<Vec<_>>(),
        vec![Outcome::WrongLeader {
            leader_hint: Some(id(1))
        }]
    );
    let server = fifo.cluster.server(0);
    assert!(server.applied_index() > LogIndex(1));
    assert_eq!(
        server.applied_index(),
        fifo.cluster.persisted(0).snapshot_index()
    );
    assert!(!server
        .applied_value("k")
        .unwrap_or_default()
        .contains("lost"));
    assert_eq!(server.waiting_count(), 0);
}

fn disk_with_snapshot(index: u64, data: Vec<u8>) -> PersistedState {
    let mut disk = PersistedState::new();
    let changes = [
        PersistAction::HardState {
            term: Term(1),
            voted_for: None,
        },
        PersistAction::Snapshot {
            index: LogIndex(index),
            term: Term(1),
            data: data.into(),
        },
    ];
    for change in &changes {
        disk.apply(change).unwrap();
    }
    disk
}

fn restore(disk: &PersistedState) -> Result<KvServer, KvRestoreError> {
    let raft = Config::builder(NodeId(1), [NodeId(1), NodeId(2), NodeId(3)])
        .build()
        .unwrap();
    KvServer::restore(KvConfig::default(), raft, disk)
}

#[test]
fn a_corrupt_persisted_snapshot_is_refused_with_a_typed_error() {
    let garbage = restore(&disk_with_snapshot(5, vec![0xff; 7])).map(|_| ());
    assert!(
        matches!(
            garbage,
            Err(KvRestoreError::Snapshot {
                index: LogIndex(5),
                error: SnapshotDecodeError::Protobuf(_)
            })
        ),
        "{garbage:?}"
    );
    let empty = restore(&disk_with_snapshot(5, Vec::new())).map(|_| ());
    assert_eq!(
        empty,
        Err(KvRestoreError::Snapshot {
            index: LogIndex(5),
            error: SnapshotDecodeError::Version { found: 0 }
        })
    );
    // A valid snapshot of index 4 (the leader's no-op entry and three appends) stored
    // as index 5.
    let mut fifo = Fifo::new(3, KvConfig::default());
    fifo.elect(0);
    for seq in 1..=3 {
        fifo.append(0, 1, seq, "k", "v");
    }
    let bytes = fifo.cluster.server(0).encode_snapshot();
    assert_eq!(fifo.cluster.server(0).applied_index(), LogIndex(4));
    let shifted = restore(&disk_with_snapshot(5, bytes.to_vec())).map(|_| ());
    assert_eq!(
        shifted,
        Err(KvRestoreError::Snapshot {
            index: LogIndex(5),
            error: SnapshotDecodeError::IndexMismatch {
                claimed: LogIndex(4),
                expected: LogIndex(5)
            }
        })
    );
    let good = restore(&disk_with_snapshot(4, bytes.to_vec())).expect("a valid snapshot restores");
    assert_eq!(good.applied_value("k"), Some("vvv"));
    assert_eq!(good.digest(), fifo.cluster.server(0).digest());
}
