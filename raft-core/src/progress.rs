//! A leader's view of one follower: how much of the log it holds and what to send next.
//!
//! `Probe`: the leader does not know where the follower's log matches; it sends one
//! AppendEntries and waits for the answer (or the next heartbeat) before sending another.
//! `Replicate`: the follower matched; new entries are streamed as they are proposed.
//! `Snapshot`: the leader sends its snapshot in chunks, one in flight; appends wait until
//! the follower holds the snapshot (its complete answer, or a heartbeat probe showing it
//! was installed). A chunk whose answer has not come within
//! [`SNAPSHOT_PATIENCE_HEARTBEATS`] heartbeats is sent again, if the follower answers
//! anything at all.

use crate::types::LogIndex;

/// Heartbeats the leader waits for the answer to a snapshot chunk before sending that
/// chunk again (it or its answer may have been lost). Until then heartbeats only ask,
/// cheaply, whether the snapshot is installed. A chunk fits in one message, so a slow
/// answer costs at most one message's worth of bytes per patience period.
pub const SNAPSHOT_PATIENCE_HEARTBEATS: u32 = 2;

/// How the leader is currently talking to a follower.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgressMode {
    /// Finding the match point, one request at a time.
    Probe {
        /// Whether a probe is outstanding (no more sends until a reply or a heartbeat).
        paused: bool,
    },
    /// Streaming entries optimistically.
    Replicate,
    /// The snapshot ending at `index` is being sent, one chunk in flight.
    Snapshot {
        /// The snapshot's last index.
        index: LogIndex,
        /// Its length in bytes.
        length: u64,
        /// Where the chunk in flight starts (the follower acknowledged the bytes before).
        offset: u64,
        /// Heartbeats since that chunk was sent.
        heartbeats: u32,
    },
}

/// One follower's replication progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// The highest index known to match the leader's log.
    pub match_index: LogIndex,
    /// The next index to send.
    pub next_index: LogIndex,
    /// How entries are being sent.
    pub mode: ProgressMode,
    /// Whether the follower answered anything since the last heartbeat.
    pub recently_active: bool,
}

impl Progress {
    /// The progress of a follower right after the election: assume it matches up to the
    /// leader's last index and probe from there.
    pub fn new(leader_last_index: LogIndex) -> Progress {
        Progress {
            match_index: LogIndex::ZERO,
            next_index: leader_last_index.next(),
            mode: ProgressMode::Probe { paused: false },
            recently_active: false,
        }
    }

    /// Whether the leader may send an AppendEntries now.
    pub fn can_send(&self) -> bool {
        matches!(
            self.mode,
            ProgressMode::Replicate | ProgressMode::Probe { paused: false }
        )
    }

    /// Records that entries up to `last_sent` were sent.
    pub fn on_sent(&mut self, last_sent: LogIndex) {
        match self.mode {
            ProgressMode::Replicate => self.next_index = self.next_index.max(last_sent.next()),
            ProgressMode::Probe { .. } => self.mode = ProgressMode::Probe { paused: true },
            ProgressMode::Snapshot { .. } => {}
        }
    }

    /// Records that the chunk at `offset` of the snapshot ending at `index`, `length`
    /// bytes long, was sent (and is now the one in flight).
    pub fn on_chunk_sent(&mut self, index: LogIndex, length: u64, offset: u64) {
        self.mode = ProgressMode::Snapshot {
            index,
            length,
            offset,
            heartbeats: 0,
        };
    }

    /// Handles a partial answer: the follower holds `next_offset` bytes of the snapshot
    /// ending at `index`, answering the chunk at `offset`. Returns where the next chunk
    /// starts if this answers the chunk in flight; any other answer (about another
    /// snapshot or an earlier chunk, delayed by the network) changes nothing.
    pub fn on_chunk_reply(
        &mut self,
        index: LogIndex,
        offset: u64,
        next_offset: u64,
    ) -> Option<u64> {
        match self.mode {
            ProgressMode::Snapshot {
                index: sent,
                length,
                offset: in_flight,
                ..
            } if sent == index && in_flight == offset && next_offset < length => Some(next_offset),
            _ => None,
        }
    }

    /// The offset of the chunk in flight, if its answer is overdue (see
    /// [`SNAPSHOT_PATIENCE_HEARTBEATS`]).
    pub fn overdue_chunk(&self) -> Option<u64> {
        match self.mode {
            ProgressMode::Snapshot {
                offset, heartbeats, ..
            } if heartbeats >= SNAPSHOT_PATIENCE_HEARTBEATS => Some(offset),
            _ => None,
        }
    }

    /// Handles a successful reply saying the follower matches up to `index`.
    /// Returns whether replication moved on: the match index grew, or an outstanding
    /// probe at exactly the match index was confirmed. Any other reply is stale (the
    /// network reordered it) and changes nothing.
    pub fn on_match(&mut self, index: LogIndex) -> bool {
        let confirms_probe = index == self.match_index
            && index.next() == self.next_index
            && matches!(self.mode, ProgressMode::Probe { .. });
        if index < self.match_index || (index == self.match_index && !confirms_probe) {
            return false;
        }
        self.match_index = index;
        self.next_index = self.next_index.max(index.next());
        match self.mode {
            ProgressMode::Snapshot { index: sent, .. } if self.match_index < sent => {}
            _ => self.mode = ProgressMode::Replicate,
        }
        true
    }

