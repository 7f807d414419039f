//! The files of a data directory: their names, the snapshot file format, and the one
//! way a file is put in place (temporary file, fsync, rename, fsync of the directory).
//!
//! ```text
//! wal-<generation>.log    a log (see `record`), the newest generation is the live one
//! snap-<generation>.bin   a snapshot, named by the log that first followed it
//! *.tmp                   a file being written; never read, removed on recovery
//! ```
//!
//! A snapshot file: `MAGIC | index u64 | term u64 | data_len u64 | data_crc u32 |
//! header_crc u32 | data`, all little-endian; `header_crc` covers the 36 bytes before it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use raft_core::{LogIndex, Term};

use super::WalError;

/// The first eight bytes of a snapshot file.
pub const SNAPSHOT_MAGIC: &[u8; 8] = b"kvnsnap\x01";

const SNAPSHOT_HEADER_BYTES: usize = 40;

/// The name of the log file of `generation`.
pub fn log_name(generation: u64) -> String {
    format!("wal-{generation:08}.log")
}

/// The name of the snapshot file of `generation`.
pub fn snapshot_name(generation: u64) -> String {
    format!("snap-{generation:08}.bin")
}

/// What a data directory holds, by kind.
#[derive(Debug, Default)]
pub struct Listing {
    /// Generations of log files, ascending.
    pub logs: Vec<u64>,
    /// Generations of snapshot files, ascending.
    pub snapshots: Vec<u64>,
    /// Temporary files left by a crash.
    pub temporary: Vec<PathBuf>,
}

/// Lists the files of `dir` this crate knows; others are left alone.
pub fn list(dir: &Path) -> Result<Listing, WalError> {
    let mut listing = Listing::default();
    let entries = fs::read_dir(dir).map_err(|e| WalError::io(dir, "list", e))?;
    for entry in entries {
        let entry = entry.map_err(|e| WalError::io(dir, "list", e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.ends_with(".tmp") {
            listing.temporary.push(entry.path());
        } else if let Some(generation) = parse(name, "wal-", ".log") {
            listing.logs.push(generation);
        } else if let Some(generation) = parse(name, "snap-", ".bin") {
            listing.snapshots.push(generation);
        }
    }
    listing.logs.sort_unstable();
    listing.snapshots.sort_unstable();
    Ok(listing)
}

fn parse(name: &str, prefix: &str, suffix: &str) -> Option<u64> {
    name.strip_prefix(prefix)?
        .strip_suffix(suffix)?
        .parse()
        .ok()
}

/// Makes the directory's entries (creations, renames, removals) durable.
pub fn sync_dir(dir: &Path, fsync: bool) -> Result<(), WalError> {
    if !fsync {
        return Ok(());
    }
    File::open(dir)
        .and_then(|handle| handle.sync_all())
        .map_err(|e| WalError::io(dir, "fsync the directory", e))
}

/// Writes `contents` to `dir/name` atomically: to `name.tmp`, fsync, rename into place,
/// fsync the directory. Returns the path.
pub fn put_in_place(
    dir: &Path,
    name: &str,
    contents: &[&[u8]],
    fsync: bool,
) -> Result<PathBuf, WalError> {
    let path = dir.join(name);
    let temporary = dir.join(format!("{name}.tmp"));
    let mut file = File::create(&temporary).map_err(|e| WalError::io(&temporary, "create", e))?;
    for part in contents {
        file.write_all(part)
            .map_err(|e| WalError::io(&temporary, "write", e))?;
    }
    if fsync {
        file.sync_all()
            .map_err(|e| WalError::io(&temporary, "fsync", e))?;
    }
    drop(file);
    fs::rename(&temporary, &path).map_err(|e| WalError::io(&path, "rename into place", e))?;
    sync_dir(dir, fsync)?;
    Ok(path)
}

/// Opens an existing file for appending.
pub fn open_append(path: &Path) -> Result<File, WalError> {
    OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(|e| WalError::io(path, "open for append", e))
}

/// Removes a file; one that is already gone is fine.
pub fn remove(path: &Path) -> Result<(), WalError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(WalError::io(path, "remove", e)),
    }
}

