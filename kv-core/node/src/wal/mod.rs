//! A node's write-ahead log: one record per persist action, group commit, a snapshot as
//! a file of its own, rotation after each snapshot, and recovery (see [`recover`]).
//!
//! The live log is the newest `wal-<g>.log`. [`Wal::record`] encodes a persist action
//! into a buffer; [`Wal::commit`] writes the buffer with one `write` and makes it durable
//! with one `fdatasync`. The node calls `commit` once per batch of steps, before any send
//! or reply of those steps leaves, so everything a message depends on is on disk first.
//!
//! A snapshot action (taken by the service, or installed from the leader) writes
//! `snap-<g+1>.bin` in place (temporary file, fsync, rename, fsync the directory), then
//! rotates: `wal-<g+1>.log` is written in place holding a `Begin` record that names the
//! snapshot, the hard state and the entries the snapshot did not cover; then the old
//! log and snapshot are removed. A crash at any point leaves either the old pair or the
//! new one complete. The log is also rotated, without a new snapshot, when it grows
//! `2 × max_raft_state` past its size at the last rotation (only truncations by new
//! leaders make it outgrow the raft state that way), so with `max_raft_state = M` the
//! live log stays near `M` and below `4M` plus one batch.
//!
//! The WAL keeps a [`PersistedState`] image, the state a recovery would rebuild: every
//! action is applied to it (which also checks the action against the ones before), and a
//! rotation writes it out.

pub mod files;
pub mod record;
mod recover;
#[cfg(test)]
mod tests;

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use raft_core::{PersistAction, PersistError, PersistedState, StateError};

pub use recover::{Recovery, TornTail};

use record::{Begin, Record, MAGIC};

/// How the WAL writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WalOptions {
    /// Make writes durable (`fdatasync`, and fsync of files and the directory on
    /// rotation). Off only to measure what durability costs.
    pub fsync: bool,
    /// The node's `max_raft_state`, which bounds the live log (see the module docs).
    pub max_raft_state: Option<usize>,
}

/// Why the WAL could not go on, or would not start.
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    /// A file operation failed.
    #[error("{}: {op}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Damaged bytes that a crash cannot explain: the node refuses to start and leaves
    /// every file as it is.
    #[error("{}: offset {offset}: {reason}; refusing to start (nothing was changed)", file.display())]
    Corrupt {
        /// The damaged file.
        file: PathBuf,
        /// Where the damaged record or field starts.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// A record that checks out but contradicts the records before it.
    #[error("{}: offset {offset}: the record does not follow from the ones before: {error}; refusing to start (nothing was changed)", file.display())]
    Inconsistent {
        /// The log file.
        file: PathBuf,
        /// The record's offset.
        offset: u64,
        /// What raft-core's image refused.
        #[source]
        error: PersistError,
    },
    /// The rebuilt state contradicts itself.
    #[error("{}: the recovered raft state is inconsistent: {error}; refusing to start (nothing was changed)", file.display())]
    State {
        /// The log file.
        file: PathBuf,
        /// What is wrong.
        #[source]
        error: StateError,
    },
    /// The files of the directory do not fit together.
    #[error("{}: {reason}; refusing to start (nothing was changed)", dir.display())]
    Layout {
        /// The data directory.
        dir: PathBuf,
        /// What is missing or wrong.
        reason: String,
    },
    /// A persist action the image refused while running: a bug in the driver or in Raft.
    #[error("persist action refused by the image: {0}")]
    Refused(#[from] PersistError),
}

impl WalError {
    pub(crate) fn io(path: &Path, op: &'static str, source: std::io::Error) -> WalError {
        WalError::Io {
            path: path.to_path_buf(),
            op,
            source,
        }
    }
}

/// Counters of the WAL, for the status report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WalStats {
    /// The live log's generation.
    pub generation: u64,
    /// The live log's size in bytes.
    pub log_bytes: u64,
    /// Records written since start.
    pub records: u64,
    /// Commits that wrote something (each one write and, with fsync, one fdatasync).
    pub commits: u64,
    /// Snapshot files written since start.
    pub snapshots: u64,
    /// Rotations since start.
    pub rotations: u64,
}

/// The write-ahead log of one node (see the module docs).
#[derive(Debug)]
pub struct Wal {
    dir: PathBuf,
    options: WalOptions,
    file: File,
    path: PathBuf,
    snapshot_generation: u64,
    /// The live log's size at its rotation.
    base_bytes: u64,
    pending: Vec<u8>,
    image: PersistedState,
    stats: WalStats,
}

