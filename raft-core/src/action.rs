//! What goes into a node ([`Input`]) and what comes out ([`Action`]).

use bytes::Bytes;

use crate::entries::Entries;
use crate::message::Message;
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
    /// By default a new leader does not append an entry of its own on election: entries
    /// of earlier terms still in its log commit only once an entry of its own term commits
    /// (§5.4.2), that is, when the next command is proposed. With
    /// [`ConfigBuilder::no_op_on_election`](crate::ConfigBuilder::no_op_on_election) it
    /// appends an empty entry of its term at once (the service sees it applied as an
    /// [`Entry`](crate::Entry) with empty data, and must skip it), so it learns its commit index within
    /// a round trip; ReadIndex reads need that.
    ///
    /// Refused while the node is not leader, and while it transfers its leadership.
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
    /// The service asks for a linearizable read (ReadIndex, thesis §6.4); `context` is the
    /// caller's own tag, handed back in the answer ([`Action::Read`]).
    ///
    /// The leader answers with a read index once (1) an entry of its term has committed
    /// (a read asked earlier waits for it) and (2) a majority answered a heartbeat round
    /// sent after the read was asked, proving that no other leader had been elected by
    /// then. The service then serves the read from its state once it has applied the read
    /// index. Reads asked while a round is in flight share the next round, which starts
    /// as soon as the current one is confirmed. A follower, a candidate, and a leader that
    /// steps down before confirming refuse with a leader hint.
    ReadIndex {
        /// The caller's tag for this read.
        context: u64,
    },
    /// The service asks the leader to hand its leadership to `target` (thesis §3.10).
    ///
    /// The leader stops taking proposals, brings `target` up to date, then tells it to
    /// campaign at once ([`Body::TimeoutNow`](crate::Body::TimeoutNow)); the target wins
    /// the next term. If that has not happened within the smallest election timeout, the
    /// leader gives up and takes proposals again. Answered by an [`Action::Transfer`].
    TransferLeadership {
        /// The voter that should lead.
        target: NodeId,
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
    /// The answer to an [`Input::ReadIndex`]: on `Ok(index)` the read may be served from
    /// the service's state once it has applied `index`. Exactly one answer per read,
    /// perhaps many steps later.
    Read {
        /// The caller's tag of the read.
        context: u64,
        /// The read index, or why the read was refused.
        outcome: Result<LogIndex, ReadError>,
    },
    /// The answer to an [`Input::TransferLeadership`]: `Ok(target)` once the transfer has
    /// started (see [`Node::transfer_target`](crate::Node::transfer_target)).
    Transfer(Result<NodeId, TransferError>),
}

/// Something committed, for the service.
#[derive(Clone, Debug, PartialEq)]
pub enum Apply {
    /// Committed entries, in index order (a run shared with the log: iterate it).
    Entries(Entries),
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
    /// The leader is handing its leadership to `target`; propose again after the
    /// transfer (at the new leader) or once it is abandoned.
    #[error("leadership is being transferred to {target}")]
    Transferring {
        /// The transfer's target.
        target: NodeId,
    },
}

/// Why a read ([`Input::ReadIndex`]) was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// Only the leader serves reads: this node is not (or is no longer) the leader, or
    /// stepped down before confirming the read.
    #[error("not the leader (leader hint: {leader_hint:?})")]
    NotLeader {
        /// The leader this node last heard from in its current term.
        leader_hint: Option<NodeId>,
    },
}

/// Why a leadership transfer ([`Input::TransferLeadership`]) was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransferError {
    /// Only the leader can hand over its leadership.
    #[error("not the leader (leader hint: {leader_hint:?})")]
    NotLeader {
        /// The leader this node last heard from in its current term.
        leader_hint: Option<NodeId>,
    },
    /// The leader already leads.
    #[error("the leader cannot transfer its leadership to itself")]
    ToSelf,
    /// The target is not a voter of this cluster.
    #[error("{0} is not a voter")]
    NotVoter(NodeId),
    /// A transfer to another target is under way.
    #[error("a transfer to {target} is under way")]
    InProgress {
        /// The target of the transfer under way.
        target: NodeId,
    },
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
            Action::Apply(Apply::Entries(entries)) => match (entries.first(), entries.last()) {
                (Some(entry), _) if entries.len() == 1 => write!(
                    f,
                    "apply {}/{} bytes={}",
                    entry.index(),
                    entry.term(),
                    entry.data.len()
                ),
                (Some(first), Some(last)) => write!(
                    f,
                    "apply {}..={} {}",
                    first.index(),
                    last.index(),
                    last.term()
                ),
                _ => write!(f, "apply none"),
            },
            Action::Apply(Apply::Snapshot { index, term, data }) => {
                write!(f, "apply snapshot {index}/{term} bytes={}", data.len())
            }
            Action::Proposal(Ok(p)) => {
                write!(f, "proposed {}/{} count={}", p.index, p.term, p.count)
            }
            Action::Proposal(Err(e)) => write!(f, "proposal refused: {e}"),
            Action::Snapshot(Ok(index)) => write!(f, "snapshot taken {index}"),
            Action::Snapshot(Err(e)) => write!(f, "snapshot refused: {e}"),
            Action::Read {
                context,
                outcome: Ok(index),
            } => write!(f, "read {context} ready at {index}"),
            Action::Read {
                context,
                outcome: Err(e),
            } => write!(f, "read {context} refused: {e}"),
            Action::Transfer(Ok(target)) => write!(f, "transfer to {target} started"),
            Action::Transfer(Err(e)) => write!(f, "transfer refused: {e}"),
        }
    }
}
