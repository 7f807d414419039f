//! The one place that reads raft-core's actions and log entries.
//!
//! The server sees raft through [`RaftEvent`]s, so a change in how raft-core shapes its
//! actions or entries (field access, accessors) is absorbed here. Raft messages and
//! persist actions stay opaque: they are passed through to the driver untouched.

use bytes::Bytes;
use raft_core::{
    Action, Apply, Entries, Entry, LogIndex, Message, NodeId, PersistAction, ReadError, Term,
    TransferError,
};

/// What one raft action means to the KV server.
pub(crate) enum RaftEvent {
    /// Pass through: make durable before any later action.
    Persist(PersistAction),
    /// Pass through: send to a peer.
    Send(Message),
    /// Committed entries to apply, in order (a run shared with raft's log).
    Entries(Entries),
    /// A snapshot from the leader replaces the state up to `index`.
    Snapshot {
        index: LogIndex,
        term: Term,
        data: Bytes,
    },
    /// The proposal was appended at `first..first + count` in `term`.
    Proposed {
        first: LogIndex,
        term: Term,
        count: u64,
    },
    /// The proposal was refused (this node does not lead).
    ProposalRefused,
    /// The answer to a service snapshot (the server hands raft only valid ones).
    SnapshotAnswered { taken: bool },
    /// A ReadIndex read asked with `context` is confirmed at `index`, or refused.
    Read {
        context: u64,
        outcome: Result<LogIndex, ReadError>,
    },
    /// The answer to a leadership transfer request.
    Transfer(Result<NodeId, TransferError>),
}

impl From<Action> for RaftEvent {
    fn from(action: Action) -> RaftEvent {
        match action {
            Action::Persist(persist) => RaftEvent::Persist(persist),
            Action::Send(message) => RaftEvent::Send(message),
            Action::Apply(Apply::Entries(entries)) => RaftEvent::Entries(entries),
            Action::Apply(Apply::Snapshot { index, term, data }) => {
                RaftEvent::Snapshot { index, term, data }
            }
            Action::Proposal(Ok(proposed)) => RaftEvent::Proposed {
                first: proposed.index,
                term: proposed.term,
                count: proposed.count,
            },
            Action::Proposal(Err(_)) => RaftEvent::ProposalRefused,
            Action::Snapshot(answer) => RaftEvent::SnapshotAnswered {
                taken: answer.is_ok(),
            },
            Action::Read { context, outcome } => RaftEvent::Read { context, outcome },
            Action::Transfer(outcome) => RaftEvent::Transfer(outcome),
        }
    }
}

/// The bytes an entry holding `command` at `index` in `term` adds to the persisted raft
/// state, and the command back (moved through the entry, not copied).
pub(crate) fn entry_len(index: LogIndex, term: Term, command: Bytes) -> (Bytes, usize) {
    let entry = Entry::new(index, term, command);
    let len = raft_core::entry_record_len(&entry);
    (entry.into_data(), len)
}
