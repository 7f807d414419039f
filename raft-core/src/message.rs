//! The wire messages between Raft nodes (prost-encoded) and their codec.
//!
//! Every message is a [`Message`] envelope: sender, receiver, the sender's term and one
//! [`Body`]. Requests are RequestVote, AppendEntries and InstallSnapshot; each has a reply.
//! TimeoutNow (leadership transfer) is a request without a reply.
//!
//! Fields added after the first version (the read round of AppendEntries and its reply,
//! the transfer mark of RequestVote, TimeoutNow, the chunk fields of InstallSnapshot and
//! its reply) are proto3 fields with new tags: a message from an older node decodes with
//! them zero (no round, no transfer, a whole snapshot in one message, a complete reply).
//!
//! The public surface is typed throughout: fields are private, built by constructors
//! and read by accessors that speak [`NodeId`], [`Term`] and [`LogIndex`]; the raw
//! `u64`s exist only inside the prost encoding.

use bytes::Bytes;
use prost::Message as _;

pub use crate::append::AppendEntries;
use crate::types::{LogIndex, NodeId, Term, MAX_TERM_OR_INDEX};

/// One log entry: its position, the term it was created in, and the command bytes.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Entry {
    #[prost(uint64, tag = "1")]
    pub(crate) index: u64,
    #[prost(uint64, tag = "2")]
    pub(crate) term: u64,
    #[prost(bytes = "bytes", tag = "3")]
    pub(crate) data: Bytes,
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

    /// The entry's index in the log.
    pub fn index(&self) -> LogIndex {
        LogIndex(self.index)
    }

    /// The term of the leader that created the entry.
    pub fn term(&self) -> Term {
        Term(self.term)
    }

    /// The command, opaque to Raft (empty for a leader's no-op entry).
    pub fn data(&self) -> &Bytes {
        &self.data
    }

    /// The command, by value.
    pub fn into_data(self) -> Bytes {
        self.data
    }
}

/// A message between two nodes.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Message {
    #[prost(uint64, tag = "1")]
    pub(crate) from: u64,
    #[prost(uint64, tag = "2")]
    pub(crate) to: u64,
    #[prost(uint64, tag = "3")]
    pub(crate) term: u64,
    #[prost(oneof = "Body", tags = "4, 5, 6, 7, 8, 9, 10")]
    pub(crate) body: Option<Body>,
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
    /// A leader tells the target of a leadership transfer to campaign at once.
    #[prost(message, tag = "10")]
    TimeoutNow(TimeoutNow),
}

/// RequestVote (Figure 2): a candidate's bid, with its last log position.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RequestVote {
    #[prost(uint64, tag = "1")]
    pub(crate) last_log_index: u64,
    #[prost(uint64, tag = "2")]
    pub(crate) last_log_term: u64,
    #[prost(bool, tag = "3")]
    pub(crate) pre_vote: bool,
    #[prost(bool, tag = "4")]
    pub(crate) transfer: bool,
}

impl RequestVote {
    /// A real vote request for a candidate whose log ends at (`last_log_index`, `last_log_term`).
    pub fn vote(last_log_index: LogIndex, last_log_term: Term) -> RequestVote {
        RequestVote {
            last_log_index: last_log_index.0,
            last_log_term: last_log_term.0,
            pre_vote: false,
            transfer: false,
        }
    }

    /// A vote request of a leadership transfer's target, which campaigns because the
    /// leader told it to ([`TimeoutNow`]). Voters do not ignore it under CheckQuorum's
    /// lease: the leader they hear from asked for this election.
    pub fn transfer(last_log_index: LogIndex, last_log_term: Term) -> RequestVote {
        RequestVote {
            transfer: true,
            ..RequestVote::vote(last_log_index, last_log_term)
        }
    }

    /// A pre-vote request (thesis §9.6): asks whether the receiver would vote, without
    /// anyone changing term. The message term is the term the candidate would campaign in.
    pub fn pre_vote(last_log_index: LogIndex, last_log_term: Term) -> RequestVote {
        RequestVote {
            pre_vote: true,
            ..RequestVote::vote(last_log_index, last_log_term)
        }
    }

    /// The index of the candidate's last entry.
    pub fn last_log_index(&self) -> LogIndex {
        LogIndex(self.last_log_index)
    }

    /// The term of the candidate's last entry.
    pub fn last_log_term(&self) -> Term {
        Term(self.last_log_term)
    }

    /// Whether this is a pre-vote.
    pub fn is_pre_vote(&self) -> bool {
        self.pre_vote
    }

    /// Whether this is the campaign of a leadership transfer's target.
    pub fn is_transfer(&self) -> bool {
        self.transfer
    }
}

