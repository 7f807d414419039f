//! What a client and a server say to each other, inside the frames of [`crate::frame`].
//!
//! Every client frame starts with one kind byte:
//!
//! - `1`: a kv-core [`Request`] (client to server) or [`Reply`] (server to client), in
//!   kv-core's own encoding: exactly what a [`kv_core::Clerk`] sends and receives.
//! - `2`: a status query (empty, client to server) or a [`Status`] (server to client),
//!   for operators and tests: who leads, how far the log and the state machine are.
//!
//! A frame of an unknown kind, or one that does not decode, closes the connection.

use kv_core::{DecodeError, Reply, Request};
use prost::Message as _;
use raft_core::{LogIndex, NodeId, RoleKind, Term};

const KIND_KV: u8 = 1;
const KIND_STATUS: u8 = 2;

/// A frame from a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientFrame {
    /// A clerk's request.
    Request(Request),
    /// A status query.
    Status,
}

/// A frame from a server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerFrame {
    /// The answer to a request.
    Reply(Reply),
    /// The answer to a status query.
    Status(Status),
}

/// A server's view of itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// Its id.
    pub id: NodeId,
    /// Its current term.
    pub term: Term,
    /// Follower, candidate, pre-candidate or leader.
    pub role: String,
    /// The leader it knows of.
    pub leader: Option<NodeId>,
    /// Its commit index.
    pub commit_index: LogIndex,
    /// The index its state machine applied.
    pub applied_index: LogIndex,
    /// The digest of its state at `applied_index` (equal on every server there).
    pub digest: u64,
    /// The last index its snapshot covers.
    pub snapshot_index: LogIndex,
    /// Its last log index.
    pub last_log_index: LogIndex,
    /// Raft's measure of its persisted raft state, in bytes.
    pub raft_state_bytes: u64,
    /// The generation of its live log file.
    pub wal_generation: u64,
    /// The size of its live log file.
    pub wal_bytes: u64,
    /// Snapshot files it wrote since it started.
    pub snapshots_written: u64,
}

/// Why a frame did not decode.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WireError {
    /// An empty frame.
    #[error("empty frame")]
    Empty,
    /// An unknown kind byte.
    #[error("unknown frame kind {0}")]
    UnknownKind(u8),
    /// A kv-core request or reply that does not decode.
    #[error(transparent)]
    Kv(#[from] DecodeError),
    /// A status that does not decode.
    #[error("malformed status: {0}")]
    Status(#[from] prost::DecodeError),
}

#[derive(Clone, PartialEq, prost::Message)]
struct StatusRecord {
    #[prost(uint64, tag = "1")]
    id: u64,
    #[prost(uint64, tag = "2")]
    term: u64,
    #[prost(string, tag = "3")]
    role: String,
    #[prost(uint64, tag = "4")]
    leader: u64,
    #[prost(uint64, tag = "5")]
    commit_index: u64,
    #[prost(uint64, tag = "6")]
    applied_index: u64,
    #[prost(uint64, tag = "7")]
    digest: u64,
    #[prost(uint64, tag = "8")]
    snapshot_index: u64,
    #[prost(uint64, tag = "9")]
    last_log_index: u64,
    #[prost(uint64, tag = "10")]
    raft_state_bytes: u64,
    #[prost(uint64, tag = "11")]
    wal_generation: u64,
    #[prost(uint64, tag = "12")]
    wal_bytes: u64,
    #[prost(uint64, tag = "13")]
    snapshots_written: u64,
}

/// The name of a role, as a status reports it.
pub fn role_name(role: RoleKind) -> &'static str {
    match role {
        RoleKind::Leader => "leader",
        RoleKind::Candidate => "candidate",
        RoleKind::PreCandidate => "pre-candidate",
        RoleKind::Follower => "follower",
    }
}

impl ClientFrame {
    /// The frame's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            ClientFrame::Request(request) => tagged(KIND_KV, request.to_bytes()),
            ClientFrame::Status => vec![KIND_STATUS],
        }
    }

    /// Decodes a frame from a client.
    pub fn from_bytes(bytes: &[u8]) -> Result<ClientFrame, WireError> {
        match bytes.split_first() {
            None => Err(WireError::Empty),
            Some((&KIND_KV, rest)) => Ok(ClientFrame::Request(Request::from_bytes(rest)?)),
            Some((&KIND_STATUS, _)) => Ok(ClientFrame::Status),
            Some((&kind, _)) => Err(WireError::UnknownKind(kind)),
        }
    }
}

