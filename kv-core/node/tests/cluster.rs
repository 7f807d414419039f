//! Three real `kv-node` processes on 127.0.0.1, real clients, real disks: the five
//! tests of issue 14. Each test is bounded in time (every wait has a limit) and kills
//! every process it started, also when it fails. No assertion is about speed.

mod support;

use std::fs;
use std::time::Duration;

use bytes::Bytes;
use kv_node::wal::record::{scan_at, Found, MAGIC};
use support::{dir_bytes, final_values, serial, wait_for, Cluster, WAIT};

/// The offsets of the records of a log file, each with its end.
fn record_spans(bytes: &[u8]) -> Vec<(usize, usize)> {
    let file = Bytes::copy_from_slice(bytes);
    let mut spans = Vec::new();
    let mut offset = MAGIC.len();
    while let Some(Found::Record { end, .. }) = scan_at(&file, offset) {
        spans.push((offset, end));
        offset = end;
    }
    spans
}

/// Waits until the leader's commit index passes `at_least`; returns it.
fn wait_for_commit(cluster: &Cluster, leader: u64, at_least: u64) -> u64 {
    wait_for("commits", WAIT, || {
        let status = cluster.status(leader)?;
        (status.is_leader() && status.commit_index.0 >= at_least).then_some(status.commit_index.0)
    })
}

#[test]
fn four_clients_give_a_linearizable_history_with_every_append_once_and_in_order() {
    let _serial = serial();
    let mut cluster = Cluster::start(3, None);
    cluster.wait_for_leader(&cluster.ids());
    let load = cluster.start_load(&[
        "--clients",
        "4",
        "--ops",
        "100",
        "--seconds",
        "120",
        "--keys",
        "3",
        "--mix",
        "50:0:50",
    ]);
    let mut history = load.finish();
    assert_eq!(history.operations.len(), 400);
    assert_eq!(history.returned(), 400);
    let finals = final_values(&mut cluster, &history.keys());
    history.assert_appends_once_in_order(&finals);
    history.add_final_reads(&finals);
    history.assert_linearizable();
    let leader = cluster.wait_for_leader(&cluster.ids());
    let commit = cluster.status(leader).unwrap().commit_index.0;
    cluster.wait_for_convergence(commit);
}

#[test]
fn a_leader_killed_under_load_is_replaced_and_catches_up_after_its_restart() {
    let _serial = serial();
    let mut cluster = Cluster::start(3, None);
    let leader = cluster.wait_for_leader(&cluster.ids());
    let mut load = cluster.start_load(&[
        "--clients",
        "4",
        "--seconds",
        "12",
        "--drain-secs",
        "30",
        "--keys",
        "4",
        "--mix",
        "50:0:50",
    ]);
    let before = wait_for_commit(&cluster, leader, 200);
    assert!(load.running(), "the load ended before the kill");
    cluster.kill(leader);
    let others: Vec<u64> = cluster
        .ids()
        .into_iter()
        .filter(|&id| id != leader)
        .collect();
    let successor = cluster.wait_for_leader(&others);
    assert_ne!(successor, leader);
    wait_for_commit(&cluster, successor, before + 100);
    assert!(
        load.running(),
        "the load ended before the successor made progress"
    );
    cluster.start_node(leader);
    let mut history = load.finish();
    let finals = final_values(&mut cluster, &history.keys());
    history.assert_appends_once_in_order(&finals);
    history.add_final_reads(&finals);
    history.assert_linearizable();
    let now = cluster.wait_for_leader(&cluster.ids());
    let commit = cluster.status(now).unwrap().commit_index.0;
    let statuses = cluster.wait_for_convergence(commit);
    let restarted = statuses.iter().find(|s| s.id.0 == leader).unwrap();
    assert!(restarted.applied_index.0 >= commit, "{restarted}");
}

#[test]
fn all_three_killed_at_once_and_restarted_lose_no_acknowledged_write() {
    let _serial = serial();
    let mut cluster = Cluster::start(3, None);
    let leader = cluster.wait_for_leader(&cluster.ids());
    let mut load = cluster.start_load(&[
        "--clients",
        "4",
        "--seconds",
        "12",
        "--drain-secs",
        "60",
        "--keys",
        "4",
        "--mix",
        "50:0:50",
    ]);
    let before = wait_for_commit(&cluster, leader, 200);
    assert!(load.running(), "the load ended before the kill");
    for id in cluster.ids() {
        cluster.kill(id);
    }
    for id in cluster.ids() {
        cluster.start_node(id);
    }
    let successor = cluster.wait_for_leader(&cluster.ids());
    wait_for_commit(&cluster, successor, before + 100);
    let mut history = load.finish();
    let finals = final_values(&mut cluster, &history.keys());
    history.assert_appends_once_in_order(&finals);
    history.add_final_reads(&finals);
    history.assert_linearizable();
    for id in cluster.ids() {
        assert!(
            cluster.node_log(id).contains("recovered"),
            "n{id} did not recover"
        );
    }
}

