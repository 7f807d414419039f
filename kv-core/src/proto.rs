//! The wire types between clerks and servers, and their prost codec.
//!
//! A [`Request`] is one attempt of a clerk's call: (client id, sequence number) and one
//! [`Op`]. The same encoding is the command a server stores in the Raft log. A [`Reply`]
//! answers a request with the same (client id, sequence number) and one [`Outcome`].
//!
//! Keys and values are UTF-8 strings, as in the lab (a Get of a missing key reads `""`).
//! An [`Op`] holds its key and value as shared strings (`Arc<str>`): a clerk keeps its
//! call for retries and sends a copy with every attempt, and a driver may name its keys
//! once and hand them out again, all without copying text. The public types are plain
//! Rust values; the prost records are private to this module, so the encoding can evolve
//! without changing the API. Bytes that do not decode give a
//! [`DecodeError`]; nothing here panics on input.

use std::sync::Arc;

use bytes::BufMut;
use prost::Message as _;
use raft_core::NodeId;

use crate::encoding::{nested_len, put_string_field, string_field_len, varint_field_len, Head};
use crate::types::{ClientId, Seq};

/// One key/value operation. Its texts are shared: cloning an `Op` copies no text (build
/// them with `"text".into()`, `Arc::from(string)`, or clone an `Arc<str>` kept around).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Read the value of `key` (`""` if the key was never written).
    Get {
        /// The key to read.
        key: Arc<str>,
    },
    /// Replace the value of `key` with `value`.
    Put {
        /// The key to write.
        key: Arc<str>,
        /// The new value.
        value: Arc<str>,
    },
    /// Append `value` to the value of `key` (a missing key counts as `""`).
    Append {
        /// The key to extend.
        key: Arc<str>,
        /// The text to append.
        value: Arc<str>,
    },
}

/// The kind of an [`Op`], without its arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OpKind {
    /// [`Op::Get`].
    Get,
    /// [`Op::Put`].
    Put,
    /// [`Op::Append`].
    Append,
}

/// A clerk's request: one attempt of call `seq` of client `client`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The clerk that sent it.
    pub client: ClientId,
    /// The clerk's call this attempt belongs to (the same on every retry).
    pub seq: Seq,
    /// What to do.
    pub op: Op,
}

/// A server's answer to a [`Request`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The client of the request answered.
    pub client: ClientId,
    /// The sequence number of the request answered.
    pub seq: Seq,
    /// What happened.
    pub outcome: Outcome,
}

/// What became of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The operation took effect (exactly once). A Get carries the value it read; a Put
    /// or an Append carries `""`.
    Ok {
        /// The value read by a Get.
        value: String,
    },
    /// This server cannot serve the request now (it does not lead, it lost its term
    /// before the request committed, or it is overloaded): try the hinted server, or
    /// another one. The request may still take effect; a retry with the same sequence
    /// number is answered without applying it twice.
    WrongLeader {
        /// The leader this server knows of, if any.
        leader_hint: Option<NodeId>,
    },
    /// The request breaks a configured limit; it never takes effect, and a retry would be
    /// refused again.
    Refused(Refusal),
}

/// Why a request was refused. Every server of a cluster is expected to share the limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The key is longer than the configured maximum.
    #[error("key of {bytes} bytes is above the limit of {max}")]
    KeyTooLarge {
        /// The key's length in bytes.
        bytes: u64,
        /// The configured maximum.
        max: u64,
    },
    /// The value is longer than the configured maximum.
    #[error("value of {bytes} bytes is above the limit of {max}")]
    ValueTooLarge {
        /// The value's length in bytes.
        bytes: u64,
        /// The configured maximum.
        max: u64,
    },
    /// The encoded command would take more than a quarter of `max_raft_state`, so the
    /// persisted raft state could not stay within its bound.
    #[error("command of {bytes} bytes is above the limit of {max} (a quarter of max_raft_state)")]
    CommandTooLarge {
        /// The command's encoded length in bytes.
        bytes: u64,
        /// The largest command accepted.
        max: u64,
    },
}

/// Why bytes could not be decoded into a [`Request`] or a [`Reply`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The bytes are not valid protobuf for the expected record (this includes text that
    /// is not UTF-8).
    #[error("malformed protobuf: {0}")]
    Protobuf(#[from] prost::DecodeError),
    /// A request without an operation.
    #[error("request has no operation")]
    MissingOp,
    /// A reply without an outcome.
    #[error("reply has no outcome")]
    MissingOutcome,
    /// A refusal of a kind this version does not know.
    #[error("unknown refusal kind {0}")]
    UnknownRefusal(u32),
}

impl Op {
    /// The key the operation reads or writes.
    pub fn key(&self) -> &str {
        match self {
            Op::Get { key } | Op::Put { key, .. } | Op::Append { key, .. } => key,
        }
    }

