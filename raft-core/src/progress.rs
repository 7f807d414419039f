//! A leader's view of one follower: how much of the log it holds and what to send next.
//!
//! `Probe`: the leader does not know where the follower's log matches; it sends one
//! AppendEntries and waits for the answer (or the next heartbeat) before sending another.
//! `Replicate`: the follower matched; new entries are streamed as they are proposed.
//! `Snapshot`: an InstallSnapshot is in flight; appends wait for its answer, for a
//! heartbeat probe showing it was installed, or for [`SNAPSHOT_PATIENCE_HEARTBEATS`]
//! heartbeats, after which it is sent again.

use crate::types::LogIndex;

/// Heartbeats the leader waits for an InstallSnapshot's answer before sending the
/// snapshot again (it may have been lost). Until then heartbeats only ask, cheaply,
/// whether the snapshot is installed, so a slow reply never costs a second snapshot.
pub const SNAPSHOT_PATIENCE_HEARTBEATS: u32 = 10;

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
    /// A snapshot ending at `index` was sent.
    Snapshot {
        /// The snapshot's last index.
        index: LogIndex,
        /// Heartbeats since it was sent.
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

    /// Records that a snapshot ending at `index` was sent.
    pub fn on_snapshot_sent(&mut self, index: LogIndex) {
        self.mode = ProgressMode::Snapshot {
            index,
            heartbeats: 0,
        };
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

    /// At a heartbeat: let a paused probe try again, and a snapshot whose answer has not
    /// come within [`SNAPSHOT_PATIENCE_HEARTBEATS`] be sent again. Returns whether the
    /// follower answered since the previous heartbeat, and starts a new heartbeat period.
    /// A follower that did not answer gets only an empty probe, so a leader never floods
    /// an unreachable follower with entries or snapshots.
    pub fn on_heartbeat(&mut self) -> bool {
        match self.mode {
            ProgressMode::Snapshot { index, heartbeats }
                if heartbeats + 1 < SNAPSHOT_PATIENCE_HEARTBEATS =>
            {
                self.mode = ProgressMode::Snapshot {
                    index,
                    heartbeats: heartbeats + 1,
                };
            }
            ProgressMode::Probe { .. } | ProgressMode::Snapshot { .. } => {
                self.mode = ProgressMode::Probe { paused: false };
            }
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
