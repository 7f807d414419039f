//! Recovery: from the files of a data directory to the [`PersistedState`] they hold.
//!
//! The rules:
//!
//! - An empty (or new) directory starts an empty log, `wal-00000001.log`.
//! - The newest log is the live one. Its `Begin` record names the snapshot it follows;
//!   that file must exist and agree (index and term). The snapshot is applied to an empty
//!   image, then every record of the log in order.
//! - A torn last record (a partial record at the end of the file, a last record whose
//!   body checksum fails, or a zero-filled tail) is what a crash in the middle of a write
//!   leaves: the file is cut back to the end of the record before it, and the cut is
//!   reported (the node logs it). Its actions were never acknowledged: the sends of a
//!   step leave only after its records are durable.
//! - Anything else that is damaged (a bad magic, a bad checksum or an undecodable record
//!   with more bytes after it, a record that contradicts the ones before, a missing
//!   snapshot) refuses to start with an error naming the file and the offset, and
//!   changes nothing on disk.
//! - Only after a successful recovery are leftovers removed: temporary files, older
//!   logs, and snapshots the live log does not follow.

use std::fs;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use raft_core::{LogIndex, PersistAction, PersistedState};

use super::files::{self, Listing};
use super::record::{self, Begin, Found, Record, MAGIC};
use super::{write_log, Wal, WalError, WalOptions, WalStats};

/// What a recovery found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// The live log.
    pub log: PathBuf,
    /// Its generation.
    pub generation: u64,
    /// Records read from it (the `Begin` record included).
    pub records: u64,
    /// Its size after any cut.
    pub log_bytes: u64,
    /// The snapshot file read, with the index it covers and its data size.
    pub snapshot: Option<(PathBuf, LogIndex, usize)>,
    /// The torn tail that was cut off, if any.
    pub torn: Option<TornTail>,
    /// Leftover files removed.
    pub removed: Vec<PathBuf>,
    /// True if the directory held no log: a fresh node.
    pub fresh: bool,
}

/// A torn record cut off the end of a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// The log file.
    pub file: PathBuf,
    /// Where the torn record started: the file's new length.
    pub offset: u64,
    /// How many bytes were cut.
    pub bytes_cut: u64,
    /// What was wrong with it.
    pub reason: String,
}

impl std::fmt::Display for TornTail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: torn last record at offset {} ({}): cut off {} bytes",
            self.file.display(),
            self.offset,
            self.reason,
            self.bytes_cut
        )
    }
}

/// The log as read, before anything on disk changes.
struct ReadLog {
    image: PersistedState,
    begin: Begin,
    records: u64,
    /// The length of the good prefix.
    good_bytes: u64,
    torn: Option<TornTail>,
}

pub(super) fn open(dir: &Path, options: WalOptions) -> Result<(Wal, Recovery), WalError> {
    fs::create_dir_all(dir).map_err(|e| WalError::io(dir, "create the data directory", e))?;
    let listing = files::list(dir)?;
    let Some(&generation) = listing.logs.last() else {
        return start_fresh(dir, options, &listing);
    };
    let path = dir.join(files::log_name(generation));
    let read = read_log(dir, &path, generation)?;
    // Nothing has been changed so far; from here on the recovery succeeds.
    if let Some(torn) = &read.torn {
        cut(&path, read.good_bytes, options.fsync)?;
        debug_assert_eq!(torn.offset, read.good_bytes);
    }
    let removed = remove_leftovers(dir, &listing, generation, read.begin.snapshot_generation)?;
    files::sync_dir(dir, options.fsync)?;
    let snapshot = (read.begin.snapshot_generation != 0).then(|| {
        let name = dir.join(files::snapshot_name(read.begin.snapshot_generation));
        (
            name,
            read.image.snapshot_index(),
            read.image.snapshot_data().len(),
        )
    });
    let recovery = Recovery {
        log: path.clone(),
        generation,
        records: read.records,
        log_bytes: read.good_bytes,
        snapshot,
        torn: read.torn,
        removed,
        fresh: false,
    };
    let wal = Wal {
        dir: dir.to_path_buf(),
        options,
        file: files::open_append(&path)?,
        path,
        snapshot_generation: read.begin.snapshot_generation,
        base_bytes: read.good_bytes,
        pending: Vec::new(),
        image: read.image,
        stats: WalStats {
            generation,
            log_bytes: read.good_bytes,
            ..WalStats::default()
        },
    };
    Ok((wal, recovery))
}

fn start_fresh(
    dir: &Path,
    options: WalOptions,
    listing: &Listing,
) -> Result<(Wal, Recovery), WalError> {
    if let Some(generation) = listing.snapshots.last() {
        return Err(WalError::Layout {
            dir: dir.to_path_buf(),
            reason: format!(
                "{} exists but no log does",
                files::snapshot_name(*generation)
            ),
        });
    }
    let mut removed = Vec::new();
    for temporary in &listing.temporary {
        files::remove(temporary)?;
        removed.push(temporary.clone());
    }
    let image = PersistedState::new();
    let (file, path, bytes) = write_log(dir, 1, 0, &image, options.fsync)?;
    let recovery = Recovery {
        log: path.clone(),
        generation: 1,
        records: 2,
        log_bytes: bytes,
        snapshot: None,
        torn: None,
        removed,
        fresh: true,
    };
    let wal = Wal {
        dir: dir.to_path_buf(),
        options,
        file,
        path,
        snapshot_generation: 0,
        base_bytes: bytes,
        pending: Vec::new(),
        image,
        stats: WalStats {
            generation: 1,
            log_bytes: bytes,
            ..WalStats::default()
        },
    };
    Ok((wal, recovery))
}

