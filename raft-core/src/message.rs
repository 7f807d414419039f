//! The wire messages between Raft nodes (prost-encoded) and their codec.
//!
//! Every message is a [`Message`] envelope: sender, receiver, the sender's term and one
//! [`Body`]. Requests are RequestVote, AppendEntries and InstallSnapshot; each has a reply.

use bytes::Bytes;
use prost::Message as _;

use crate::types::{LogIndex, NodeId, Term, MAX_TERM_OR_INDEX};

/// One log entry: its position, the term it was created in, and the command bytes.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Entry {
    /// The entry's index in the log.
    #[prost(uint64, tag = "1")]
    pub index: u64,
    /// The term of the leader that created the entry.
    #[prost(uint64, tag = "2")]
    pub term: u64,
    /// The command, opaque to Raft.
    #[prost(bytes = "bytes", tag = "3")]
    pub data: Bytes,
}

impl Entry {
    /// Builds an entry.
    pub fn new(index: LogIndex, term: Term, data: Bytes) -> Entry {
        Entry {
            index: index.0,
            term: term.0,
            data,
        }
    }

    /// The entry's index.
    pub fn index(&self) -> LogIndex {
        LogIndex(self.index)
    }

    /// The entry's term.
    pub fn term(&self) -> Term {
        Term(self.term)
    }
}

/// A message between two nodes.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Message {
    /// The sender's id.
    #[prost(uint64, tag = "1")]
    pub from: u64,
    /// The receiver's id.
    #[prost(uint64, tag = "2")]
    pub to: u64,
    /// The sender's current term.
    #[prost(uint64, tag = "3")]
    pub term: u64,
    /// What the message says.
    #[prost(oneof = "Body", tags = "4, 5, 6, 7, 8, 9")]
    pub body: Option<Body>,
}

/// The content of a [`Message`].
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Body {
    /// A candidate asks for a vote.
    #[prost(message, tag = "4")]
    RequestVote(RequestVote),
    /// The answer to a RequestVote.
    #[prost(message, tag = "5")]
    RequestVoteReply(RequestVoteReply),
    /// A leader replicates entries (or sends a heartbeat, with none).
    #[prost(message, tag = "6")]
    AppendEntries(AppendEntries),
    /// The answer to an AppendEntries.
    #[prost(message, tag = "7")]
    AppendEntriesReply(AppendEntriesReply),
    /// A leader sends a snapshot to a follower that needs discarded entries.
    #[prost(message, tag = "8")]
    InstallSnapshot(InstallSnapshot),
    /// The answer to an InstallSnapshot.
    #[prost(message, tag = "9")]
    InstallSnapshotReply(InstallSnapshotReply),
}

/// RequestVote (Figure 2): a candidate's bid, with its last log position.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RequestVote {
    /// The index of the candidate's last entry.
    #[prost(uint64, tag = "1")]
    pub last_log_index: u64,
    /// The term of the candidate's last entry.
    #[prost(uint64, tag = "2")]
    pub last_log_term: u64,
    /// A pre-vote (thesis §9.6): asks whether the receiver would vote, without anyone
    /// changing term. The message term is the term the candidate would campaign in.
    #[prost(bool, tag = "3")]
    pub pre_vote: bool,
}

/// The reply to [`RequestVote`].
#[derive(Clone, PartialEq, prost::Message)]
pub struct RequestVoteReply {
    /// Whether the vote was granted.
    #[prost(bool, tag = "1")]
    pub granted: bool,
    /// Whether this answers a pre-vote.
    #[prost(bool, tag = "2")]
    pub pre_vote: bool,
}

/// AppendEntries (Figure 2).
#[derive(Clone, PartialEq, prost::Message)]
pub struct AppendEntries {
    /// The index of the entry just before `entries`.
    #[prost(uint64, tag = "1")]
    pub prev_log_index: u64,
    /// The term of that entry.
    #[prost(uint64, tag = "2")]
    pub prev_log_term: u64,
    /// The entries to store, consecutive from `prev_log_index + 1` (empty for a heartbeat).
    #[prost(message, repeated, tag = "3")]
    pub entries: Vec<Entry>,
    /// The leader's commit index.
    #[prost(uint64, tag = "4")]
    pub leader_commit: u64,
}

/// The reply to [`AppendEntries`], carrying the fast-backup hint on rejection.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AppendEntriesReply {
    /// Whether the follower's log matched at `prev_log_index` and took the entries.
    #[prost(bool, tag = "1")]
    pub success: bool,
    /// On success: the last index the follower now knows matches the leader's log.
    #[prost(uint64, tag = "2")]
    pub match_index: u64,
    /// On rejection: the `prev_log_index` of the rejected request.
    #[prost(uint64, tag = "3")]
    pub rejected_index: u64,
    /// On rejection: the follower's term at `rejected_index`, or 0 if its log is too short.
    #[prost(uint64, tag = "4")]
    pub conflict_term: u64,
    /// On rejection: the first index the follower holds for `conflict_term`, or its last
    /// index + 1 when its log is too short.
    #[prost(uint64, tag = "5")]
    pub conflict_index: u64,
}

