//! What goes into a node ([`Input`]) and what comes out ([`Action`]).

use bytes::Bytes;

use crate::message::{Entry, Message};
use crate::persist::PersistAction;
use crate::types::{LogIndex, NodeId, Term};

/// Something that happens to a node.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// One unit of logical time passed.
    Tick,
    /// A message arrived from a peer.
    Message(Message),
    /// The service proposes a command for the log.
    ///
    /// A new leader does not append an entry of its own on election: entries of earlier
    /// terms still in its log commit only once an entry of its own term commits (§5.4.2),
    /// that is, when the next command is proposed. A service that must learn the commit
    /// index right after an election proposes something (or an empty command) itself.
    Propose(Bytes),
    /// The service proposes several commands at once (one persist, one send per peer).
    ProposeBatch(Vec<Bytes>),
    /// The service has a snapshot of everything up to and including `index`.
    Snapshot {
        /// The last index the snapshot covers; at most the last applied index.
        index: LogIndex,
        /// The snapshot bytes.
        data: Bytes,
    },
}

/// Something the driver must do, in the order the actions were returned.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Make this change durable before carrying out any later action.
    Persist(PersistAction),
    /// Send this message to `message.to`. It may be lost, delayed or reordered.
    Send(Message),
    /// Hand this to the service. Entries come exactly once, in index order.
    Apply(Apply),
    /// The answer to a proposal.
    Proposal(Result<Proposed, ProposeError>),
    /// The answer to a service snapshot.
    Snapshot(Result<LogIndex, SnapshotError>),
}

/// Something committed, for the service.
#[derive(Clone, Debug, PartialEq)]
pub enum Apply {
    /// A committed entry.
    Entry(Entry),
    /// A snapshot received from the leader replaces the service's state up to `index`.
    ///
    /// When this is emitted the node has already installed the snapshot (its log starts
    /// after `index`), and the [`PersistAction::Snapshot`] that makes it durable comes
    /// earlier in the same step's actions: the service only has to load `data`.
    Snapshot {
        /// The last index the snapshot covers.
        index: LogIndex,
        /// The term of that entry.
        term: Term,
        /// The snapshot bytes.
        data: Bytes,
    },
}

/// A proposal the leader appended to its log; it commits only if this leader's term wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Proposed {
    /// Where the first command was placed.
    pub index: LogIndex,
    /// The leader's term.
    pub term: Term,
    /// How many commands were appended (1 for [`Input::Propose`]).
    pub count: u64,
}

/// Why a proposal was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProposeError {
    /// Only the leader takes proposals.
    #[error("not the leader (leader hint: {leader_hint:?})")]
    NotLeader {
        /// The leader this node last heard from in its current term.
        leader_hint: Option<NodeId>,
    },
    /// A batch with no commands.
    #[error("empty proposal batch")]
    EmptyBatch,
}

/// Why a service snapshot was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// The log is already compacted at or past this index.
    #[error("snapshot at {index} is not newer than the current one at {current}")]
    Stale {
        /// The refused index.
        index: LogIndex,
        /// The current snapshot index.
        current: LogIndex,
    },
    /// The service cannot have a snapshot of entries it was not given yet.
    #[error("snapshot at {index} is past the last applied index {applied}")]
    NotApplied {
        /// The refused index.
        index: LogIndex,
        /// The last applied index.
        applied: LogIndex,
    },
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::Persist(PersistAction::HardState { term, voted_for }) => {
                write!(f, "persist hard {term} vote={voted_for:?}")
            }
            Action::Persist(PersistAction::Append(entries)) => {
                match (entries.first(), entries.last()) {
                    (Some(first), Some(last)) => write!(
                        f,
                        "persist append {}..={} {}",
                        first.index(),
                        last.index(),
                        last.term()
                    ),
                    _ => write!(f, "persist append none"),
                }
            }
            Action::Persist(PersistAction::TruncateFrom(index)) => {
                write!(f, "persist truncate {index}")
            }
            Action::Persist(PersistAction::Snapshot { index, term, data }) => {
                write!(f, "persist snapshot {index}/{term} bytes={}", data.len())
            }
            Action::Send(message) => write!(f, "send {}", message.summary()),
            Action::Apply(Apply::Entry(entry)) => write!(
                f,
                "apply {}/{} bytes={}",
                entry.index(),
                entry.term(),
                entry.data.len()
            ),
            Action::Apply(Apply::Snapshot { index, term, data }) => {
                write!(f, "apply snapshot {index}/{term} bytes={}", data.len())
            }
            Action::Proposal(Ok(p)) => {
                write!(f, "proposed {}/{} count={}", p.index, p.term, p.count)
            }
            Action::Proposal(Err(e)) => write!(f, "proposal refused: {e}"),
            Action::Snapshot(Ok(index)) => write!(f, "snapshot taken {index}"),
            Action::Snapshot(Err(e)) => write!(f, "snapshot refused: {e}"),
        }
    }
}