    /// Handles a rejection of the request whose previous index was `rejected_index`;
    /// `hint` is where the leader should try next. Returns false for a stale rejection:
    /// one at or below the match index (the follower acknowledged holding that entry, so
    /// the rejection is older than the acknowledgement; a follower whose disk lost
    /// acknowledged entries would otherwise ping-pong with its leader at network speed).
    pub fn on_reject(&mut self, rejected_index: LogIndex, hint: LogIndex) -> bool {
        if rejected_index <= self.match_index && self.match_index > LogIndex::ZERO {
            return false;
        }
        if let ProgressMode::Snapshot { .. } = self.mode {
            // Only the snapshot's answer (or patience running out) moves us on.
            return false;
        }
        if let ProgressMode::Probe { .. } = self.mode {
            if rejected_index.next() != self.next_index {
                return false;
            }
        }
        self.next_index = hint.clamp(
            self.match_index.next(),
            rejected_index.max(self.match_index.next()),
        );
        self.mode = ProgressMode::Probe { paused: false };
        true
    }

    /// Records that the follower answered (whatever it said).
    pub fn on_reply(&mut self) {
        self.recently_active = true;
    }

    /// At a heartbeat: let a paused probe try again, and count the heartbeats a snapshot
    /// chunk has waited for its answer. Returns whether the follower answered since the
    /// previous heartbeat, and starts a new heartbeat period. A follower that did not
    /// answer gets only an empty probe, so a leader never floods an unreachable follower
    /// with entries or snapshot chunks.
    pub fn on_heartbeat(&mut self) -> bool {
        match &mut self.mode {
            ProgressMode::Snapshot { heartbeats, .. } => {
                *heartbeats = heartbeats.saturating_add(1);
            }
            ProgressMode::Probe { .. } => self.mode = ProgressMode::Probe { paused: false },
            ProgressMode::Replicate => {}
        }
        std::mem::replace(&mut self.recently_active, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_pauses_after_one_send_and_resumes_on_heartbeat() {
        let mut p = Progress::new(LogIndex(5));
        assert!(p.can_send());
        p.on_sent(LogIndex(5));
        assert!(!p.can_send());
        assert!(!p.on_heartbeat(), "no answer came");
        assert!(p.can_send());
        p.on_reply();
        assert!(p.on_heartbeat());
        assert!(!p.on_heartbeat(), "activity is per heartbeat period");
    }

    #[test]
    fn stale_rejection_is_ignored() {
        let mut p = Progress::new(LogIndex(10));
        p.on_sent(LogIndex(10));
        assert!(p.on_reject(LogIndex(10), LogIndex(4)));
        assert_eq!(p.next_index, LogIndex(4));
        // A duplicate of the same rejection no longer matches next_index - 1.
        assert!(!p.on_reject(LogIndex(10), LogIndex(2)));
        assert_eq!(p.next_index, LogIndex(4));
    }

    #[test]
    fn a_rejection_at_the_match_index_is_stale() {
        let mut p = Progress::new(LogIndex(3));
        assert!(p.on_match(LogIndex(5)));
        p.on_sent(LogIndex(8));
        assert!(!p.on_reject(LogIndex(5), LogIndex(1)), "5 was acknowledged");
        assert_eq!(
            (p.next_index, p.mode),
            (LogIndex(9), ProgressMode::Replicate)
        );
        assert!(p.on_reject(LogIndex(6), LogIndex(6)));
        assert_eq!(p.next_index, LogIndex(6));
    }

    #[test]
    fn one_chunk_in_flight_moves_on_only_with_its_own_answer() {
        let mut p = Progress::new(LogIndex(3));
        p.on_chunk_sent(LogIndex(9), 100, 0);
        assert!(!p.can_send(), "appends wait for the snapshot");
        assert_eq!(p.on_chunk_reply(LogIndex(9), 0, 40), Some(40));
        p.on_chunk_sent(LogIndex(9), 100, 40);
        assert_eq!(
            p.on_chunk_reply(LogIndex(9), 0, 40),
            None,
            "a late answer to the first chunk"
        );
        assert_eq!(
            p.on_chunk_reply(LogIndex(8), 40, 80),
            None,
            "another snapshot"
        );
        assert_eq!(
            p.on_chunk_reply(LogIndex(9), 40, 100),
            None,
            "a partial answer holding every byte is forged"
        );
        assert_eq!(
            p.on_chunk_reply(LogIndex(9), 40, 0),
            Some(0),
            "the follower lost what it had: start over"
        );
    }

    #[test]
    fn an_unanswered_chunk_is_overdue_after_the_patience() {
        let mut p = Progress::new(LogIndex(3));
        p.on_chunk_sent(LogIndex(9), 100, 40);
        for _ in 1..SNAPSHOT_PATIENCE_HEARTBEATS {
            p.on_heartbeat();
            assert_eq!(p.overdue_chunk(), None);
        }
        p.on_heartbeat();
        assert_eq!(p.overdue_chunk(), Some(40));
        p.on_chunk_sent(LogIndex(9), 100, 40);
        assert_eq!(
            p.overdue_chunk(),
            None,
            "sent again: the patience starts over"
        );
        assert!(p.on_match(LogIndex(9)), "installed");
        assert_eq!(p.mode, ProgressMode::Replicate);
    }

    #[test]
    fn match_switches_to_replicate_and_streams() {
        let mut p = Progress::new(LogIndex(3));
        assert!(p.on_match(LogIndex(3)));
        assert_eq!(p.mode, ProgressMode::Replicate);
        p.on_sent(LogIndex(7));
        assert_eq!(p.next_index, LogIndex(8));
        assert!(
            !p.on_match(LogIndex(2)),
            "an older match does not go backwards"
        );
        assert_eq!(p.match_index, LogIndex(3));
    }
}