/// The reply to [`RequestVote`].
#[derive(Clone, PartialEq, prost::Message)]
pub struct RequestVoteReply {
    #[prost(bool, tag = "1")]
    pub(crate) granted: bool,
    #[prost(bool, tag = "2")]
    pub(crate) pre_vote: bool,
}

impl RequestVoteReply {
    /// The answer to a vote request (`pre_vote` false) or a pre-vote request.
    pub fn new(granted: bool, pre_vote: bool) -> RequestVoteReply {
        RequestVoteReply { granted, pre_vote }
    }

    /// Whether the vote was granted.
    pub fn granted(&self) -> bool {
        self.granted
    }

    /// Whether this answers a pre-vote.
    pub fn is_pre_vote(&self) -> bool {
        self.pre_vote
    }
}

/// The reply to [`AppendEntries`], carrying the fast-backup hint on rejection.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AppendEntriesReply {
    #[prost(bool, tag = "1")]
    pub(crate) success: bool,
    #[prost(uint64, tag = "2")]
    pub(crate) match_index: u64,
    #[prost(uint64, tag = "3")]
    pub(crate) rejected_index: u64,
    #[prost(uint64, tag = "4")]
    pub(crate) conflict_term: u64,
    #[prost(uint64, tag = "5")]
    pub(crate) conflict_index: u64,
    #[prost(uint64, tag = "6")]
    pub(crate) round: u64,
}

impl AppendEntriesReply {
    /// The follower's log matched and now matches the leader's up to `match_index`.
    pub fn success(match_index: LogIndex) -> AppendEntriesReply {
        AppendEntriesReply {
            success: true,
            match_index: match_index.0,
            ..AppendEntriesReply::default()
        }
    }

    /// The follower's log did not match at `rejected_index` (the request's previous
    /// index). `conflict_term` is its term there ([`Term::ZERO`] if its log is too short)
    /// and `conflict_index` the first index it holds for that term (its last index + 1
    /// if its log is too short).
    pub fn reject(
        rejected_index: LogIndex,
        conflict_term: Term,
        conflict_index: LogIndex,
    ) -> AppendEntriesReply {
        AppendEntriesReply {
            success: false,
            match_index: 0,
            rejected_index: rejected_index.0,
            conflict_term: conflict_term.0,
            conflict_index: conflict_index.0,
            round: 0,
        }
    }

    /// The same reply echoing the round of the request it answers.
    #[must_use]
    pub fn with_round(mut self, round: u64) -> AppendEntriesReply {
        self.round = round;
        self
    }

    /// Whether the follower's log matched at the request's previous index and took the entries.
    pub fn is_success(&self) -> bool {
        self.success
    }

    /// On success: the last index the follower now knows matches the leader's log.
    pub fn match_index(&self) -> LogIndex {
        LogIndex(self.match_index)
    }

    /// On rejection: the previous index of the rejected request.
    pub fn rejected_index(&self) -> LogIndex {
        LogIndex(self.rejected_index)
    }

    /// On rejection: the follower's term at the rejected index ([`Term::ZERO`] if its log
    /// is too short).
    pub fn conflict_term(&self) -> Term {
        Term(self.conflict_term)
    }

    /// On rejection: the first index the follower holds for the conflict term, or its
    /// last index + 1 when its log is too short.
    pub fn conflict_index(&self) -> LogIndex {
        LogIndex(self.conflict_index)
    }

    /// The heartbeat round of the request this answers (0 if it carried none).
    pub fn round(&self) -> u64 {
        self.round
    }
}

/// InstallSnapshot (Figure 13): one chunk of the leader's snapshot, at `offset` of a
/// snapshot of `total_len` bytes; `done` marks the last chunk.
///
/// Every chunk names its snapshot by (last included index, last included term, total
/// length), so a follower never mixes chunks of two snapshots. A message whose total
/// length is 0 carries the whole snapshot in `data` (how nodes that sent snapshots whole
/// encoded it, and how an empty snapshot goes): its offset must then be 0.
#[derive(Clone, PartialEq, prost::Message)]
pub struct InstallSnapshot {
    #[prost(uint64, tag = "1")]
    pub(crate) last_included_index: u64,
    #[prost(uint64, tag = "2")]
    pub(crate) last_included_term: u64,
    #[prost(bytes = "bytes", tag = "3")]
    pub(crate) data: Bytes,
    #[prost(uint64, tag = "4")]
    pub(crate) offset: u64,
    #[prost(uint64, tag = "5")]
    pub(crate) total_len: u64,
    #[prost(bool, tag = "6")]
    pub(crate) done: bool,
}