    /// The value a Put or Append writes (`None` for a Get).
    pub fn value(&self) -> Option<&str> {
        match self {
            Op::Get { .. } => None,
            Op::Put { value, .. } | Op::Append { value, .. } => Some(value),
        }
    }

    /// The kind of operation.
    pub fn kind(&self) -> OpKind {
        match self {
            Op::Get { .. } => OpKind::Get,
            Op::Put { .. } => OpKind::Put,
            Op::Append { .. } => OpKind::Append,
        }
    }

    fn from_record(record: OpRecord) -> Op {
        match record {
            OpRecord::Get(KeyRecord { key }) => Op::Get { key: key.into() },
            OpRecord::Put(KeyValueRecord { key, value }) => Op::Put {
                key: key.into(),
                value: value.into(),
            },
            OpRecord::Append(KeyValueRecord { key, value }) => Op::Append {
                key: key.into(),
                value: value.into(),
            },
        }
    }
}

/// The most a [`Request`]'s encoding adds to its key and value: five fields (client,
/// seq, the op, its key, its value) of a one-byte key and a varint of at most 10 bytes.
pub(crate) const MAX_HEAD_BYTES: usize = 5 * (1 + 10);

impl Request {
    /// Encodes the request to protobuf bytes (the wire form and the log command).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(self.encoded_len());
        self.encode_to(&mut buf);
        debug_assert_eq!(buf.len(), self.encoded_len());
        buf
    }

    /// Appends the encoding of [`Request::to_bytes`] to `buf`.
    pub fn encode_to(&self, buf: &mut impl BufMut) {
        let (tag, key, value) = self.op_fields();
        let body = string_field_len(1, key) + value.map_or(0, |value| string_field_len(2, value));
        // Everything before the key's text as one slice.
        let mut head = Head::new();
        head.varint_field(1, self.client.0)
            .varint_field(2, self.seq.0)
            .delimited(tag, body);
        if !key.is_empty() {
            head.delimited(1, key.len());
        }
        head.flush(buf);
        buf.put_slice(key.as_bytes());
        if let Some(value) = value {
            put_string_field(2, value, buf);
        }
    }

    /// The length of the encoded request in bytes.
    pub fn encoded_len(&self) -> usize {
        let (tag, key, value) = self.op_fields();
        let body = string_field_len(1, key) + value.map_or(0, |value| string_field_len(2, value));
        varint_field_len(1, self.client.0) + varint_field_len(2, self.seq.0) + nested_len(tag, body)
    }

    /// Decodes a request received from the wire or read from the log.
    pub fn from_bytes(bytes: &[u8]) -> Result<Request, DecodeError> {
        let record = RequestRecord::decode(bytes)?;
        let op = record.op.ok_or(DecodeError::MissingOp)?;
        Ok(Request {
            client: ClientId(record.client_id),
            seq: Seq(record.seq),
            op: Op::from_record(op),
        })
    }

    /// The oneof tag of the op, its key and its value (the tags of [`OpRecord`]).
    fn op_fields(&self) -> (u32, &str, Option<&str>) {
        match &self.op {
            Op::Get { key } => (3, key, None),
            Op::Put { key, value } => (4, key, Some(value)),
            Op::Append { key, value } => (5, key, Some(value)),
        }
    }
}

impl Reply {
    /// Encodes the reply to protobuf bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.clone().into_record().encode_to_vec()
    }

    /// The length of [`Reply::to_bytes`]'s output, computed without encoding.
    pub fn encoded_len(&self) -> usize {
        let (tag, body) = match &self.outcome {
            Outcome::Ok { value } => (3, string_field_len(1, value)),
            Outcome::WrongLeader { leader_hint } => {
                (4, varint_field_len(1, leader_hint.map_or(0, |id| id.0)))
            }
            Outcome::Refused(refusal) => {
                let RefusedRecord { kind, bytes, max } = RefusedRecord::from(*refusal);
                let body = varint_field_len(1, u64::from(kind))
                    + varint_field_len(2, bytes)
                    + varint_field_len(3, max);
                (5, body)
            }
        };
        varint_field_len(1, self.client.0) + varint_field_len(2, self.seq.0) + nested_len(tag, body)
    }

    /// Decodes a reply received from the wire.
    pub fn from_bytes(bytes: &[u8]) -> Result<Reply, DecodeError> {
        let record = ReplyRecord::decode(bytes)?;
        let outcome = match record.outcome.ok_or(DecodeError::MissingOutcome)? {
            OutcomeRecord::Ok(ok) => Outcome::Ok { value: ok.value },
            OutcomeRecord::WrongLeader(wrong) => Outcome::WrongLeader {
                leader_hint: (wrong.leader_hint != 0).then_some(NodeId(wrong.leader_hint)),
            },
            OutcomeRecord::Refused(refused) => Outcome::Refused(refused.into_refusal()?),
        };
        Ok(Reply {
            client: ClientId(record.client_id),
            seq: Seq(record.seq),
            outcome,
        })
    }

    fn into_record(self) -> ReplyRecord {
        let outcome = match self.outcome {
            Outcome::Ok { value } => OutcomeRecord::Ok(OkRecord { value }),
            Outcome::WrongLeader { leader_hint } => OutcomeRecord::WrongLeader(WrongLeaderRecord {
                leader_hint: leader_hint.map_or(0, |id| id.0),
            }),
            Outcome::Refused(refusal) => OutcomeRecord::Refused(RefusedRecord::from(refusal)),
        };
        ReplyRecord {
            client_id: self.client.0,
            seq: self.seq.0,
            outcome: Some(outcome),
        }
    }
}