#[test]
fn a_torn_tail_is_cut_and_a_flipped_byte_refuses_to_start_naming_file_and_offset() {
    let _serial = serial();
    let mut cluster = Cluster::start(3, None);
    let leader = cluster.wait_for_leader(&cluster.ids());
    cluster
        .start_load(&[
            "--clients",
            "2",
            "--ops",
            "100",
            "--seconds",
            "120",
            "--mix",
            "50:0:50",
        ])
        .finish();
    let commit = cluster.status(leader).unwrap().commit_index.0;
    cluster.wait_for_convergence(commit);
    // Everything is on every node: stop them all. (A real torn record was never
    // acknowledged, its fsync had not returned; this one was. A leader that kept running
    // would rightly go on believing the follower holds it.)
    for id in cluster.ids() {
        cluster.kill(id);
    }
    let follower = cluster.ids().into_iter().find(|&id| id != leader).unwrap();
    cut_the_last_record_and_recover(&mut cluster, follower);
    for id in cluster.ids() {
        cluster.start_node(id);
    }
    cluster.get("k0");
    let leader = cluster.wait_for_leader(&cluster.ids());
    let commit = cluster.status(leader).unwrap().commit_index.0;
    cluster.wait_for_convergence(commit);
    cluster.kill(follower);
    flip_a_byte_and_refuse_to_start(&mut cluster, follower);
}

/// A torn write: a few bytes cut off the last record of `id`'s log (stopped). Its
/// recovery cuts the record off, says where, and keeps the records before it.
fn cut_the_last_record_and_recover(cluster: &mut Cluster, id: u64) {
    let log = cluster.live_log(id);
    let bytes = fs::read(&log).unwrap();
    let spans = record_spans(&bytes);
    assert!(spans.len() > 10, "too few records to test with");
    let (last_start, last_end) = spans[spans.len() - 1];
    assert_eq!(last_end, bytes.len());
    fs::write(&log, &bytes[..bytes.len() - 3]).unwrap();
    let mut recovery = cluster.spawn_node_with(id, &["--recover-only"]);
    assert!(recovery.wait("the recovery", WAIT).success());
    let said = fs::read_to_string(&recovery.stderr).unwrap();
    let line = format!("{}: torn last record at offset {last_start}", log.display());
    assert!(said.contains(&line), "expected {line:?} in:\n{said}");
    let records = format!("({} records, {last_start} B)", spans.len() - 1);
    assert!(said.contains(&records), "expected {records:?} in:\n{said}");
    assert_eq!(fs::metadata(&log).unwrap().len(), last_start as u64);
}

/// A flipped byte in the middle of `id`'s log (stopped): it refuses to start, names the
/// file and the damaged record's offset, and changes nothing.
fn flip_a_byte_and_refuse_to_start(cluster: &mut Cluster, id: u64) {
    let log = cluster.live_log(id);
    let mut bytes = fs::read(&log).unwrap();
    let middle = bytes.len() / 2;
    let spans = record_spans(&bytes);
    let &(damaged, _) = spans
        .iter()
        .find(|(s, e)| (*s..*e).contains(&middle))
        .unwrap();
    assert!(
        damaged < spans[spans.len() - 1].0,
        "the middle is not in the last record"
    );
    bytes[middle] ^= 0x20;
    fs::write(&log, &bytes).unwrap();
    let listing = |dir: &std::path::Path| {
        let mut files: Vec<(String, u64)> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap())
            .map(|e| {
                (
                    e.file_name().into_string().unwrap(),
                    e.metadata().unwrap().len(),
                )
            })
            .collect();
        files.sort();
        files
    };
    let files_before = listing(&cluster.data_dir(id));
    let mut refused = cluster.spawn_node(id);
    let status = refused.wait("the damaged node to exit", WAIT);
    assert!(!status.success());
    let stderr = fs::read_to_string(&refused.stderr).unwrap();
    let named = format!("{}: offset {damaged}:", log.display());
    assert!(stderr.contains(&named), "expected {named:?} in:\n{stderr}");
    assert!(stderr.contains("refusing to start"), "{stderr}");
    assert_eq!(fs::read(&log).unwrap(), bytes, "the log was changed");
    assert_eq!(listing(&cluster.data_dir(id)), files_before);
}

#[test]
fn with_max_raft_state_snapshots_rotate_the_log_and_the_data_dir_stays_bounded() {
    let _serial = serial();
    const MAX_RAFT_STATE: u64 = 32 << 10;
    let mut cluster = Cluster::start(3, Some(MAX_RAFT_STATE as usize));
    cluster.wait_for_leader(&cluster.ids());
    let mut load = cluster.start_load(&[
        "--clients",
        "4",
        "--seconds",
        "10",
        "--keys",
        "10",
        "--mix",
        "50:50:0",
        "--value-bytes",
        "100",
    ]);
    let mut largest = 0;
    let mut largest_snapshot = 0;
    let mut samples = 0;
    while load.running() {
        for id in cluster.ids() {
            let (total, snapshot) = dir_bytes(&cluster.data_dir(id));
            largest = largest.max(total);
            largest_snapshot = largest_snapshot.max(snapshot);
        }
        samples += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    let history = load.finish();
    history.assert_linearizable();
    let leader = cluster.wait_for_leader(&cluster.ids());
    let commit = cluster.status(leader).unwrap().commit_index.0;
    assert!(
        commit > 1000,
        "too little load to test with: {commit} entries"
    );
    for status in cluster.wait_for_convergence(commit) {
        assert!(status.snapshot_index.0 > 0, "no snapshot: {status}");
        assert!(
            status.wal_generation > 2,
            "the log was not rotated: {status}"
        );
        assert!(status.wal_bytes <= 4 * MAX_RAFT_STATE, "{status}");
    }
    // The bound: two snapshot files, the live log (below 4M plus one round) and, during
    // a rotation, the new log (below 3M/2) beside it.
    let bound = 2 * largest_snapshot + 8 * MAX_RAFT_STATE;
    println!(
        "data dir: at most {largest} B over {samples} samples (bound {bound} B, snapshot {largest_snapshot} B, {} entries)",
        commit
    );
    assert!(samples > 10);
    assert!(
        largest <= bound,
        "a data directory reached {largest} B, above {bound} B"
    );
}