/// Reads the log of `generation` and the snapshot it names into an image, changing
/// nothing on disk.
fn read_log(dir: &Path, path: &Path, generation: u64) -> Result<ReadLog, WalError> {
    let file = Bytes::from(fs::read(path).map_err(|e| WalError::io(path, "read", e))?);
    if file.len() < MAGIC.len() || &file[..MAGIC.len()] != MAGIC {
        return Err(corrupt(path, 0, "not a log file (bad magic)".into()));
    }
    let mut offset = MAGIC.len();
    let mut read: Option<ReadLog> = None;
    let mut torn = None;
    while let Some(found) = record::scan_at(&file, offset) {
        let (end, body) = match found {
            Found::Record { end, body, .. } => (end, body),
            Found::Corrupt { offset, reason } => return Err(corrupt(path, offset, reason)),
            Found::TornTail { offset, reason } => {
                torn = Some(TornTail {
                    file: path.to_path_buf(),
                    offset: offset as u64,
                    bytes_cut: (file.len() - offset) as u64,
                    reason,
                });
                break;
            }
        };
        let decoded =
            record::decode_body(body).map_err(|e| corrupt(path, offset, e.to_string()))?;
        read = Some(take_record(dir, path, generation, read, decoded, offset)?);
        offset = end;
    }
    let Some(mut read) = read else {
        return Err(corrupt(
            path,
            MAGIC.len(),
            "the log has no Begin record".into(),
        ));
    };
    read.image.validate().map_err(|error| WalError::State {
        file: path.to_path_buf(),
        error,
    })?;
    read.good_bytes = offset as u64;
    read.torn = torn;
    Ok(read)
}

fn corrupt(path: &Path, offset: usize, reason: String) -> WalError {
    WalError::Corrupt {
        file: path.to_path_buf(),
        offset: offset as u64,
        reason,
    }
}

/// Adds the record at `offset` to what was read before it (`None` before the first).
fn take_record(
    dir: &Path,
    path: &Path,
    generation: u64,
    read: Option<ReadLog>,
    record: Record,
    offset: usize,
) -> Result<ReadLog, WalError> {
    match (record, read) {
        (Record::Begin(begin), None) => Ok(ReadLog {
            image: initial_image(dir, path, generation, &begin)?,
            begin,
            records: 1,
            good_bytes: 0,
            torn: None,
        }),
        (Record::Begin(_), Some(_)) => Err(corrupt(path, offset, "a second Begin record".into())),
        (Record::Persist(_), None) => Err(corrupt(
            path,
            offset,
            "the first record is not a Begin record".into(),
        )),
        (Record::Persist(action), Some(mut read)) => {
            read.image
                .apply(&action)
                .map_err(|error| WalError::Inconsistent {
                    file: path.to_path_buf(),
                    offset: offset as u64,
                    error,
                })?;
            read.records += 1;
            Ok(read)
        }
    }
}

/// The image a log starts from: empty, or the snapshot its `Begin` record names.
fn initial_image(
    dir: &Path,
    log: &Path,
    generation: u64,
    begin: &Begin,
) -> Result<PersistedState, WalError> {
    let layout = |reason: String| WalError::Layout {
        dir: dir.to_path_buf(),
        reason,
    };
    if begin.generation != generation {
        return Err(layout(format!(
            "{} says it is generation {}",
            log.display(),
            begin.generation
        )));
    }
    let mut image = PersistedState::new();
    if begin.snapshot_generation == 0 {
        if begin.snapshot_index != LogIndex::ZERO {
            return Err(layout(format!(
                "{} follows a snapshot at {} but names no snapshot file",
                log.display(),
                begin.snapshot_index
            )));
        }
        return Ok(image);
    }
    let path = dir.join(files::snapshot_name(begin.snapshot_generation));
    if !path.exists() {
        return Err(layout(format!(
            "{} follows {}, which is missing",
            log.display(),
            path.display()
        )));
    }
    let snapshot = files::read_snapshot(&path)?;
    if (snapshot.index, snapshot.term) != (begin.snapshot_index, begin.snapshot_term) {
        return Err(layout(format!(
            "{} covers {}/{} but {} expects {}/{}",
            path.display(),
            snapshot.index,
            snapshot.term,
            log.display(),
            begin.snapshot_index,
            begin.snapshot_term
        )));
    }
    image.apply(&PersistAction::Snapshot {
        index: snapshot.index,
        term: snapshot.term,
        data: snapshot.data,
    })?;
    Ok(image)
}

/// Cuts a torn tail off: the file ends at `length`.
fn cut(path: &Path, length: u64, fsync: bool) -> Result<(), WalError> {
    let file = fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| WalError::io(path, "open to cut the torn tail", e))?;
    file.set_len(length)
        .map_err(|e| WalError::io(path, "cut the torn tail", e))?;
    if fsync {
        file.sync_all()
            .map_err(|e| WalError::io(path, "fsync after the cut", e))?;
    }
    Ok(())
}

fn remove_leftovers(
    dir: &Path,
    listing: &Listing,
    generation: u64,
    snapshot_generation: u64,
) -> Result<Vec<PathBuf>, WalError> {
    let mut removed = listing.temporary.clone();
    removed.extend(
        listing
            .logs
            .iter()
            .filter(|&&g| g != generation)
            .map(|&g| dir.join(files::log_name(g))),
    );
    removed.extend(
        listing
            .snapshots
            .iter()
            .filter(|&&g| g != snapshot_generation)
            .map(|&g| dir.join(files::snapshot_name(g))),
    );
    for path in &removed {
        files::remove(path)?;
    }
    Ok(removed)
}
