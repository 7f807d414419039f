//! The AppendEntries request: its fields, accessors and protobuf codec.
//!
//! The codec is written out (rather than derived) because the entries are a shared
//! [`Entries`] run, not a `Vec`: the wire format is the derived one's (field 3 repeated
//! `Entry`), so nodes of either build speak to each other.

use bytes::{Buf, BufMut};
use prost::encoding::{message, skip_field, uint64, DecodeContext, WireType};
use prost::DecodeError;

use crate::entries::Entries;
use crate::message::Entry;
use crate::types::{LogIndex, Term};

/// AppendEntries (Figure 2).
///
/// Its entries are an [`Entries`] run: a leader's message shares them with its log.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AppendEntries {
    pub(crate) prev_log_index: u64,
    pub(crate) prev_log_term: u64,
    pub(crate) entries: Entries,
    pub(crate) leader_commit: u64,
    pub(crate) round: u64,
}

impl AppendEntries {
    /// Entries consecutive from `prev_log_index + 1` (none for a heartbeat), after the
    /// entry at (`prev_log_index`, `prev_log_term`), with the leader's commit index.
    pub fn new(
        prev_log_index: LogIndex,
        prev_log_term: Term,
        entries: impl Into<Entries>,
        leader_commit: LogIndex,
    ) -> AppendEntries {
        AppendEntries {
            prev_log_index: prev_log_index.0,
            prev_log_term: prev_log_term.0,
            entries: entries.into(),
            leader_commit: leader_commit.0,
            round: 0,
        }
    }

    /// The same request tagged with the leader's current heartbeat round (see
    /// [`AppendEntries::round`]).
    #[must_use]
    pub fn with_round(mut self, round: u64) -> AppendEntries {
        self.round = round;
        self
    }

    /// The index of the entry just before `entries`.
    pub fn prev_log_index(&self) -> LogIndex {
        LogIndex(self.prev_log_index)
    }

    /// The term of that entry.
    pub fn prev_log_term(&self) -> Term {
        Term(self.prev_log_term)
    }

    /// The entries to store.
    pub fn entries(&self) -> &Entries {
        &self.entries
    }

    /// The entries to store, by value.
    pub fn into_entries(self) -> Entries {
        self.entries
    }

    /// The leader's commit index.
    pub fn leader_commit(&self) -> LogIndex {
        LogIndex(self.leader_commit)
    }

    /// The leader's heartbeat round when it sent this request (0: none). The follower
    /// echoes it in its reply; a majority echoing a round started after a read was asked
    /// confirms that the leader still led then (ReadIndex).
    pub fn round(&self) -> u64 {
        self.round
    }
}

/// The most bytes an AppendEntries message takes besides its entries: the envelope
/// (sender, receiver, term, and the body's tag and length) and the request's four numbers,
/// each at most 11 bytes (a one-byte tag and a varint of at most 10 bytes).
const APPEND_ENTRIES_HEADER_MAX_BYTES: usize = 8 * 11;

/// The bytes of entries (each counted as [`entry_record_len`](crate::entry_record_len),
/// its size inside the message) an AppendEntries may carry so that the whole message
/// stays within `max_message_bytes`.
pub(crate) fn append_entries_budget(max_message_bytes: usize) -> usize {
    max_message_bytes.saturating_sub(APPEND_ENTRIES_HEADER_MAX_BYTES)
}

impl prost::Message for AppendEntries {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        let numbers = [(1, self.prev_log_index), (2, self.prev_log_term)];
        for (tag, value) in numbers.into_iter().filter(|&(_, value)| value != 0) {
            uint64::encode(tag, &value, buf);
        }
        for entry in &self.entries {
            message::encode(3, entry, buf);
        }
        let numbers = [(4, self.leader_commit), (5, self.round)];
        for (tag, value) in numbers.into_iter().filter(|&(_, value)| value != 0) {
            uint64::encode(tag, &value, buf);
        }
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        const STRUCT: &str = "AppendEntries";
        let named = |field: &'static str| {
            move |mut error: DecodeError| {
                error.push(STRUCT, field);
                error
            }
        };
        match tag {
            1 => uint64::merge(wire_type, &mut self.prev_log_index, buf, ctx)
                .map_err(named("prev_log_index")),
            2 => uint64::merge(wire_type, &mut self.prev_log_term, buf, ctx)
                .map_err(named("prev_log_term")),
            3 => {
                let mut entry = Entry::default();
                message::merge(wire_type, &mut entry, buf, ctx).map_err(named("entries"))?;
                self.entries.push(entry);
                Ok(())
            }
            4 => uint64::merge(wire_type, &mut self.leader_commit, buf, ctx)
                .map_err(named("leader_commit")),
            5 => uint64::merge(wire_type, &mut self.round, buf, ctx).map_err(named("round")),
            _ => skip_field(wire_type, tag, buf, ctx),
        }
    }

    fn encoded_len(&self) -> usize {
        let numbers = [
            (1, self.prev_log_index),
            (2, self.prev_log_term),
            (4, self.leader_commit),
            (5, self.round),
        ];
        let numbers: usize = numbers
            .iter()
            .filter(|(_, value)| *value != 0)
            .map(|(tag, value)| uint64::encoded_len(*tag, value))
            .sum();
        // Each entry's field is its record (`entry_record_len`), kept by its chunk.
        numbers + self.entries.records_len()
    }

    fn clear(&mut self) {
        *self = AppendEntries::default();
    }
}
