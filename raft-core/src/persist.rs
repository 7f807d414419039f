//! What a node persists: the persist actions it emits, the in-memory image of the disk
//! that a driver builds by applying them in order, and that image's prost encoding.
//!
//! The raft state (term, vote, snapshot position, log entries) and the snapshot bytes are
//! two blobs, as in the lab's persister; [`PersistedState::raft_state_size`] is the
//! encoded size of the first, kept up to date incrementally.

use std::collections::VecDeque;

use bytes::Bytes;
use prost::Message as _;

use crate::entries::Entries;
use crate::message::{DecodeError, Entry};
use crate::types::{LogIndex, NodeId, Term, MAX_TERM_OR_INDEX};

/// One change to durable state. A driver carries these out in order, before any later
/// action of the same step.
#[derive(Clone, Debug, PartialEq)]
pub enum PersistAction {
    /// The current term and vote changed.
    HardState {
        /// The current term.
        term: Term,
        /// Who this node voted for in `term`, if anyone.
        voted_for: Option<NodeId>,
    },
    /// Entries appended right after the current last entry (a run shared with the log).
    Append(Entries),
    /// Every entry at `index` or later is dropped.
    TruncateFrom(LogIndex),
    /// A snapshot covering everything up to `index` (whose entry has `term`) replaces the
    /// old one. Entries up to `index` are dropped; if the log does not hold `index` with
    /// `term`, the whole log is dropped.
    ///
    /// This is the only action that changes the snapshot blob; it also changes the raft
    /// state blob (the snapshot position and the dropped entries). A driver that keeps the
    /// two blobs apart (as the lab's persister does) rewrites both, atomically, on this
    /// action, and only the raft state on every other.
    Snapshot {
        /// The last index the snapshot covers.
        index: LogIndex,
        /// The term of that entry.
        term: Term,
        /// The service's snapshot bytes.
        data: Bytes,
    },
}

/// The durable state of one node: what a disk holds after the persist actions so far.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PersistedState {
    term: Term,
    voted_for: Option<NodeId>,
    snapshot_index: LogIndex,
    snapshot_term: Term,
    snapshot_data: Bytes,
    entries: VecDeque<Entry>,
    entries_encoded_len: usize,
}

/// Why a persist action could not be applied to a [`PersistedState`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PersistError {
    /// An append that does not start right after the last entry.
    #[error("append starts at {got}, expected {expected}")]
    NonContiguousAppend {
        /// The first index of the append.
        got: LogIndex,
        /// The index after the current last entry.
        expected: LogIndex,
    },
    /// A truncation of entries already covered by the snapshot.
    #[error("truncation from {index} reaches into the snapshot (which ends at {snapshot_index})")]
    TruncateIntoSnapshot {
        /// The truncation point.
        index: LogIndex,
        /// The snapshot's last index.
        snapshot_index: LogIndex,
    },
}

/// Why a persisted state contradicts itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// The bytes did not decode.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// Entries are not consecutive from the snapshot index + 1.
    #[error("entry at position {position} has index {got}, expected {expected}")]
    Gap {
        /// Position in the entry list.
        position: usize,
        /// The index found.
        got: LogIndex,
        /// The index expected.
        expected: LogIndex,
    },
    /// An entry's term is below its predecessor's (or the snapshot's).
    #[error("entry {index} has term {term}, below the previous term {previous}")]
    TermDecreases {
        /// The entry's index.
        index: LogIndex,
        /// Its term.
        term: Term,
        /// The previous entry's term.
        previous: Term,
    },
    /// The log holds an entry from a term after the current term.
    #[error("log holds term {log_term}, after the current term {term}")]
    FutureTerm {
        /// The largest term in the log.
        log_term: Term,
        /// The current term.
        term: Term,
    },
    /// A snapshot index of zero with a nonzero term.
    #[error("snapshot at index 0 with term {0}")]
    EmptySnapshotWithTerm(Term),
    /// A term or index past 2^62, which no real log reaches (the state is corrupt).
    #[error("term or index {0} is past the supported maximum 2^62")]
    OutOfRange(u64),
}