impl ServerFrame {
    /// The frame's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            ServerFrame::Reply(reply) => tagged(KIND_KV, reply.to_bytes()),
            ServerFrame::Status(status) => tagged(KIND_STATUS, status.to_record().encode_to_vec()),
        }
    }

    /// Decodes a frame from a server.
    pub fn from_bytes(bytes: &[u8]) -> Result<ServerFrame, WireError> {
        match bytes.split_first() {
            None => Err(WireError::Empty),
            Some((&KIND_KV, rest)) => Ok(ServerFrame::Reply(Reply::from_bytes(rest)?)),
            Some((&KIND_STATUS, rest)) => Ok(ServerFrame::Status(Status::from_record(
                StatusRecord::decode(rest)?,
            ))),
            Some((&kind, _)) => Err(WireError::UnknownKind(kind)),
        }
    }
}

fn tagged(kind: u8, body: Vec<u8>) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(body.len() + 1);
    bytes.push(kind);
    bytes.extend_from_slice(&body);
    bytes
}

impl Status {
    fn to_record(&self) -> StatusRecord {
        StatusRecord {
            id: self.id.0,
            term: self.term.0,
            role: self.role.clone(),
            leader: self.leader.map_or(0, |id| id.0),
            commit_index: self.commit_index.0,
            applied_index: self.applied_index.0,
            digest: self.digest,
            snapshot_index: self.snapshot_index.0,
            last_log_index: self.last_log_index.0,
            raft_state_bytes: self.raft_state_bytes,
            wal_generation: self.wal_generation,
            wal_bytes: self.wal_bytes,
            snapshots_written: self.snapshots_written,
        }
    }

    fn from_record(record: StatusRecord) -> Status {
        Status {
            id: NodeId(record.id),
            term: Term(record.term),
            role: record.role,
            leader: (record.leader != 0).then_some(NodeId(record.leader)),
            commit_index: LogIndex(record.commit_index),
            applied_index: LogIndex(record.applied_index),
            digest: record.digest,
            snapshot_index: LogIndex(record.snapshot_index),
            last_log_index: LogIndex(record.last_log_index),
            raft_state_bytes: record.raft_state_bytes,
            wal_generation: record.wal_generation,
            wal_bytes: record.wal_bytes,
            snapshots_written: record.snapshots_written,
        }
    }

    /// True if this server says it leads.
    pub fn is_leader(&self) -> bool {
        self.role == "leader"
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let leader = self.leader.map_or("none".to_string(), |id| id.to_string());
        write!(
            f,
            "{} {} term {} leader {} commit {} applied {} digest {:016x} snapshot {} last {} raft-state {} B wal gen {} {} B snapshots {}",
            self.id,
            self.role,
            self.term.0,
            leader,
            self.commit_index.0,
            self.applied_index.0,
            self.digest,
            self.snapshot_index.0,
            self.last_log_index.0,
            self.raft_state_bytes,
            self.wal_generation,
            self.wal_bytes,
            self.snapshots_written
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kv_core::{ClientId, Op, Outcome, Seq};

    #[test]
    fn frames_round_trip() {
        let request = Request {
            client: ClientId(5),
            seq: Seq(2),
            op: Op::Get { key: "k".into() },
        };
        for frame in [ClientFrame::Request(request), ClientFrame::Status] {
            assert_eq!(ClientFrame::from_bytes(&frame.to_bytes()), Ok(frame));
        }
        let reply = Reply {
            client: ClientId(5),
            seq: Seq(2),
            outcome: Outcome::Ok { value: "v".into() },
        };
        let status = Status {
            id: NodeId(2),
            term: Term(3),
            role: "leader".into(),
            leader: Some(NodeId(2)),
            commit_index: LogIndex(9),
            applied_index: LogIndex(9),
            digest: 77,
            snapshot_index: LogIndex(4),
            last_log_index: LogIndex(10),
            raft_state_bytes: 500,
            wal_generation: 2,
            wal_bytes: 900,
            snapshots_written: 1,
        };
        for frame in [ServerFrame::Reply(reply), ServerFrame::Status(status)] {
            assert_eq!(ServerFrame::from_bytes(&frame.to_bytes()), Ok(frame));
        }
    }

    #[test]
    fn bad_frames_are_typed_errors() {
        assert_eq!(ClientFrame::from_bytes(&[]), Err(WireError::Empty));
        assert_eq!(
            ClientFrame::from_bytes(&[9]),
            Err(WireError::UnknownKind(9))
        );
        assert!(matches!(
            ClientFrame::from_bytes(&[KIND_KV, 0xff]),
            Err(WireError::Kv(_))
        ));
        assert!(matches!(
            ServerFrame::from_bytes(&[KIND_STATUS, 0xff]),
            Err(WireError::Status(_))
        ));
    }
}
