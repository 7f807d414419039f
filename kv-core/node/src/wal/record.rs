//! The records of a log file, their encoding, and the scan that tells a good record
//! from a torn tail and from corruption.
//!
//! ```text
//! file   := MAGIC record*
//! record := len: u32 LE | body_crc: u32 LE | header_crc: u32 LE | body (len bytes)
//! body   := kind: u8 | prost payload
//! ```
//!
//! `body_crc` is the CRC-32 of the body; `header_crc` the CRC-32 of the first eight
//! bytes, so that a damaged length is caught before it is trusted. Kinds: 1 `Begin`
//! (always the first record: the file's generation and the snapshot it follows),
//! 2 hard state, 3 append, 4 truncate. A snapshot is not a record: it is a file of its
//! own, and the log is rotated after it (see [`super`]).

use bytes::{Buf, Bytes};
use prost::Message as _;
use raft_core::{Entries, Entry, LogIndex, NodeId, PersistAction, Term};

/// The first eight bytes of every log file.
pub const MAGIC: &[u8; 8] = b"kvnwal\x00\x01";

/// The bytes of a record header.
pub const HEADER_BYTES: usize = 12;

/// The largest record body a reader accepts.
pub const MAX_BODY_BYTES: usize = 512 << 20;

/// Appends are split into records of about this many bytes of commands (one command is
/// at most a client frame, 4 MiB), so every record stays far below [`MAX_BODY_BYTES`].
pub const APPEND_RECORD_BYTES: usize = 8 << 20;

const KIND_BEGIN: u8 = 1;
const KIND_HARD_STATE: u8 = 2;
const KIND_APPEND: u8 = 3;
const KIND_TRUNCATE: u8 = 4;

/// The first record of a log file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Begin {
    /// This file's generation (`wal-<generation>.log`).
    pub generation: u64,
    /// The snapshot file the log follows (`snap-<generation>.bin`); 0 for none.
    pub snapshot_generation: u64,
    /// The last index that snapshot covers (0 for none).
    pub snapshot_index: LogIndex,
    /// The term of that entry.
    pub snapshot_term: Term,
}

/// One record of a log file.
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    /// The file's header record.
    Begin(Begin),
    /// A persist action other than a snapshot.
    Persist(PersistAction),
}

#[derive(Clone, PartialEq, prost::Message)]
struct BeginRecord {
    #[prost(uint64, tag = "1")]
    generation: u64,
    #[prost(uint64, tag = "2")]
    snapshot_generation: u64,
    #[prost(uint64, tag = "3")]
    snapshot_index: u64,
    #[prost(uint64, tag = "4")]
    snapshot_term: u64,
}

#[derive(Clone, PartialEq, prost::Message)]
struct HardStateRecord {
    #[prost(uint64, tag = "1")]
    term: u64,
    /// 0 for no vote.
    #[prost(uint64, tag = "2")]
    voted_for: u64,
}