/// The prost form of the raft state blob.
#[derive(Clone, PartialEq, prost::Message)]
struct RaftStateRecord {
    #[prost(uint64, tag = "1")]
    term: u64,
    #[prost(uint64, tag = "2")]
    voted_for: u64,
    #[prost(uint64, tag = "3")]
    snapshot_index: u64,
    #[prost(uint64, tag = "4")]
    snapshot_term: u64,
    #[prost(message, repeated, tag = "5")]
    entries: Vec<Entry>,
}

/// The bytes one entry takes inside the encoded raft state (field tag, length, body).
pub fn entry_record_len(entry: &Entry) -> usize {
    use prost::encoding::encoded_len_varint;
    // The prost encoding of an Entry, written out: each field that is not zero (or
    // empty) takes a one-byte key and its varint (and, for the data, its bytes).
    let number = |value: u64| usize::from(value != 0) * (1 + encoded_len_varint(value));
    let data = entry.data.len();
    let body = number(entry.index)
        + number(entry.term)
        + usize::from(data != 0) * (1 + encoded_len_varint(data as u64) + data);
    1 + encoded_len_varint(body as u64) + body
}

/// The bytes the fixed part of the raft state (term, vote, snapshot position) takes.
pub fn header_record_len(
    term: Term,
    voted_for: Option<NodeId>,
    snapshot_index: LogIndex,
    snapshot_term: Term,
) -> usize {
    RaftStateRecord {
        term: term.0,
        voted_for: voted_for.map_or(0, |id| id.0),
        snapshot_index: snapshot_index.0,
        snapshot_term: snapshot_term.0,
        entries: Vec::new(),
    }
    .encoded_len()
}

impl PersistedState {
    /// The state of a node that never persisted anything.
    pub fn new() -> PersistedState {
        PersistedState::default()
    }

    /// Carries out one persist action.
    pub fn apply(&mut self, action: &PersistAction) -> Result<(), PersistError> {
        match action {
            PersistAction::HardState { term, voted_for } => {
                self.term = *term;
                self.voted_for = *voted_for;
            }
            PersistAction::Append(entries) => {
                for entry in entries {
                    let expected = self.last_index().next();
                    if entry.index() != expected {
                        return Err(PersistError::NonContiguousAppend {
                            got: entry.index(),
                            expected,
                        });
                    }
                    self.entries_encoded_len += entry_record_len(entry);
                    self.entries.push_back(entry.clone());
                }
            }
            PersistAction::TruncateFrom(index) => {
                if *index <= self.snapshot_index {
                    return Err(PersistError::TruncateIntoSnapshot {
                        index: *index,
                        snapshot_index: self.snapshot_index,
                    });
                }
                while self.entries.back().is_some_and(|e| e.index() >= *index) {
                    if let Some(entry) = self.entries.pop_back() {
                        self.entries_encoded_len -= entry_record_len(&entry);
                    }
                }
            }
            PersistAction::Snapshot { index, term, data } => {
                let keeps_log = self.term_at(*index) == Some(*term);
                if keeps_log {
                    while self.entries.front().is_some_and(|e| e.index() <= *index) {
                        if let Some(entry) = self.entries.pop_front() {
                            self.entries_encoded_len -= entry_record_len(&entry);
                        }
                    }
                } else {
                    self.entries.clear();
                    self.entries_encoded_len = 0;
                }
                self.snapshot_index = *index;
                self.snapshot_term = *term;
                self.snapshot_data = data.clone();
            }
        }
        Ok(())
    }

    /// The current term.
    pub fn term(&self) -> Term {
        self.term
    }

    /// The vote cast in the current term.
    pub fn voted_for(&self) -> Option<NodeId> {
        self.voted_for
    }

    /// The last index covered by the snapshot (0 if none).
    pub fn snapshot_index(&self) -> LogIndex {
        self.snapshot_index
    }

    /// The term of the snapshot's last entry.
    pub fn snapshot_term(&self) -> Term {
        self.snapshot_term
    }

    /// The snapshot bytes (empty if none).
    pub fn snapshot_data(&self) -> &Bytes {
        &self.snapshot_data
    }

    /// The entries after the snapshot.
    pub fn entries(&self) -> &VecDeque<Entry> {
        &self.entries
    }