/// Where a chunk's bytes go in its snapshot, once its fields were found consistent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ChunkPlace {
    /// The offset of the chunk's first byte.
    pub(crate) offset: u64,
    /// The offset just past its last byte.
    pub(crate) end: u64,
    /// The snapshot's length.
    pub(crate) total_len: u64,
}

impl ChunkPlace {
    /// Whether the chunk is the whole snapshot.
    pub(crate) fn is_whole(&self) -> bool {
        self.offset == 0 && self.end == self.total_len
    }
}

/// The bytes an InstallSnapshot's data field and `done` flag may add to the encoding of
/// the same message without data: the field's tag (1) and length (up to 10), the flag
/// (2), and the growth of the body's own length prefix (up to 9).
const CHUNK_FRAMING_BYTES: usize = 1 + 10 + 2 + 9;

impl InstallSnapshot {
    /// The whole snapshot covering everything up to (`last_included_index`,
    /// `last_included_term`) in one message (a single chunk).
    pub fn new(last_included_index: LogIndex, last_included_term: Term, data: Bytes) -> Self {
        let total_len = data.len() as u64;
        InstallSnapshot::chunk(last_included_index, last_included_term, 0, total_len, data)
    }

    /// The chunk of `data` at `offset` of a snapshot of `total_len` bytes; it is the last
    /// chunk (`done`) if it reaches `total_len`.
    pub fn chunk(
        last_included_index: LogIndex,
        last_included_term: Term,
        offset: u64,
        total_len: u64,
        data: Bytes,
    ) -> Self {
        let done = offset.saturating_add(data.len() as u64) == total_len;
        InstallSnapshot {
            last_included_index: last_included_index.0,
            last_included_term: last_included_term.0,
            data,
            offset,
            total_len,
            done,
        }
    }

    /// The index of the last entry the snapshot covers.
    pub fn last_included_index(&self) -> LogIndex {
        LogIndex(self.last_included_index)
    }

    /// The term of that entry.
    pub fn last_included_term(&self) -> Term {
        Term(self.last_included_term)
    }

    /// This chunk's bytes of the service's snapshot.
    pub fn data(&self) -> &Bytes {
        &self.data
    }

    /// Where this chunk starts in the snapshot.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The snapshot's length in bytes (0: this message carries the whole snapshot).
    pub fn total_len(&self) -> u64 {
        self.total_len
    }

    /// Whether this is the snapshot's last chunk.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Where the chunk's bytes go, or `None` if its fields contradict each other (past
    /// the total length, a `done` flag that disagrees with it, or a whole-snapshot
    /// message at a nonzero offset): such a message is malformed.
    pub(crate) fn place(&self) -> Option<ChunkPlace> {
        let len = self.data.len() as u64;
        if self.total_len == 0 {
            return (self.offset == 0).then_some(ChunkPlace {
                offset: 0,
                end: len,
                total_len: len,
            });
        }
        let end = self.offset.checked_add(len)?;
        let consistent = end <= self.total_len && self.done == (end == self.total_len);
        consistent.then_some(ChunkPlace {
            offset: self.offset,
            end,
            total_len: self.total_len,
        })
    }

    /// How many snapshot bytes a chunk may carry so that its whole message stays within
    /// `max_message_bytes`, given the encoded length of the same message without data
    /// (at least one byte, so that a transfer always moves on).
    pub(crate) fn data_room(max_message_bytes: usize, header_len: usize) -> usize {
        max_message_bytes
            .saturating_sub(header_len + CHUNK_FRAMING_BYTES)
            .max(1)
    }
}

/// The reply to [`InstallSnapshot`].
///
/// A complete reply (`partial` false, as older nodes send it) says the follower holds
/// everything up to `last_included_index`. A partial reply answers the chunk at `offset`
/// of that snapshot: the follower holds its first `next_offset` bytes and wants the chunk
/// starting there (0 after a restart, which lost what it had assembled).
#[derive(Clone, PartialEq, prost::Message)]
pub struct InstallSnapshotReply {
    #[prost(uint64, tag = "1")]
    pub(crate) last_included_index: u64,
    #[prost(bool, tag = "2")]
    pub(crate) partial: bool,
    #[prost(uint64, tag = "3")]
    pub(crate) offset: u64,
    #[prost(uint64, tag = "4")]
    pub(crate) next_offset: u64,
}

impl InstallSnapshotReply {
    /// The follower holds everything up to `last_included_index`.
    pub fn new(last_included_index: LogIndex) -> InstallSnapshotReply {
        InstallSnapshotReply {
            last_included_index: last_included_index.0,
            ..InstallSnapshotReply::default()
        }
    }

