//! The snapshot of a KV server's state: the map and the duplicate table, prost-encoded,
//! tagged with a format version and the log index it covers.
//!
//! The encoding is canonical: pairs in key order, table rows in client order, so every
//! server produces the same bytes for the same state at the same index. Decoding checks
//! what it reads (version, index, strictly increasing keys and clients) and gives a
//! [`SnapshotDecodeError`] for anything else. Encoding writes the records directly from
//! the state, without copying keys or values into intermediate records.

use bytes::Bytes;
use prost::Message as _;
use raft_core::LogIndex;

use crate::encoding::{
    nested_len, put_nested_head, put_string_field, put_varint_field, string_field_len,
    varint_field_len,
};
use crate::keys::KeyMap;
use crate::state::{KvState, StoredValue};
use crate::types::{ClientId, Seq};

/// The snapshot format this version writes and reads.
pub const SNAPSHOT_FORMAT_VERSION: u32 = 1;

/// Why snapshot bytes could not be turned back into a KV state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotDecodeError {
    /// The bytes are not valid protobuf for a snapshot (this includes non-UTF-8 text).
    #[error("malformed snapshot protobuf: {0}")]
    Protobuf(#[from] prost::DecodeError),
    /// A format version this code does not read (0: no version, e.g. empty bytes).
    #[error("snapshot format version {found}, expected {SNAPSHOT_FORMAT_VERSION}")]
    Version {
        /// The version found.
        found: u32,
    },
    /// The snapshot says it covers another index than Raft says.
    #[error("snapshot claims index {claimed}, but raft has it at {expected}")]
    IndexMismatch {
        /// The index written in the snapshot.
        claimed: LogIndex,
        /// The index Raft stored it under.
        expected: LogIndex,
    },
    /// Keys are not strictly increasing (a duplicate key or a non-canonical order).
    #[error("snapshot key at position {position} is not after the previous one")]
    KeysOutOfOrder {
        /// The position of the offending pair.
        position: usize,
    },
    /// Client ids are not strictly increasing.
    #[error("snapshot client at position {position} is not after the previous one")]
    ClientsOutOfOrder {
        /// The position of the offending row.
        position: usize,
    },
}