/// Writes the snapshot file of `generation` (atomically, see [`put_in_place`]).
pub fn write_snapshot(
    dir: &Path,
    generation: u64,
    index: LogIndex,
    term: Term,
    data: &[u8],
    fsync: bool,
) -> Result<PathBuf, WalError> {
    let mut header = Vec::with_capacity(SNAPSHOT_HEADER_BYTES);
    header.extend_from_slice(SNAPSHOT_MAGIC);
    header.extend_from_slice(&index.0.to_le_bytes());
    header.extend_from_slice(&term.0.to_le_bytes());
    header.extend_from_slice(&(data.len() as u64).to_le_bytes());
    header.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
    let header_crc = crc32fast::hash(&header);
    header.extend_from_slice(&header_crc.to_le_bytes());
    put_in_place(dir, &snapshot_name(generation), &[&header, data], fsync)
}

/// A snapshot read back from its file.
#[derive(Debug, Clone)]
pub struct SnapshotFile {
    /// The last index it covers.
    pub index: LogIndex,
    /// The term of that entry.
    pub term: Term,
    /// The service's bytes.
    pub data: Bytes,
}

/// Reads and checks a snapshot file. Any damage is corruption: the file was put in
/// place whole.
pub fn read_snapshot(path: &Path) -> Result<SnapshotFile, WalError> {
    let bytes = fs::read(path).map_err(|e| WalError::io(path, "read", e))?;
    let corrupt = |offset: usize, reason: &str| WalError::Corrupt {
        file: path.to_path_buf(),
        offset: offset as u64,
        reason: reason.to_string(),
    };
    if bytes.len() < SNAPSHOT_HEADER_BYTES || &bytes[..8] != SNAPSHOT_MAGIC {
        return Err(corrupt(
            0,
            "not a snapshot file (bad magic or short header)",
        ));
    }
    let word = |at: usize| {
        let mut raw = [0u8; 8];
        raw.copy_from_slice(&bytes[at..at + 8]);
        u64::from_le_bytes(raw)
    };
    let half =
        |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    if crc32fast::hash(&bytes[..36]) != half(36) {
        return Err(corrupt(0, "the snapshot header's checksum does not match"));
    }
    let (index, term, len) = (word(8), word(16), word(24));
    let data_crc = half(32);
    if len != (bytes.len() - SNAPSHOT_HEADER_BYTES) as u64 {
        return Err(corrupt(24, "the snapshot length does not match the file"));
    }
    let data = Bytes::from(bytes).slice(SNAPSHOT_HEADER_BYTES..);
    if crc32fast::hash(&data) != data_crc {
        return Err(corrupt(
            SNAPSHOT_HEADER_BYTES,
            "the snapshot data's checksum does not match",
        ));
    }
    Ok(SnapshotFile {
        index: LogIndex(index),
        term: Term(term),
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_file_round_trips_and_any_flip_is_caught() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_snapshot(dir.path(), 7, LogIndex(42), Term(3), b"state", true).unwrap();
        assert_eq!(path.file_name().unwrap(), "snap-00000007.bin");
        let read = read_snapshot(&path).unwrap();
        assert_eq!((read.index, read.term), (LogIndex(42), Term(3)));
        assert_eq!(&read.data[..], b"state");
        let good = fs::read(&path).unwrap();
        for flip in 0..good.len() {
            let mut bad = good.clone();
            bad[flip] ^= 0x10;
            fs::write(&path, &bad).unwrap();
            assert!(
                matches!(read_snapshot(&path), Err(WalError::Corrupt { .. })),
                "flip at {flip}"
            );
        }
        assert!(list(dir.path()).unwrap().temporary.is_empty());
    }

    #[test]
    fn the_listing_sorts_generations_and_ignores_strangers() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "wal-00000010.log",
            "wal-00000002.log",
            "snap-00000002.bin",
            "x.tmp",
            "notes",
        ] {
            fs::write(dir.path().join(name), b"").unwrap();
        }
        let listing = list(dir.path()).unwrap();
        assert_eq!(listing.logs, vec![2, 10]);
        assert_eq!(listing.snapshots, vec![2]);
        assert_eq!(listing.temporary.len(), 1);
    }
}