#[derive(Clone, PartialEq, prost::Message)]
struct AppendRecord {
    #[prost(message, repeated, tag = "1")]
    entries: Vec<EntryRecord>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct EntryRecord {
    #[prost(uint64, tag = "1")]
    index: u64,
    #[prost(uint64, tag = "2")]
    term: u64,
    #[prost(bytes = "bytes", tag = "3")]
    data: Bytes,
}

#[derive(Clone, PartialEq, prost::Message)]
struct TruncateRecord {
    #[prost(uint64, tag = "1")]
    index: u64,
}

/// Why a record body does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// An empty body (no kind byte).
    #[error("empty record body")]
    Empty,
    /// A kind this version does not know.
    #[error("unknown record kind {0}")]
    UnknownKind(u8),
    /// The payload is not valid protobuf for its kind.
    #[error("malformed payload: {0}")]
    Protobuf(#[from] prost::DecodeError),
}

/// Appends one encoded record to `out`. A snapshot action has no record form: the
/// caller rotates the log instead.
pub fn encode(out: &mut Vec<u8>, record: &Record) {
    let start = out.len();
    out.extend_from_slice(&[0u8; HEADER_BYTES]);
    match record {
        Record::Begin(begin) => {
            out.push(KIND_BEGIN);
            BeginRecord {
                generation: begin.generation,
                snapshot_generation: begin.snapshot_generation,
                snapshot_index: begin.snapshot_index.0,
                snapshot_term: begin.snapshot_term.0,
            }
            .encode_raw(out);
        }
        Record::Persist(PersistAction::HardState { term, voted_for }) => {
            out.push(KIND_HARD_STATE);
            let voted_for = voted_for.map_or(0, |id| id.0);
            HardStateRecord {
                term: term.0,
                voted_for,
            }
            .encode_raw(out);
        }
        Record::Persist(PersistAction::Append(entries)) => {
            out.push(KIND_APPEND);
            encode_entries(out, entries);
        }
        Record::Persist(PersistAction::TruncateFrom(index)) => {
            out.push(KIND_TRUNCATE);
            TruncateRecord { index: index.0 }.encode_raw(out);
        }
        Record::Persist(PersistAction::Snapshot { .. }) => {
            debug_assert!(false, "a snapshot is a file, not a log record");
            out.truncate(start);
            return;
        }
    }
    seal(out, start);
}

/// Appends `entries` as one or more append records of about [`APPEND_RECORD_BYTES`]
/// each, in order; returns how many. A torn tail may keep a prefix of them, which is
/// a prefix of the entries: still a log Raft accepts (they were not acknowledged).
pub fn encode_append(out: &mut Vec<u8>, entries: &Entries) -> u64 {
    let mut records = 0;
    let mut start = 0;
    while start < entries.len() {
        let mut end = start;
        let mut bytes = 0;
        while let Some(entry) = entries
            .get(end)
            .filter(|_| end == start || bytes < APPEND_RECORD_BYTES)
        {
            bytes += entry.data().len();
            end += 1;
        }
        encode(
            out,
            &Record::Persist(PersistAction::Append(entries.slice(start..end))),
        );
        records += 1;
        start = end;
    }
    records
}

fn encode_entries(out: &mut Vec<u8>, entries: &Entries) {
    AppendRecord {
        entries: entries
            .iter()
            .map(|entry| EntryRecord {
                index: entry.index().0,
                term: entry.term().0,
                data: entry.data().clone(),
            })
            .collect(),
    }
    .encode_raw(out);
}

/// Fills in the header of the record that starts at `start` and runs to the end of `out`.
fn seal(out: &mut [u8], start: usize) {
    let body = &out[start + HEADER_BYTES..];
    let len = u32::try_from(body.len()).unwrap_or(u32::MAX);
    let body_crc = crc32fast::hash(body);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&body_crc.to_le_bytes());
    let header_crc = crc32fast::hash(&out[start..start + 8]);
    out[start + 8..start + 12].copy_from_slice(&header_crc.to_le_bytes());
}

/// Decodes a record body (zero-copy: entry data are slices of `body`).
pub fn decode_body(mut body: Bytes) -> Result<Record, BodyError> {
    if body.is_empty() {
        return Err(BodyError::Empty);
    }
    let kind = body.get_u8();
    Ok(match kind {
        KIND_BEGIN => {
            let begin = BeginRecord::decode(body)?;
            Record::Begin(Begin {
                generation: begin.generation,
                snapshot_generation: begin.snapshot_generation,
                snapshot_index: LogIndex(begin.snapshot_index),
                snapshot_term: Term(begin.snapshot_term),
            })
        }
        KIND_HARD_STATE => {
            let hard = HardStateRecord::decode(body)?;
            Record::Persist(PersistAction::HardState {
                term: Term(hard.term),
                voted_for: (hard.voted_for != 0).then_some(NodeId(hard.voted_for)),
            })
        }
        KIND_APPEND => {
            let append = AppendRecord::decode(body)?;
            let entries = append
                .entries
                .into_iter()
                .map(|e| Entry::new(LogIndex(e.index), Term(e.term), e.data))
                .collect();
            Record::Persist(PersistAction::Append(entries))
        }
        KIND_TRUNCATE => {
            let truncate = TruncateRecord::decode(body)?;
            Record::Persist(PersistAction::TruncateFrom(LogIndex(truncate.index)))
        }
        other => return Err(BodyError::UnknownKind(other)),
    })
}

