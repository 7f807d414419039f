//! The WAL against a real directory: what is committed comes back, snapshots rotate the
//! log, a torn tail is cut, damage refuses to start and changes nothing.

use std::fs;
use std::path::Path;

use bytes::Bytes;
use raft_core::{Entry, LogIndex, NodeId, PersistAction, PersistedState, Term};

use super::files::{self, log_name, snapshot_name};
use super::record::{self, Begin, Record, MAGIC};
use super::{Wal, WalError, WalOptions};

const OPTIONS: WalOptions = WalOptions {
    fsync: true,
    max_raft_state: None,
};

fn entries(first: u64, last: u64, term: u64) -> PersistAction {
    PersistAction::Append(
        (first..=last)
            .map(|i| Entry::new(LogIndex(i), Term(term), Bytes::from(format!("cmd{i}"))))
            .collect(),
    )
}

fn hard(term: u64, vote: Option<u64>) -> PersistAction {
    PersistAction::HardState {
        term: Term(term),
        voted_for: vote.map(NodeId),
    }
}

/// Records and commits each action on its own (one record per commit).
fn write_all(wal: &mut Wal, actions: &[PersistAction]) {
    for action in actions {
        wal.record(action).unwrap();
        wal.commit().unwrap();
    }
}

fn image_of(actions: &[PersistAction]) -> PersistedState {
    let mut image = PersistedState::new();
    for action in actions {
        image.apply(action).unwrap();
    }
    image
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

fn history() -> Vec<PersistAction> {
    vec![
        hard(1, Some(1)),
        entries(1, 3, 1),
        hard(2, None),
        PersistAction::TruncateFrom(LogIndex(3)),
        entries(3, 6, 2),
        hard(2, Some(2)),
        entries(7, 7, 2),
    ]
}

#[test]
fn what_was_committed_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, recovery) = Wal::open(dir.path(), OPTIONS).unwrap();
    assert!(recovery.fresh);
    let actions = history();
    write_all(&mut wal, &actions);
    assert_eq!(wal.image(), &image_of(&actions));
    drop(wal);
    let (wal, recovery) = Wal::open(dir.path(), OPTIONS).unwrap();
    assert!(!recovery.fresh && recovery.torn.is_none());
    assert_eq!(recovery.records, 2 + actions.len() as u64);
    assert_eq!(wal.image(), &image_of(&actions));
}

#[test]
fn a_batch_is_one_commit() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, _) = Wal::open(dir.path(), OPTIONS).unwrap();
    for action in history() {
        wal.record(&action).unwrap();
    }
    assert!(wal.commit().unwrap());
    assert!(!wal.commit().unwrap(), "nothing left to write");
    assert_eq!(wal.stats().commits, 1);
    assert_eq!(wal.stats().records, history().len() as u64);
}

#[test]
fn a_snapshot_rotates_the_log_and_recovery_follows_it() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, _) = Wal::open(dir.path(), OPTIONS).unwrap();
    let mut actions = history();
    actions.push(PersistAction::Snapshot {
        index: LogIndex(5),
        term: Term(2),
        data: Bytes::from_static(b"state at 5"),
    });
    actions.push(entries(8, 9, 2));
    write_all(&mut wal, &actions);
    assert_eq!(wal.stats().generation, 2);
    assert_eq!(names(dir.path()), vec![snapshot_name(2), log_name(2)]);
    drop(wal);
    let (wal, recovery) = Wal::open(dir.path(), OPTIONS).unwrap();
    let expected = image_of(&actions);
    assert_eq!(wal.image(), &expected);
    assert_eq!(wal.image().snapshot_index(), LogIndex(5));
    assert_eq!(wal.image().entries().len(), 4);
    assert_eq!(recovery.snapshot.unwrap().1, LogIndex(5));
}

#[test]
fn a_torn_last_record_is_cut_and_the_rest_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, _) = Wal::open(dir.path(), OPTIONS).unwrap();
    let actions = history();
    write_all(&mut wal, &actions);
    let path = wal.path().to_path_buf();
    drop(wal);
    let length = fs::metadata(&path).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(length - 3)
        .unwrap();
    let (wal, recovery) = Wal::open(dir.path(), OPTIONS).unwrap();
    let torn = recovery.torn.expect("a torn tail");
    assert_eq!(torn.file, path);
    assert_eq!(fs::metadata(&path).unwrap().len(), torn.offset);
    assert_eq!(wal.image(), &image_of(&actions[..actions.len() - 1]));
}

