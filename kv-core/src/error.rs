//! The errors of a KV server: why it would not restart from a persisted state, and why
//! it stopped while running.

use raft_core::LogIndex;

use crate::snapshot::SnapshotDecodeError;

/// Why [`KvServer::restore`](crate::KvServer::restore) refused a persisted state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KvRestoreError {
    /// Raft refused the persisted raft state.
    #[error("raft refused the persisted state: {0}")]
    Raft(#[from] raft_core::RestoreError),
    /// The persisted snapshot does not decode into a KV state.
    #[error("the persisted snapshot at {index} does not decode: {error}")]
    Snapshot {
        /// The index the snapshot covers.
        index: LogIndex,
        /// What is wrong with it.
        #[source]
        error: SnapshotDecodeError,
    },
}

/// Why a running server stopped. A halted server takes no more input from Raft (as if
/// it had crashed) and answers every client request with
/// [`Outcome::WrongLeader`](crate::Outcome::WrongLeader) without a hint; restarting it
/// from its persisted state fails the same way, so it needs an operator (or a fresh,
/// empty persisted state to catch up from the leader).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KvFatalError {
    /// The leader sent a snapshot that does not decode. Raft had already made it
    /// durable and dropped the log it covers, so the server cannot go on applying.
    #[error("the snapshot installed from the leader at {index} does not decode: {error}")]
    InstalledSnapshot {
        /// The index the snapshot covers.
        index: LogIndex,
        /// What is wrong with it.
        #[source]
        error: SnapshotDecodeError,
    },
}