#[derive(Clone, PartialEq, prost::Message)]
struct SnapshotRecord {
    #[prost(uint32, tag = "1")]
    version: u32,
    #[prost(uint64, tag = "2")]
    index: u64,
    #[prost(message, repeated, tag = "3")]
    pairs: Vec<PairRecord>,
    #[prost(message, repeated, tag = "4")]
    clients: Vec<ClientRecord>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct PairRecord {
    #[prost(string, tag = "1")]
    key: String,
    #[prost(string, tag = "2")]
    value: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ClientRecord {
    #[prost(uint64, tag = "1")]
    client_id: u64,
    #[prost(uint64, tag = "2")]
    last_seq: u64,
}

const TAG_VERSION: u32 = 1;
const TAG_INDEX: u32 = 2;
const TAG_PAIRS: u32 = 3;
const TAG_CLIENTS: u32 = 4;

/// Encodes `state` as the snapshot of everything up to `index`.
pub(crate) fn encode(state: &KvState, index: LogIndex) -> Bytes {
    encode_with(state, index, true)
}

/// [`encode`], leaving the duplicate table out unless `clients` (the planted
/// `SnapshotWithoutDuplicates` bug).
pub(crate) fn encode_with(state: &KvState, index: LogIndex, clients: bool) -> Bytes {
    let pairs = state.sorted_pairs();
    let clients = if clients {
        state.sorted_clients()
    } else {
        Vec::new()
    };
    let len = encoded_len(&pairs, &clients, index);
    let mut buf = Vec::with_capacity(len);
    put_varint_field(TAG_VERSION, u64::from(SNAPSHOT_FORMAT_VERSION), &mut buf);
    put_varint_field(TAG_INDEX, index.0, &mut buf);
    for (key, stored) in pairs {
        let body = string_field_len(1, key) + string_field_len(2, &stored.text);
        put_nested_head(TAG_PAIRS, body, &mut buf);
        put_string_field(1, key, &mut buf);
        put_string_field(2, &stored.text, &mut buf);
    }
    for (client, seq) in clients {
        let body = varint_field_len(1, client.0) + varint_field_len(2, seq.0);
        put_nested_head(TAG_CLIENTS, body, &mut buf);
        put_varint_field(1, client.0, &mut buf);
        put_varint_field(2, seq.0, &mut buf);
    }
    debug_assert_eq!(buf.len(), len);
    Bytes::from(buf)
}

/// The length of [`encode`]'s output, given the state's pairs.
fn encoded_len(
    pairs: &[(&str, &StoredValue)],
    clients: &[(ClientId, Seq)],
    index: LogIndex,
) -> usize {
    let header = varint_field_len(TAG_VERSION, u64::from(SNAPSHOT_FORMAT_VERSION))
        + varint_field_len(TAG_INDEX, index.0);
    let pairs: usize = pairs
        .iter()
        .map(|(key, stored)| {
            nested_len(
                TAG_PAIRS,
                string_field_len(1, key) + string_field_len(2, &stored.text),
            )
        })
        .sum();
    let clients: usize = clients
        .iter()
        .map(|(client, seq)| {
            nested_len(
                TAG_CLIENTS,
                varint_field_len(1, client.0) + varint_field_len(2, seq.0),
            )
        })
        .sum();
    header + pairs + clients
}

/// Decodes the snapshot Raft holds at `index` into a state, checking it on the way.
pub(crate) fn decode(bytes: &[u8], index: LogIndex) -> Result<KvState, SnapshotDecodeError> {
    let record = SnapshotRecord::decode(bytes)?;
    if record.version != SNAPSHOT_FORMAT_VERSION {
        return Err(SnapshotDecodeError::Version {
            found: record.version,
        });
    }
    if record.index != index.0 {
        return Err(SnapshotDecodeError::IndexMismatch {
            claimed: LogIndex(record.index),
            expected: index,
        });
    }
    if let Some(position) = first_out_of_order(record.pairs.iter().map(|pair| &pair.key)) {
        return Err(SnapshotDecodeError::KeysOutOfOrder { position });
    }
    if let Some(position) = first_out_of_order(record.clients.iter().map(|row| row.client_id)) {
        return Err(SnapshotDecodeError::ClientsOutOfOrder { position });
    }
    let map: KeyMap<StoredValue> = record
        .pairs
        .into_iter()
        .map(|pair| {
            let stored = StoredValue::new(&pair.key, pair.value);
            (pair.key.into_boxed_str(), stored)
        })
        .collect();
    let last_seq = record
        .clients
        .into_iter()
        .map(|row| (ClientId(row.client_id), Seq(row.last_seq)))
        .collect();
    Ok(KvState::from_parts(map, last_seq))
}

/// The position of the first item not strictly after its predecessor.
fn first_out_of_order<T: PartialOrd>(items: impl Iterator<Item = T>) -> Option<usize> {
    let mut previous: Option<T> = None;
    for (position, item) in items.enumerate() {
        if previous.as_ref().is_some_and(|previous| *previous >= item) {
            return Some(position);
        }
        previous = Some(item);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Command;
    use crate::proto::{Op, Request};

    fn sample() -> KvState {
        let mut state = KvState::default();
        let ops = [
            (
                1,
                1,
                Op::Put {
                    key: "b".into(),
                    value: "2".into(),
                },
            ),
            (
                1,
                2,
                Op::Append {
                    key: "a".into(),
                    value: "1".into(),
                },
            ),
            (
                2,
                1,
                Op::Put {
                    key: "empty".into(),
                    value: "".into(),
                },
            ),
            (300, 7, Op::Get { key: "a".into() }),
        ];
        for (client, seq, op) in ops {
            let request = Request {
                client: ClientId(client),
                seq: Seq(seq),
                op,
            };
            state.apply(Command::of(&request), false, true);
        }
        state
    }

    fn record_of(state: &KvState, index: LogIndex) -> SnapshotRecord {
        SnapshotRecord {
            version: SNAPSHOT_FORMAT_VERSION,
            index: index.0,
            pairs: state
                .sorted_pairs()
                .into_iter()
                .map(|(key, stored)| PairRecord {
                    key: key.to_owned(),
                    value: stored.text.clone(),
                })
                .collect(),
            clients: state
                .sorted_clients()
                .into_iter()
                .map(|(client, seq)| ClientRecord {
                    client_id: client.0,
                    last_seq: seq.0,
                })
                .collect(),
        }
    }

    #[test]
    fn the_direct_encoding_equals_the_derived_one() {
        let state = sample();
        for index in [LogIndex(0), LogIndex(9), LogIndex(1 << 40)] {
            let direct = encode(&state, index);
            assert_eq!(
                direct.len(),
                encoded_len(&state.sorted_pairs(), &state.sorted_clients(), index)
            );
            assert_eq!(direct.to_vec(), record_of(&state, index).encode_to_vec());
        }
        assert_eq!(encode(&KvState::default(), LogIndex(1)).len(), 4);
    }

    #[test]
    fn a_snapshot_round_trips_with_its_digest() {
        let state = sample();
        let bytes = encode(&state, LogIndex(9));
        let decoded = decode(&bytes, LogIndex(9)).expect("decodes");
        assert_eq!(decoded, state);
        assert_eq!(decoded.digest(), state.digest());
    }

    #[test]
    fn bad_snapshots_are_typed_errors() {
        let state = sample();
        let bytes = encode(&state, LogIndex(9));
        assert_eq!(
            decode(&bytes, LogIndex(8)),
            Err(SnapshotDecodeError::IndexMismatch {
                claimed: LogIndex(9),
                expected: LogIndex(8)
            })
        );
        assert_eq!(
            decode(&[], LogIndex(0)),
            Err(SnapshotDecodeError::Version { found: 0 })
        );
        assert!(matches!(
            decode(&[0xff; 12], LogIndex(9)),
            Err(SnapshotDecodeError::Protobuf(_))
        ));
        assert!(matches!(
            decode(&bytes[..bytes.len() - 1], LogIndex(9)),
            Err(SnapshotDecodeError::Protobuf(_))
        ));
        let mut record = record_of(&state, LogIndex(9));
        record.pairs.swap(0, 1);
        assert_eq!(
            decode(&record.encode_to_vec(), LogIndex(9)),
            Err(SnapshotDecodeError::KeysOutOfOrder { position: 1 })
        );
        let mut record = record_of(&state, LogIndex(9));
        record.clients.push(ClientRecord {
            client_id: 2,
            last_seq: 5,
        });
        assert_eq!(
            decode(&record.encode_to_vec(), LogIndex(9)),
            Err(SnapshotDecodeError::ClientsOutOfOrder { position: 3 })
        );
        let mut record = record_of(&state, LogIndex(9));
        record.version = 2;
        assert_eq!(
            decode(&record.encode_to_vec(), LogIndex(9)),
            Err(SnapshotDecodeError::Version { found: 2 })
        );
    }
}