#[test]
fn a_flipped_byte_in_the_middle_refuses_to_start_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, _) = Wal::open(dir.path(), OPTIONS).unwrap();
    write_all(&mut wal, &history());
    let path = wal.path().to_path_buf();
    drop(wal);
    let mut bytes = fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    fs::write(&path, &bytes).unwrap();
    fs::write(dir.path().join("leftover.tmp"), b"x").unwrap();
    let before = names(dir.path());
    match Wal::open(dir.path(), OPTIONS) {
        Err(WalError::Corrupt { file, offset, .. }) => {
            assert_eq!(file, path);
            assert!(offset as usize <= middle);
        }
        other => panic!("expected corruption, got {other:?}"),
    }
    assert_eq!(fs::read(&path).unwrap(), bytes, "the log is untouched");
    assert_eq!(names(dir.path()), before, "nothing removed");
}

#[test]
fn a_crash_inside_a_rotation_recovers_the_old_generation_and_clears_the_new() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, _) = Wal::open(dir.path(), OPTIONS).unwrap();
    let actions = history();
    write_all(&mut wal, &actions);
    drop(wal);
    // The snapshot of generation 2 is in place, its log was still being written.
    files::write_snapshot(dir.path(), 2, LogIndex(4), Term(2), b"s", true).unwrap();
    fs::write(dir.path().join(format!("{}.tmp", log_name(2))), b"partial").unwrap();
    let (wal, recovery) = Wal::open(dir.path(), OPTIONS).unwrap();
    assert_eq!(recovery.generation, 1);
    assert_eq!(recovery.removed.len(), 2);
    assert_eq!(wal.image(), &image_of(&actions));
    assert_eq!(names(dir.path()), vec![log_name(1)]);
}

#[test]
fn truncations_cannot_grow_the_log_past_its_bound() {
    let dir = tempfile::tempdir().unwrap();
    let max = 4096;
    let options = WalOptions {
        fsync: false,
        max_raft_state: Some(max),
    };
    let (mut wal, _) = Wal::open(dir.path(), options).unwrap();
    write_all(&mut wal, &[hard(1, None), entries(1, 1, 1)]);
    for term in 2..400 {
        // A new leader overwrites the same index again and again.
        let actions = [
            hard(term, None),
            PersistAction::TruncateFrom(LogIndex(2)),
            entries(2, 3, term),
            PersistAction::TruncateFrom(LogIndex(2)),
        ];
        write_all(&mut wal, &actions);
        assert!(wal.stats().log_bytes <= 4 * max as u64, "{:?}", wal.stats());
    }
    assert!(wal.stats().rotations > 0);
    let image = wal.image().clone();
    drop(wal);
    let (wal, _) = Wal::open(dir.path(), options).unwrap();
    assert_eq!(wal.image(), &image);
}

/// Writes a log file of `generation` holding `records` after the magic.
fn forge(dir: &Path, generation: u64, records: &[Record]) {
    let mut bytes = MAGIC.to_vec();
    for record in records {
        record::encode(&mut bytes, record);
    }
    fs::write(dir.join(log_name(generation)), bytes).unwrap();
}

fn begin(generation: u64, snapshot_generation: u64, index: u64) -> Record {
    Record::Begin(Begin {
        generation,
        snapshot_generation,
        snapshot_index: LogIndex(index),
        snapshot_term: Term(u64::from(index > 0)),
    })
}

#[test]
fn a_record_that_contradicts_the_log_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let records = [
        begin(1, 0, 0),
        Record::Persist(hard(1, None)),
        Record::Persist(entries(1, 2, 1)),
        Record::Persist(entries(5, 5, 1)),
    ];
    forge(dir.path(), 1, &records);
    match Wal::open(dir.path(), OPTIONS) {
        Err(WalError::Inconsistent { file, offset, .. }) => {
            assert_eq!(file, dir.path().join(log_name(1)));
            assert!(offset > MAGIC.len() as u64);
        }
        other => panic!("expected an inconsistent record, got {other:?}"),
    }
}

#[test]
fn a_missing_snapshot_or_a_headless_log_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    forge(
        dir.path(),
        3,
        &[begin(3, 3, 10), Record::Persist(hard(1, None))],
    );
    assert!(matches!(
        Wal::open(dir.path(), OPTIONS),
        Err(WalError::Layout { .. })
    ));
    let dir = tempfile::tempdir().unwrap();
    forge(dir.path(), 1, &[Record::Persist(hard(1, None))]);
    assert!(matches!(
        Wal::open(dir.path(), OPTIONS),
        Err(WalError::Corrupt { .. })
    ));
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(snapshot_name(1)), b"orphan").unwrap();
    assert!(matches!(
        Wal::open(dir.path(), OPTIONS),
        Err(WalError::Layout { .. })
    ));
}