    /// The index of the last entry (or of the snapshot, if the log is empty).
    pub fn last_index(&self) -> LogIndex {
        self.entries
            .back()
            .map_or(self.snapshot_index, |entry| entry.index())
    }

    fn term_at(&self, index: LogIndex) -> Option<Term> {
        if index == self.snapshot_index {
            return Some(self.snapshot_term);
        }
        let offset = index.0.checked_sub(self.snapshot_index.0 + 1)?;
        self.entries
            .get(usize::try_from(offset).ok()?)
            .map(Entry::term)
    }

    /// The encoded size of the raft state blob (the snapshot bytes excluded).
    pub fn raft_state_size(&self) -> usize {
        header_record_len(
            self.term,
            self.voted_for,
            self.snapshot_index,
            self.snapshot_term,
        ) + self.entries_encoded_len
    }

    /// Encodes the raft state blob.
    pub fn encode_raft_state(&self) -> Vec<u8> {
        RaftStateRecord {
            term: self.term.0,
            voted_for: self.voted_for.map_or(0, |id| id.0),
            snapshot_index: self.snapshot_index.0,
            snapshot_term: self.snapshot_term.0,
            entries: self.entries.iter().cloned().collect(),
        }
        .encode_to_vec()
    }

    /// Decodes the two blobs a disk holds and checks that they agree with themselves.
    /// Two empty blobs (a node that never persisted anything) decode to
    /// [`PersistedState::new`].
    pub fn decode(raft_state: &[u8], snapshot: &[u8]) -> Result<PersistedState, StateError> {
        let record = RaftStateRecord::decode(raft_state).map_err(DecodeError::from)?;
        let entries_encoded_len = record.entries.iter().map(entry_record_len).sum();
        let state = PersistedState {
            term: Term(record.term),
            voted_for: (record.voted_for != 0).then_some(NodeId(record.voted_for)),
            snapshot_index: LogIndex(record.snapshot_index),
            snapshot_term: Term(record.snapshot_term),
            snapshot_data: Bytes::copy_from_slice(snapshot),
            entries: record.entries.into(),
            entries_encoded_len,
        };
        state.validate()?;
        Ok(state)
    }

    /// Checks that the state agrees with itself: consecutive entries after the snapshot,
    /// terms never decreasing and never past the current term, no number past 2^62.
    pub fn validate(&self) -> Result<(), StateError> {
        let numbers = [self.term.0, self.snapshot_index.0, self.snapshot_term.0];
        let last = self
            .snapshot_index
            .0
            .saturating_add(self.entries.len() as u64);
        if let Some(&past) = numbers
            .iter()
            .chain([&last])
            .find(|&&n| n > MAX_TERM_OR_INDEX)
        {
            return Err(StateError::OutOfRange(past));
        }
        if self.snapshot_index == LogIndex::ZERO && self.snapshot_term != Term::ZERO {
            return Err(StateError::EmptySnapshotWithTerm(self.snapshot_term));
        }
        let mut previous = self.snapshot_term;
        for (position, entry) in self.entries.iter().enumerate() {
            let expected = self.snapshot_index.plus(position as u64 + 1);
            if entry.index() != expected {
                return Err(StateError::Gap {
                    position,
                    got: entry.index(),
                    expected,
                });
            }
            if entry.term() < previous {
                return Err(StateError::TermDecreases {
                    index: entry.index(),
                    term: entry.term(),
                    previous,
                });
            }
            previous = entry.term();
        }
        if previous > self.term {
            return Err(StateError::FutureTerm {
                log_term: previous,
                term: self.term,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_record_len_is_the_size_of_the_encoded_record() {
        let sizes = [0u64, 1, 127, 128, 300, 1 << 20, MAX_TERM_OR_INDEX];
        for (index, term, data) in sizes.iter().flat_map(|&i| {
            sizes
                .iter()
                .flat_map(move |&t| [0, 1, 127, 128, 20_000].map(|d| (i, t, d)))
        }) {
            let entry = Entry::new(LogIndex(index), Term(term), Bytes::from(vec![7; data]));
            let record = RaftStateRecord {
                entries: vec![entry.clone()],
                ..RaftStateRecord::default()
            };
            assert_eq!(entry_record_len(&entry), record.encoded_len(), "{entry:?}");
        }
    }
}
