//! Planted bugs (TEST ONLY): realistic mistakes a KV server or clerk could make, each
//! switched on through [`KvConfigBuilder::bug`](crate::KvConfigBuilder) or
//! `ClerkConfigBuilder::bugs`, so the simulator can show that its checkers catch them.
//!
//! The type is public only with the `test-hooks` feature. Without it, every
//! `config.has(KvBug::…)` check is the constant `false` and compiles away: the correct
//! code path is the only one.
#![cfg_attr(not(feature = "test-hooks"), allow(dead_code))]

/// One planted mistake.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KvBug {
    /// The duplicate table is ignored: a retried Put or Append is applied again.
    NoDuplicateDetection,
    /// The snapshot leaves the duplicate table out: after a restart or an install the
    /// server forgets which requests it applied.
    SnapshotWithoutDuplicates,
    /// A leader answers a Put or Append as soon as it proposes it, before the entry
    /// commits (it may never commit).
    ReplyBeforeCommit,
    /// A leader answers Gets from its own applied state at once, without confirming it
    /// still leads (no ReadIndex round, no log entry), in either read mode.
    LocalReads,
    /// A leader that loses leadership keeps its waiting clients, and answers each with
    /// whatever entry applies at the index it waited for, even another client's.
    KeepStaleWaiters,
    /// The clerk gives a retry a new sequence number, so servers cannot tell it is a
    /// retry.
    NewSeqOnRetry,
    /// The server snapshots a cached copy of its state taken at its first snapshot: a
    /// later snapshot writes older state over newer, for followers that install it and
    /// for the server itself when it restarts.
    StaleSnapshot,
    /// A restarted server forgets its applied index and the snapshot's state, expecting
    /// Raft to replay the log from the start (Raft replays only what follows the
    /// snapshot).
    RestartForgetsApplied,
}

impl KvBug {
    /// Every planted bug.
    pub const ALL: [KvBug; 8] = [
        KvBug::NoDuplicateDetection,
        KvBug::SnapshotWithoutDuplicates,
        KvBug::ReplyBeforeCommit,
        KvBug::LocalReads,
        KvBug::KeepStaleWaiters,
        KvBug::NewSeqOnRetry,
        KvBug::StaleSnapshot,
        KvBug::RestartForgetsApplied,
    ];

    /// The bug's short name (`no-dedup`, `local-reads`, ...).
    pub fn name(self) -> &'static str {
        match self {
            KvBug::NoDuplicateDetection => "no-dedup",
            KvBug::SnapshotWithoutDuplicates => "snapshot-no-dedup",
            KvBug::ReplyBeforeCommit => "early-reply",
            KvBug::LocalReads => "local-reads",
            KvBug::KeepStaleWaiters => "stale-waiters",
            KvBug::NewSeqOnRetry => "retry-new-seq",
            KvBug::StaleSnapshot => "stale-snapshot",
            KvBug::RestartForgetsApplied => "forget-applied",
        }
    }

    /// The bug called `name`, if any.
    pub fn parse(name: &str) -> Option<KvBug> {
        KvBug::ALL.into_iter().find(|bug| bug.name() == name)
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl std::fmt::Display for KvBug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of planted bugs (empty by default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct KvBugs(u16);

impl KvBugs {
    /// No bug.
    pub const NONE: KvBugs = KvBugs(0);

    /// The set with `bug` switched on or off.
    #[must_use]
    pub fn with(self, bug: KvBug, on: bool) -> KvBugs {
        if on {
            KvBugs(self.0 | bug.bit())
        } else {
            KvBugs(self.0 & !bug.bit())
        }
    }

    /// Whether `bug` is on.
    pub fn has(self, bug: KvBug) -> bool {
        self.0 & bug.bit() != 0
    }

    /// Whether no bug is on.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl From<KvBug> for KvBugs {
    fn from(bug: KvBug) -> KvBugs {
        KvBugs::NONE.with(bug, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_sets_hold_their_bugs() {
        for bug in KvBug::ALL {
            assert_eq!(KvBug::parse(bug.name()), Some(bug));
            let set = KvBugs::from(bug);
            assert!(set.has(bug));
            assert!(!set.with(bug, false).has(bug));
            assert_eq!(KvBug::ALL.iter().filter(|&&b| set.has(b)).count(), 1);
        }
        assert!(KvBug::parse("nope").is_none());
        assert!(KvBugs::NONE.is_empty());
    }
}