    /// The answer to the chunk at `offset` of the snapshot ending at
    /// `last_included_index`, which the follower holds the first `next_offset` bytes of.
    pub fn partial(
        last_included_index: LogIndex,
        offset: u64,
        next_offset: u64,
    ) -> InstallSnapshotReply {
        InstallSnapshotReply {
            last_included_index: last_included_index.0,
            partial: true,
            offset,
            next_offset,
        }
    }

    /// The snapshot this answers; for a complete reply, the index the follower now holds
    /// everything up to (its match index for the leader).
    pub fn last_included_index(&self) -> LogIndex {
        LogIndex(self.last_included_index)
    }

    /// Whether the follower is still assembling the snapshot.
    pub fn is_partial(&self) -> bool {
        self.partial
    }

    /// The offset of the chunk a partial reply answers.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// How many bytes of the snapshot the follower holds: where the next chunk starts.
    pub fn next_offset(&self) -> u64 {
        self.next_offset
    }
}

/// TimeoutNow (thesis §3.10): the leader has brought the target of a leadership transfer
/// up to date and tells it to campaign at once, skipping pre-vote. It has no reply.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeoutNow {}

impl TimeoutNow {
    /// The request.
    pub fn new() -> TimeoutNow {
        TimeoutNow {}
    }
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
    pub fn from(&self) -> NodeId {
        NodeId(self.from)
    }

    /// The receiver.
    pub fn to(&self) -> NodeId {
        NodeId(self.to)
    }

    /// The sender's term.
    pub fn term(&self) -> Term {
        Term(self.term)
    }

    /// What the message says. Always present on a message built by [`Message::new`] or
    /// decoded by [`Message::from_bytes`]; a node ignores a message without one.
    pub fn body(&self) -> Option<&Body> {
        self.body.as_ref()
    }

    /// The body, by value.
    pub fn into_body(self) -> Option<Body> {
        self.body
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

    /// Whether every term, index and round the message carries is at most 2^62; a node ignores
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
                        && ok(a.round)
                        && a.entries.iter().all(|e| ok(e.index) && ok(e.term))
                }
                Some(Body::AppendEntriesReply(r)) => {
                    ok(r.match_index)
                        && ok(r.rejected_index)
                        && ok(r.conflict_term)
                        && ok(r.conflict_index)
                        && ok(r.round)
                }
                Some(Body::InstallSnapshot(s)) => {
                    ok(s.last_included_index)
                        && ok(s.last_included_term)
                        && ok(s.offset)
                        && ok(s.total_len)
                }
                Some(Body::InstallSnapshotReply(r)) => {
                    ok(r.last_included_index) && ok(r.offset) && ok(r.next_offset)
                }
                Some(Body::TimeoutNow(_)) => true,
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
        let head = format!("{}->{} t{}", self.from(), self.to(), self.term);
        match &self.body {
            None => format!("EMPTY {head}"),
            Some(Body::RequestVote(rv)) => format!(
                "{} {head} last=i{}/t{}",
                match (rv.pre_vote, rv.transfer) {
                    (true, _) => "PV",
                    (false, true) => "TV",
                    (false, false) => "RV",
                },
                rv.last_log_index,
                rv.last_log_term
            ),
            Some(Body::RequestVoteReply(r)) => format!(
                "{} {head} granted={}",
                if r.pre_vote { "PVR" } else { "RVR" },
                r.granted
            ),
            Some(Body::AppendEntries(ae)) => format!(
                "AE {head} prev=i{}/t{} n={} commit=i{} r{}",
                ae.prev_log_index,
                ae.prev_log_term,
                ae.entries.len(),
                ae.leader_commit,
                ae.round
            ),
            Some(Body::AppendEntriesReply(r)) if r.success => {
                format!("AER {head} ok match=i{} r{}", r.match_index, r.round)
            }
            Some(Body::AppendEntriesReply(r)) => format!(
                "AER {head} reject=i{} conflict=t{}@i{} r{}",
                r.rejected_index, r.conflict_term, r.conflict_index, r.round
            ),
            Some(Body::InstallSnapshot(s)) => format!(
                "IS {head} last=i{}/t{} at={} bytes={} of={}{}",
                s.last_included_index,
                s.last_included_term,
                s.offset,
                s.data.len(),
                s.total_len,
                if s.done { " done" } else { "" }
            ),
            Some(Body::InstallSnapshotReply(r)) if r.partial => format!(
                "ISR {head} last=i{} partial at={} next={}",
                r.last_included_index, r.offset, r.next_offset
            ),
            Some(Body::InstallSnapshotReply(r)) => {
                format!("ISR {head} last=i{}", r.last_included_index)
            }
            Some(Body::TimeoutNow(_)) => format!("TN {head}"),
        }
    }
}