impl Wal {
    /// Opens the data directory `dir` (created if missing): recovers what it holds, or
    /// starts an empty log. See [`recover`] for the rules.
    pub fn open(dir: &Path, options: WalOptions) -> Result<(Wal, Recovery), WalError> {
        recover::open(dir, options)
    }

    /// The persisted state as a recovery would rebuild it after the last commit.
    pub fn image(&self) -> &PersistedState {
        &self.image
    }

    /// The live log file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The counters.
    pub fn stats(&self) -> WalStats {
        self.stats
    }

    /// Takes one persist action: buffered until [`Wal::commit`], except a snapshot,
    /// which is written and rotated at once (it carries the buffered actions with it).
    pub fn record(&mut self, action: &PersistAction) -> Result<(), WalError> {
        self.image.apply(action)?;
        match action {
            PersistAction::Snapshot { index, term, data } => {
                let generation = self.stats.generation + 1;
                files::write_snapshot(
                    &self.dir,
                    generation,
                    *index,
                    *term,
                    data,
                    self.options.fsync,
                )?;
                self.stats.snapshots += 1;
                self.rotate(generation)
            }
            PersistAction::Append(entries) => {
                self.stats.records += record::encode_append(&mut self.pending, entries);
                Ok(())
            }
            other => {
                record::encode(&mut self.pending, &Record::Persist(other.clone()));
                self.stats.records += 1;
                Ok(())
            }
        }
    }

    /// Writes the buffered records with one write and makes them durable with one
    /// fdatasync. Returns whether anything was written.
    pub fn commit(&mut self) -> Result<bool, WalError> {
        if self.pending.is_empty() {
            return Ok(false);
        }
        self.file
            .write_all(&self.pending)
            .map_err(|e| WalError::io(&self.path, "append", e))?;
        if self.options.fsync {
            self.file
                .sync_data()
                .map_err(|e| WalError::io(&self.path, "fdatasync", e))?;
        }
        self.stats.log_bytes += self.pending.len() as u64;
        self.stats.commits += 1;
        self.pending.clear();
        if let Some(max) = self.options.max_raft_state {
            if self.stats.log_bytes > self.base_bytes + 2 * max as u64 {
                self.rotate(self.snapshot_generation)?;
            }
        }
        Ok(true)
    }

    /// Writes the image as the log of the next generation, following snapshot file
    /// `snapshot_generation`, then removes the files it replaces.
    fn rotate(&mut self, snapshot_generation: u64) -> Result<(), WalError> {
        let generation = self.stats.generation + 1;
        let (file, path, bytes) = write_log(
            &self.dir,
            generation,
            snapshot_generation,
            &self.image,
            self.options.fsync,
        )?;
        let old_log = std::mem::replace(&mut self.path, path);
        self.file = file;
        files::remove(&old_log)?;
        if snapshot_generation != self.snapshot_generation && self.snapshot_generation != 0 {
            files::remove(
                &self
                    .dir
                    .join(files::snapshot_name(self.snapshot_generation)),
            )?;
        }
        files::sync_dir(&self.dir, self.options.fsync)?;
        self.snapshot_generation = snapshot_generation;
        self.pending.clear();
        self.base_bytes = bytes;
        self.stats.generation = generation;
        self.stats.log_bytes = bytes;
        self.stats.rotations += 1;
        Ok(())
    }
}

/// Writes `wal-<generation>.log` in place, holding `image` (its snapshot taken as
/// `snap-<snapshot_generation>.bin`), and opens it for appending.
fn write_log(
    dir: &Path,
    generation: u64,
    snapshot_generation: u64,
    image: &PersistedState,
    fsync: bool,
) -> Result<(File, PathBuf, u64), WalError> {
    let mut contents = MAGIC.to_vec();
    let begin = Begin {
        generation,
        snapshot_generation,
        snapshot_index: image.snapshot_index(),
        snapshot_term: image.snapshot_term(),
    };
    record::encode(&mut contents, &Record::Begin(begin));
    let hard_state = PersistAction::HardState {
        term: image.term(),
        voted_for: image.voted_for(),
    };
    record::encode(&mut contents, &Record::Persist(hard_state));
    let entries: raft_core::Entries = image.entries().iter().cloned().collect();
    record::encode_append(&mut contents, &entries);
    let path = files::put_in_place(dir, &files::log_name(generation), &[&contents], fsync)?;
    let file = files::open_append(&path)?;
    Ok((file, path, contents.len() as u64))
}