/// What the scan finds at one offset.
#[derive(Debug, Clone, PartialEq)]
pub enum Found {
    /// A record whose header and body checksums hold: its body runs to `end`.
    Record {
        /// The record's first byte.
        offset: usize,
        /// The byte after it.
        end: usize,
        /// Its body (kind byte and payload).
        body: Bytes,
    },
    /// What a crash in the middle of the last write leaves: from `offset` to the end of
    /// the file there is a partial record, a last record whose body checksum fails, or
    /// nothing but zeros.
    TornTail {
        /// Where the torn record starts.
        offset: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// A damaged record with more bytes after it: not what a crash leaves.
    Corrupt {
        /// Where the damaged record starts.
        offset: usize,
        /// What is wrong with it.
        reason: String,
    },
}

/// Reads the record at `offset` of `file` (which must be past the magic); `None` at the
/// end of the file.
pub fn scan_at(file: &Bytes, offset: usize) -> Option<Found> {
    let rest = file.len().checked_sub(offset).filter(|&n| n > 0)?;
    let torn = |reason: String| Some(Found::TornTail { offset, reason });
    let corrupt = |reason: String| Some(Found::Corrupt { offset, reason });
    if rest < HEADER_BYTES {
        return torn(format!("{rest} bytes, less than a record header"));
    }
    let header = &file[offset..offset + HEADER_BYTES];
    let word = |at: usize| {
        u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
    };
    let (len, body_crc, header_crc) = (word(0) as usize, word(4), word(8));
    if crc32fast::hash(&header[..8]) != header_crc {
        if file[offset..].iter().all(|&byte| byte == 0) {
            return torn(format!("{rest} zero bytes"));
        }
        return corrupt("the record header's checksum does not match".into());
    }
    if len > MAX_BODY_BYTES {
        return corrupt(format!("a record body of {len} bytes is above the limit"));
    }
    let end = offset + HEADER_BYTES + len;
    if end > file.len() {
        return torn(format!(
            "the record needs {} bytes, the file has {rest}",
            HEADER_BYTES + len
        ));
    }
    let body = file.slice(offset + HEADER_BYTES..end);
    if crc32fast::hash(&body) != body_crc {
        let reason = "the record body's checksum does not match".to_string();
        return if end == file.len() {
            torn(reason)
        } else {
            corrupt(reason)
        };
    }
    Some(Found::Record { offset, end, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Record> {
        vec![
            Record::Begin(Begin {
                generation: 3,
                snapshot_generation: 2,
                snapshot_index: LogIndex(10),
                snapshot_term: Term(2),
            }),
            Record::Persist(PersistAction::HardState {
                term: Term(4),
                voted_for: Some(NodeId(2)),
            }),
            Record::Persist(PersistAction::HardState {
                term: Term(5),
                voted_for: None,
            }),
            Record::Persist(PersistAction::Append(
                vec![
                    Entry::new(LogIndex(11), Term(4), Bytes::from_static(b"a")),
                    Entry::new(LogIndex(12), Term(5), Bytes::new()),
                ]
                .into(),
            )),
            Record::Persist(PersistAction::TruncateFrom(LogIndex(12))),
        ]
    }

    fn file_of(records: &[Record]) -> Bytes {
        let mut out = MAGIC.to_vec();
        for record in records {
            encode(&mut out, record);
        }
        Bytes::from(out)
    }

    fn scan_all(file: &Bytes) -> Vec<Found> {
        let mut found = Vec::new();
        let mut offset = MAGIC.len();
        while let Some(item) = scan_at(file, offset) {
            match &item {
                Found::Record { end, .. } => offset = *end,
                _ => {
                    found.push(item);
                    break;
                }
            }
            found.push(item);
        }
        found
    }

    #[test]
    fn records_round_trip() {
        let records = sample();
        let file = file_of(&records);
        let decoded: Vec<Record> = scan_all(&file)
            .into_iter()
            .map(|found| match found {
                Found::Record { body, .. } => decode_body(body).unwrap(),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(decoded, records);
    }

    #[test]
    fn every_cut_of_the_last_record_is_a_torn_tail() {
        let file = file_of(&sample());
        let last_start = match scan_all(&file).last() {
            Some(Found::Record { offset, .. }) => *offset,
            other => panic!("unexpected {other:?}"),
        };
        for cut in last_start + 1..file.len() {
            let found = scan_all(&file.slice(..cut));
            assert!(
                matches!(found.last(), Some(Found::TornTail { offset, .. }) if *offset == last_start),
                "cut at {cut}: {found:?}"
            );
        }
    }

    #[test]
    fn a_flipped_byte_before_the_last_record_is_corruption_at_its_record() {
        let file = file_of(&sample());
        let offsets: Vec<(usize, usize)> = scan_all(&file)
            .iter()
            .map(|found| match found {
                Found::Record { offset, end, .. } => (*offset, *end),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        let (last_start, _) = offsets[offsets.len() - 1];
        for flip in MAGIC.len()..last_start {
            let mut bytes = file.to_vec();
            bytes[flip] ^= 0x40;
            let found = scan_all(&Bytes::from(bytes));
            let (start, _) = offsets
                .iter()
                .find(|(s, e)| (*s..*e).contains(&flip))
                .unwrap();
            assert!(
                matches!(found.last(), Some(Found::Corrupt { offset, .. }) if offset == start),
                "flip at {flip}: {found:?}"
            );
        }
    }

    #[test]
    fn a_zero_filled_tail_is_torn_and_a_flip_in_the_last_body_is_torn() {
        let file = file_of(&sample());
        let mut zeros = file.to_vec();
        zeros.extend_from_slice(&[0u8; 40]);
        let found = scan_all(&Bytes::from(zeros));
        assert!(
            matches!(found.last(), Some(Found::TornTail { offset, .. }) if *offset == file.len())
        );
        let mut flipped = file.to_vec();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        let found = scan_all(&Bytes::from(flipped));
        assert!(matches!(found.last(), Some(Found::TornTail { .. })));
    }

    #[test]
    fn a_large_append_is_split_into_records_that_decode_to_the_same_entries() {
        let big = Bytes::from(vec![b'x'; 3 << 20]);
        let entries: Entries = (1..=7)
            .map(|i| Entry::new(LogIndex(i), Term(1), big.clone()))
            .collect();
        let mut out = MAGIC.to_vec();
        let records = encode_append(&mut out, &entries);
        assert_eq!(records, 3, "3 + 3 + 1 entries of 3 MiB");
        let mut decoded = Vec::new();
        for found in scan_all(&Bytes::from(out)) {
            let Found::Record { body, .. } = found else {
                panic!("unexpected {found:?}")
            };
            let Record::Persist(PersistAction::Append(part)) = decode_body(body).unwrap() else {
                panic!("not an append")
            };
            assert!(part.len() <= 3);
            decoded.extend(part.to_vec());
        }
        assert_eq!(decoded, entries.to_vec());
        assert_eq!(encode_append(&mut Vec::new(), &Entries::new()), 0);
    }

    #[test]
    fn bodies_that_do_not_decode_are_typed_errors() {
        assert_eq!(decode_body(Bytes::new()), Err(BodyError::Empty));
        assert_eq!(
            decode_body(Bytes::from_static(&[9])),
            Err(BodyError::UnknownKind(9))
        );
        assert!(matches!(
            decode_body(Bytes::from_static(&[KIND_APPEND, 0xff, 0xff])),
            Err(BodyError::Protobuf(_))
        ));
    }
}
