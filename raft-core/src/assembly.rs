//! The follower's assembly of a snapshot sent in chunks: the bytes received so far of one
//! snapshot, volatile (a crash loses them, and the leader starts again from offset 0).
//!
//! Chunks are taken in order only: a chunk is appended if it starts exactly where the
//! assembly ends. A duplicate, an earlier chunk or one past a gap changes nothing; the
//! follower answers with how far it got, and the leader sends the chunk from there. A
//! chunk of another snapshot (another last index, last term or total length) starts a
//! new assembly only if it is newer: from a later leader term, or from the same leader
//! with a later index (a leader's snapshots only grow). Chunks of an older snapshot that
//! the network delayed are ignored. The snapshot is handed over only once all its bytes
//! are there, so an incomplete or mixed snapshot is never installed.

use std::fmt;

use bytes::Bytes;

use crate::message::{ChunkPlace, InstallSnapshot};
use crate::types::{LogIndex, Term};

/// The bytes received so far of one snapshot.
#[derive(Clone, Default)]
pub(crate) struct Assembly {
    /// The snapshot's last included index.
    index: LogIndex,
    /// The snapshot's last included term.
    term: Term,
    /// The snapshot's length.
    total_len: u64,
    /// The term of the leader that started sending it.
    leader_term: Term,
    /// Its first bytes, as received (never longer than `total_len`).
    data: Vec<u8>,
}

/// What a chunk did to the follower's assembly.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ChunkOutcome {
    /// The snapshot is complete: install these bytes.
    Complete(Bytes),
    /// The snapshot is not complete: the follower holds this many bytes of it.
    Partial {
        /// Where the next chunk should start.
        next_offset: u64,
    },
    /// The chunk belongs to an older snapshot than the one being assembled: ignore it.
    Stale,
}

impl Assembly {
    fn is_of(&self, chunk: &InstallSnapshot, place: ChunkPlace) -> bool {
        self.index == chunk.last_included_index()
            && self.term == chunk.last_included_term()
            && self.total_len == place.total_len
    }

    /// Whether a chunk sent in `leader_term` speaks of a newer snapshot than this one.
    fn is_older_than(&self, chunk: &InstallSnapshot, leader_term: Term) -> bool {
        leader_term > self.leader_term
            || (leader_term == self.leader_term && chunk.last_included_index() > self.index)
    }

    fn received(&self) -> u64 {
        self.data.len() as u64
    }
}

impl fmt::Debug for Assembly {
    /// The position and progress only: the bytes may be many megabytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Assembly")
            .field("index", &self.index)
            .field("term", &self.term)
            .field("total_len", &self.total_len)
            .field("leader_term", &self.leader_term)
            .field("received", &self.data.len())
            .finish()
    }
}