#[derive(Clone, PartialEq, prost::Message)]
struct RequestRecord {
    #[prost(uint64, tag = "1")]
    client_id: u64,
    #[prost(uint64, tag = "2")]
    seq: u64,
    #[prost(oneof = "OpRecord", tags = "3, 4, 5")]
    op: Option<OpRecord>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
enum OpRecord {
    #[prost(message, tag = "3")]
    Get(KeyRecord),
    #[prost(message, tag = "4")]
    Put(KeyValueRecord),
    #[prost(message, tag = "5")]
    Append(KeyValueRecord),
}

#[derive(Clone, PartialEq, prost::Message)]
struct KeyRecord {
    #[prost(string, tag = "1")]
    key: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct KeyValueRecord {
    #[prost(string, tag = "1")]
    key: String,
    #[prost(string, tag = "2")]
    value: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ReplyRecord {
    #[prost(uint64, tag = "1")]
    client_id: u64,
    #[prost(uint64, tag = "2")]
    seq: u64,
    #[prost(oneof = "OutcomeRecord", tags = "3, 4, 5")]
    outcome: Option<OutcomeRecord>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
enum OutcomeRecord {
    #[prost(message, tag = "3")]
    Ok(OkRecord),
    #[prost(message, tag = "4")]
    WrongLeader(WrongLeaderRecord),
    #[prost(message, tag = "5")]
    Refused(RefusedRecord),
}

#[derive(Clone, PartialEq, prost::Message)]
struct OkRecord {
    #[prost(string, tag = "1")]
    value: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct WrongLeaderRecord {
    /// 0 means "unknown".
    #[prost(uint64, tag = "1")]
    leader_hint: u64,
}

const REFUSAL_KEY: u32 = 1;
const REFUSAL_VALUE: u32 = 2;
const REFUSAL_COMMAND: u32 = 3;

#[derive(Clone, PartialEq, prost::Message)]
struct RefusedRecord {
    #[prost(uint32, tag = "1")]
    kind: u32,
    #[prost(uint64, tag = "2")]
    bytes: u64,
    #[prost(uint64, tag = "3")]
    max: u64,
}

impl From<Refusal> for RefusedRecord {
    fn from(refusal: Refusal) -> RefusedRecord {
        let (kind, bytes, max) = match refusal {
            Refusal::KeyTooLarge { bytes, max } => (REFUSAL_KEY, bytes, max),
            Refusal::ValueTooLarge { bytes, max } => (REFUSAL_VALUE, bytes, max),
            Refusal::CommandTooLarge { bytes, max } => (REFUSAL_COMMAND, bytes, max),
        };
        RefusedRecord { kind, bytes, max }
    }
}

impl RefusedRecord {
    fn into_refusal(self) -> Result<Refusal, DecodeError> {
        let RefusedRecord { kind, bytes, max } = self;
        match kind {
            REFUSAL_KEY => Ok(Refusal::KeyTooLarge { bytes, max }),
            REFUSAL_VALUE => Ok(Refusal::ValueTooLarge { bytes, max }),
            REFUSAL_COMMAND => Ok(Refusal::CommandTooLarge { bytes, max }),
            other => Err(DecodeError::UnknownRefusal(other)),
        }
    }
}

impl std::fmt::Display for OpKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            OpKind::Get => "get",
            OpKind::Put => "put",
            OpKind::Append => "append",
        })
    }
}

impl std::fmt::Display for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}{} {} {:?}",
            self.client,
            self.seq,
            self.op.kind(),
            self.op.key()
        )?;
        match self.op.value() {
            Some(value) => write!(f, " {value:?}"),
            None => Ok(()),
        }
    }
}

impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{} ", self.client, self.seq)?;
        match &self.outcome {
            Outcome::Ok { value } => write!(f, "ok {value:?}"),
            Outcome::WrongLeader {
                leader_hint: Some(id),
            } => write!(f, "wrong leader, try {id}"),
            Outcome::WrongLeader { leader_hint: None } => write!(f, "wrong leader"),
            Outcome::Refused(refusal) => write!(f, "refused: {refusal}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(op: Op) -> Request {
        Request {
            client: ClientId(7),
            seq: Seq(3),
            op,
        }
    }

    fn derived_encoding(request: &Request) -> Vec<u8> {
        let text = |text: &Arc<str>| text.to_string();
        let op = match &request.op {
            Op::Get { key } => OpRecord::Get(KeyRecord { key: text(key) }),
            Op::Put { key, value } => OpRecord::Put(KeyValueRecord {
                key: text(key),
                value: text(value),
            }),
            Op::Append { key, value } => OpRecord::Append(KeyValueRecord {
                key: text(key),
                value: text(value),
            }),
        };
        RequestRecord {
            client_id: request.client.0,
            seq: request.seq.0,
            op: Some(op),
        }
        .encode_to_vec()
    }

    #[test]
    fn requests_round_trip() {
        let ops = [
            Op::Get { key: "k".into() },
            Op::Get { key: "".into() },
            Op::Put {
                key: "k".into(),
                value: "v".into(),
            },
            Op::Append {
                key: "ключ".into(),
                value: "".into(),
            },
        ];
        for op in ops {
            let request = request(op);
            let bytes = request.to_bytes();
            assert_eq!(bytes.len(), request.encoded_len());
            assert_eq!(bytes, derived_encoding(&request), "{request}");
            assert_eq!(Request::from_bytes(&bytes), Ok(request));
        }
    }

    #[test]
    fn heads_take_at_most_max_head_bytes() {
        let request = Request {
            client: ClientId(u64::MAX),
            seq: Seq(u64::MAX),
            op: Op::Append {
                key: "k".repeat(300).into(),
                value: "v".repeat(20_000).into(),
            },
        };
        let texts = 300 + 20_000;
        assert!(request.encoded_len() <= texts + MAX_HEAD_BYTES);
        assert!(request.encoded_len() > texts + 5 * 2);
    }

    #[test]
    fn replies_round_trip() {
        let outcomes = [
            Outcome::Ok { value: "v".into() },
            Outcome::Ok {
                value: String::new(),
            },
            Outcome::WrongLeader {
                leader_hint: Some(NodeId(3)),
            },
            Outcome::WrongLeader { leader_hint: None },
            Outcome::Refused(Refusal::KeyTooLarge { bytes: 9, max: 8 }),
            Outcome::Refused(Refusal::ValueTooLarge { bytes: 0, max: 0 }),
            Outcome::Refused(Refusal::CommandTooLarge {
                bytes: 300,
                max: 250,
            }),
        ];
        for outcome in outcomes {
            let reply = Reply {
                client: ClientId(u64::MAX),
                seq: Seq(0),
                outcome,
            };
            assert_eq!(reply.encoded_len(), reply.to_bytes().len(), "{reply}");
            assert_eq!(Reply::from_bytes(&reply.to_bytes()), Ok(reply));
        }
    }

    #[test]
    fn a_request_without_an_op_is_a_typed_error() {
        let bytes = RequestRecord {
            client_id: 1,
            seq: 1,
            op: None,
        }
        .encode_to_vec();
        assert_eq!(Request::from_bytes(&bytes), Err(DecodeError::MissingOp));
        assert_eq!(Request::from_bytes(&[]), Err(DecodeError::MissingOp));
    }

    #[test]
    fn a_reply_without_an_outcome_or_with_an_unknown_refusal_is_a_typed_error() {
        assert_eq!(Reply::from_bytes(&[]), Err(DecodeError::MissingOutcome));
        let bytes = ReplyRecord {
            client_id: 1,
            seq: 1,
            outcome: Some(OutcomeRecord::Refused(RefusedRecord {
                kind: 99,
                bytes: 1,
                max: 1,
            })),
        }
        .encode_to_vec();
        assert_eq!(
            Reply::from_bytes(&bytes),
            Err(DecodeError::UnknownRefusal(99))
        );
    }

    #[test]
    fn text_that_is_not_utf8_is_a_protobuf_error() {
        // Field 3 (Get), length 3: field 1 (key), length 1, byte 0xff.
        let bytes = [0x1a, 0x03, 0x0a, 0x01, 0xff];
        assert!(matches!(
            Request::from_bytes(&bytes),
            Err(DecodeError::Protobuf(_))
        ));
    }

    #[test]
    fn garbage_is_a_protobuf_error() {
        let garbage = [
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ];
        assert!(matches!(
            Request::from_bytes(&garbage),
            Err(DecodeError::Protobuf(_))
        ));
        assert!(matches!(
            Reply::from_bytes(&garbage),
            Err(DecodeError::Protobuf(_))
        ));
    }
}