/// InstallSnapshot (Figure 13), sent whole in one message.
#[derive(Clone, PartialEq, prost::Message)]
pub struct InstallSnapshot {
    /// The index of the last entry the snapshot covers.
    #[prost(uint64, tag = "1")]
    pub last_included_index: u64,
    /// The term of that entry.
    #[prost(uint64, tag = "2")]
    pub last_included_term: u64,
    /// The service's snapshot bytes.
    #[prost(bytes = "bytes", tag = "3")]
    pub data: Bytes,
}

/// The reply to [`InstallSnapshot`].
#[derive(Clone, PartialEq, prost::Message)]
pub struct InstallSnapshotReply {
    /// The snapshot index the follower now holds (its match index for the leader).
    #[prost(uint64, tag = "1")]
    pub last_included_index: u64,
}

/// Why bytes could not be decoded into a message or a persisted state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The bytes are not valid protobuf for the expected type.
    #[error("malformed protobuf: {0}")]
    Protobuf(#[from] prost::DecodeError),
    /// A message without a body.
    #[error("message has no body")]
    MissingBody,
    /// A message whose sender or receiver is the reserved id 0.
    #[error("message names node 0 as sender or receiver")]
    ZeroNode,
}

impl Message {
    /// Builds a message.
    pub fn new(from: NodeId, to: NodeId, term: Term, body: Body) -> Message {
        Message {
            from: from.0,
            to: to.0,
            term: term.0,
            body: Some(body),
        }
    }

    /// The sender.
    pub fn from_id(&self) -> NodeId {
        NodeId(self.from)
    }

    /// The receiver.
    pub fn to_id(&self) -> NodeId {
        NodeId(self.to)
    }

    /// The sender's term.
    pub fn term(&self) -> Term {
        Term(self.term)
    }

    /// Whether this is a reply (as opposed to a request).
    pub fn is_reply(&self) -> bool {
        matches!(
            self.body,
            Some(
                Body::RequestVoteReply(_)
                    | Body::AppendEntriesReply(_)
                    | Body::InstallSnapshotReply(_)
            )
        )
    }

    /// Whether every term and index the message carries is at most 2^62; a node ignores
    /// a message that is not (see `MAX_TERM_OR_INDEX`).
    pub(crate) fn within_limits(&self) -> bool {
        let ok = |number: u64| number <= MAX_TERM_OR_INDEX;
        ok(self.term)
            && match &self.body {
                None | Some(Body::RequestVoteReply(_)) => true,
                Some(Body::RequestVote(r)) => ok(r.last_log_index) && ok(r.last_log_term),
                Some(Body::AppendEntries(a)) => {
                    ok(a.prev_log_index)
                        && ok(a.prev_log_term)
                        && ok(a.leader_commit)
                        && a.entries.iter().all(|e| ok(e.index) && ok(e.term))
                }
                Some(Body::AppendEntriesReply(r)) => {
                    ok(r.match_index)
                        && ok(r.rejected_index)
                        && ok(r.conflict_term)
                        && ok(r.conflict_index)
                }
                Some(Body::InstallSnapshot(s)) => {
                    ok(s.last_included_index) && ok(s.last_included_term)
                }
                Some(Body::InstallSnapshotReply(r)) => ok(r.last_included_index),
            }
    }

    /// The encoded length in bytes.
    pub fn encoded_len_bytes(&self) -> usize {
        self.encoded_len()
    }

    /// Encodes the message to protobuf bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.encode_to_vec()
    }

    /// Decodes and validates a message received from the wire.
    pub fn from_bytes(bytes: &[u8]) -> Result<Message, DecodeError> {
        let message = Message::decode(bytes)?;
        if message.body.is_none() {
            return Err(DecodeError::MissingBody);
        }
        if message.from == 0 || message.to == 0 {
            return Err(DecodeError::ZeroNode);
        }
        Ok(message)
    }

    /// A short one-line rendering for traces, e.g. `AE n1->n2 t3 prev=i4/t2 n=3 commit=i4`.
    pub fn summary(&self) -> String {
        let head = format!("{}->{} t{}", self.from_id(), self.to_id(), self.term);
        match &self.body {
            None => format!("EMPTY {head}"),
            Some(Body::RequestVote(rv)) => format!(
                "{} {head} last=i{}/t{}",
                if rv.pre_vote { "PV" } else { "RV" },
                rv.last_log_index,
                rv.last_log_term
            ),
            Some(Body::RequestVoteReply(r)) => format!(
                "{} {head} granted={}",
                if r.pre_vote { "PVR" } else { "RVR" },
                r.granted
            ),
            Some(Body::AppendEntries(ae)) => format!(
                "AE {head} prev=i{}/t{} n={} commit=i{}",
                ae.prev_log_index,
                ae.prev_log_term,
                ae.entries.len(),
                ae.leader_commit
            ),
            Some(Body::AppendEntriesReply(r)) if r.success => {
                format!("AER {head} ok match=i{}", r.match_index)
            }
            Some(Body::AppendEntriesReply(r)) => format!(
                "AER {head} reject=i{} conflict=t{}@i{}",
                r.rejected_index, r.conflict_term, r.conflict_index
            ),
            Some(Body::InstallSnapshot(s)) => format!(
                "IS {head} last=i{}/t{} bytes={}",
                s.last_included_index,
                s.last_included_term,
                s.data.len()
            ),
            Some(Body::InstallSnapshotReply(r)) => {
                format!("ISR {head} last=i{}", r.last_included_index)
            }
        }
    }
}