/// Takes `chunk` (whose fields were found consistent, at `place`), sent by the leader of
/// `leader_term`, into the assembly in `slot`.
pub(crate) fn take_chunk(
    slot: &mut Option<Assembly>,
    leader_term: Term,
    chunk: InstallSnapshot,
    place: ChunkPlace,
) -> ChunkOutcome {
    let ours = match slot.as_ref() {
        Some(assembly) if assembly.is_of(&chunk, place) => true,
        Some(assembly) if !assembly.is_older_than(&chunk, leader_term) => {
            return ChunkOutcome::Stale;
        }
        _ => false,
    };
    if place.is_whole() {
        *slot = None;
        return ChunkOutcome::Complete(chunk.data);
    }
    if !ours {
        *slot = None;
        if place.offset != 0 {
            // A newer snapshot, but not its start (we restarted, or lost it): ask for it.
            return ChunkOutcome::Partial { next_offset: 0 };
        }
    }
    let assembly = slot.get_or_insert_with(|| Assembly {
        index: chunk.last_included_index(),
        term: chunk.last_included_term(),
        total_len: place.total_len,
        leader_term,
        data: Vec::new(),
    });
    if place.offset == assembly.received() {
        assembly.data.extend_from_slice(&chunk.data);
    }
    debug_assert!(assembly.received() <= assembly.total_len);
    if assembly.received() < assembly.total_len {
        return ChunkOutcome::Partial {
            next_offset: assembly.received(),
        };
    }
    let data = std::mem::take(&mut assembly.data);
    *slot = None;
    ChunkOutcome::Complete(Bytes::from(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SNAPSHOT: &[u8] = b"0123456789abcdefghij";

    fn chunk(index: u64, offset: usize, len: usize) -> (InstallSnapshot, ChunkPlace) {
        let data = Bytes::from_static(&SNAPSHOT[offset..offset + len]);
        let total = SNAPSHOT.len() as u64;
        let chunk = InstallSnapshot::chunk(LogIndex(index), Term(1), offset as u64, total, data);
        let place = chunk.place().expect("consistent");
        (chunk, place)
    }

    fn take(
        slot: &mut Option<Assembly>,
        term: u64,
        piece: (InstallSnapshot, ChunkPlace),
    ) -> ChunkOutcome {
        take_chunk(slot, Term(term), piece.0, piece.1)
    }

    #[test]
    fn chunks_in_order_complete_the_snapshot() {
        let mut slot = None;
        assert_eq!(
            take(&mut slot, 2, chunk(5, 0, 8)),
            ChunkOutcome::Partial { next_offset: 8 }
        );
        assert_eq!(
            take(&mut slot, 2, chunk(5, 8, 8)),
            ChunkOutcome::Partial { next_offset: 16 }
        );
        assert_eq!(
            take(&mut slot, 2, chunk(5, 16, 4)),
            ChunkOutcome::Complete(Bytes::from_static(SNAPSHOT))
        );
        assert!(slot.is_none(), "a complete snapshot leaves no assembly");
    }

    #[test]
    fn duplicates_and_gaps_change_nothing() {
        let mut slot = None;
        take(&mut slot, 2, chunk(5, 0, 8));
        assert_eq!(
            take(&mut slot, 2, chunk(5, 0, 8)),
            ChunkOutcome::Partial { next_offset: 8 }
        );
        assert_eq!(
            take(&mut slot, 2, chunk(5, 16, 4)),
            ChunkOutcome::Partial { next_offset: 8 }
        );
        assert_eq!(
            take(&mut slot, 2, chunk(5, 4, 8)),
            ChunkOutcome::Partial { next_offset: 8 }
        );
        take(&mut slot, 2, chunk(5, 8, 8));
        assert_eq!(
            take(&mut slot, 2, chunk(5, 16, 4)),
            ChunkOutcome::Complete(Bytes::from_static(SNAPSHOT))
        );
    }

    #[test]
    fn an_older_snapshot_is_stale_and_a_newer_one_replaces_the_assembly() {
        let mut slot = None;
        take(&mut slot, 2, chunk(7, 0, 8));
        assert_eq!(take(&mut slot, 2, chunk(5, 8, 8)), ChunkOutcome::Stale);
        assert_eq!(take(&mut slot, 2, chunk(5, 0, 8)), ChunkOutcome::Stale);
        assert_eq!(
            take(&mut slot, 2, chunk(9, 8, 8)),
            ChunkOutcome::Partial { next_offset: 0 },
            "a newer snapshot not from its start"
        );
        assert!(slot.is_none(), "the older assembly is dropped");
        take(&mut slot, 2, chunk(9, 0, 8));
        // A later leader may send a snapshot of a lower index: it is newer.
        assert_eq!(
            take(&mut slot, 3, chunk(4, 0, 8)),
            ChunkOutcome::Partial { next_offset: 8 }
        );
        assert_eq!(slot.as_ref().map(|a| a.index), Some(LogIndex(4)));
    }

    #[test]
    fn another_length_is_another_snapshot() {
        let mut slot = None;
        take(&mut slot, 2, chunk(5, 0, 8));
        let forged =
            InstallSnapshot::chunk(LogIndex(5), Term(1), 8, 40, Bytes::from_static(b"xxxxxxxx"));
        let place = forged.place().expect("consistent");
        assert_eq!(
            take_chunk(&mut slot, Term(2), forged, place),
            ChunkOutcome::Stale
        );
        assert_eq!(
            take(&mut slot, 2, chunk(5, 8, 8)),
            ChunkOutcome::Partial { next_offset: 16 }
        );
    }
}
