//! Property tests of the trust boundaries and of the state machine, each with a fixed
//! ChaCha seed so every run checks the same cases: arbitrary bytes never panic the
//! decoders, a restore or an installed snapshot; requests and replies round-trip; log
//! entries of arbitrary bytes apply alike everywhere; and a single server answers every
//! sequence of calls, retries and duplicates exactly as a model map with a duplicate
//! table does, with its running digest equal to the digest of its snapshot.

mod cluster;

use std::collections::BTreeMap;

use cluster::fifo::{request, Fifo};
use cluster::{entry, install_snapshot};
use kv_core::{
    ClientAddr, ClientId, KvConfig, KvServer, Op, Outcome, Refusal, Reply, Request, Seq,
    ServerInput,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use raft_core::{LogIndex, NodeId, PersistAction, PersistedState, Term};

fn runner(cases: u32, seed: u8) -> TestRunner {
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new_with_rng(
        config,
        TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32]),
    )
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-c]{0,3}",
        1 => any::<String>(),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (text()).prop_map(|key| Op::Get { key: key.into() }),
        (text(), text()).prop_map(|(key, value)| Op::Put {
            key: key.into(),
            value: value.into(),
        }),
        (text(), text()).prop_map(|(key, value)| Op::Append {
            key: key.into(),
            value: value.into(),
        }),
    ]
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        text().prop_map(|value| Outcome::Ok { value }),
        proptest::option::of(1..u64::MAX).prop_map(|hint| Outcome::WrongLeader {
            leader_hint: hint.map(NodeId)
        }),
        (any::<u64>(), any::<u64>(), 0..3u8).prop_map(|(bytes, max, kind)| {
            Outcome::Refused(match kind {
                0 => Refusal::KeyTooLarge { bytes, max },
                1 => Refusal::ValueTooLarge { bytes, max },
                _ => Refusal::CommandTooLarge { bytes, max },
            })
        }),
    ]
}

fn check(result: Result<(), proptest::test_runner::TestError<impl std::fmt::Debug>>) {
    if let Err(error) = result {
        panic!("{error}");
    }
}

#[test]
fn requests_and_replies_round_trip() {
    let mut runner = runner(512, 1);
    let strategy = (any::<u64>(), any::<u64>(), op(), outcome());
    let result = runner.run(&strategy, |(client, seq, op, outcome)| {
        let request = Request {
            client: ClientId(client),
            seq: Seq(seq),
            op,
        };
        prop_assert_eq!(
            Request::from_bytes(&request.to_bytes()),
            Ok(request.clone())
        );
        prop_assert_eq!(request.to_bytes().len(), request.encoded_len());
        let reply = Reply {
            client: ClientId(client),
            seq: Seq(seq),
            outcome,
        };
        prop_assert_eq!(Reply::from_bytes(&reply.to_bytes()), Ok(reply));
        Ok(())
    });
    check(result);
}

#[test]
fn arbitrary_bytes_never_panic_the_decoders() {
    let mut runner = runner(2048, 2);
    let strategy = proptest::collection::vec(any::<u8>(), 0..64);
    let result = runner.run(&strategy, |bytes| {
        // Either a value that re-encodes to something decodable, or a typed error.
        if let Ok(request) = Request::from_bytes(&bytes) {
            prop_assert_eq!(Request::from_bytes(&request.to_bytes()), Ok(request));
        }
        if let Ok(reply) = Reply::from_bytes(&bytes) {
            prop_assert_eq!(Reply::from_bytes(&reply.to_bytes()), Ok(reply));
        }
        Ok(())
    });
    check(result);
}

/// Valid snapshot bytes, then with one byte changed or cut short.
fn snapshot_bytes() -> impl Strategy<Value = Vec<u8>> {
    let valid = {
        let mut fifo = Fifo::new(3, KvConfig::default());
        fifo.elect(0);
        fifo.append(0, 1, 1, "k", "v");
        fifo.append(0, 2, 1, "kk", "vv");
        fifo.cluster.server(0).encode_snapshot().to_vec()
    };
    let len = valid.len();
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..48),
        (0..len, any::<u8>()).prop_map({
            let valid = valid.clone();
            move |(at, byte)| {
                let mut bytes = valid.clone();
                bytes[at] = byte;
                bytes
            }
        }),
        (0..len).prop_map(move |cut| valid[..cut].to_vec()),
    ]
}

#[test]
fn arbitrary_snapshot_bytes_never_panic_a_restore_or_an_install() {
    let mut runner = runner(512, 3);
    let result = runner.run(&snapshot_bytes(), |bytes| {
        let mut disk = PersistedState::new();
        let changes = [
            PersistAction::HardState {
                term: Term(1),
                voted_for: None,
            },
            PersistAction::Snapshot {
                index: LogIndex(2),
                term: Term(1),
                data: bytes.clone().into(),
            },
        ];
        for change in &changes {
            disk.apply(change).unwrap();
        }
        let raft = raft_core::Config::builder(NodeId(1), [NodeId(1), NodeId(2), NodeId(3)])
            .build()
            .unwrap();
        if let Ok(server) = KvServer::restore(KvConfig::default(), raft.clone(), &disk) {
            prop_assert!(server.check_invariants().is_ok());
        }
        let mut follower = KvServer::new(KvConfig::default(), raft);
        let message = install_snapshot(1, 0, Term(1), LogIndex(2), Term(1), bytes.into());
        follower.step(ServerInput::Raft(message));
        prop_assert!(follower.check_invariants().is_ok());
        prop_assert!(follower.halted().is_some() || follower.applied_index() == LogIndex(2));
        Ok(())
    });
    check(result);
}

#[test]
fn log_entries_of_arbitrary_bytes_apply_alike_on_every_server() {
    let mut runner = runner(48, 4);
    let entries = proptest::collection::vec(
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..24),
            (any::<u64>(), any::<u64>(), op())
                .prop_map(|(client, seq, op)| request(client, seq, op).to_bytes()),
        ],
        1..12,
    );
    let result = runner.run(&entries, |entries| {
        let mut disk = PersistedState::new();
        let hard = PersistAction::HardState {
            term: Term(1),
            voted_for: None,
        };
        disk.apply(&hard).unwrap();
        let log = entries
            .iter()
            .enumerate()
            .map(|(at, data)| entry(at as u64 + 1, 1, data))
            .collect();
        disk.apply(&PersistAction::Append(log)).unwrap();
        let mut fifo = Fifo::new(3, KvConfig::default());
        for i in 0..3 {
            fifo.cluster.set_persisted(i, disk.clone());
            fifo.cluster.restart(i).expect("restarts");
        }
        fifo.elect(0);
        fifo.append(0, u64::MAX, u64::MAX, "end", "");
        let interval = fifo
            .cluster
            .server(0)
            .node()
            .config()
            .heartbeat_interval_ticks();
        fifo.tick_all(interval as usize);
        // The entries, the new leader's no-op entry, and "end".
        let applied = LogIndex(entries.len() as u64 + 2);
        for i in 0..3 {
            prop_assert_eq!(fifo.cluster.server(i).applied_index(), applied);
        }
        prop_assert!(fifo.cluster.converged());
        Ok(())
    });
    check(result);
}

/// One call of the model test: a client's next call, or a resend of its last request.
#[derive(Clone, Debug)]
enum Step {
    Call { client: u64, op: Op },
    Resend { client: u64 },
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let step = prop_oneof![
        3 => (0..3u64, op()).prop_map(|(client, op)| Step::Call { client, op }),
        1 => (0..3u64).prop_map(|client| Step::Resend { client }),
    ];
    proptest::collection::vec(step, 1..60)
}

/// The model: a map, and per client the last seq applied.
#[derive(Default)]
struct Model {
    map: BTreeMap<String, String>,
    last_seq: BTreeMap<u64, u64>,
}

impl Model {
    /// What the server must answer; `None` for a stale Get (no answer).
    fn apply(&mut self, request: &Request) -> Option<Outcome> {
        let (client, seq) = (request.client.0, request.seq.0);
        let applied = self.last_seq.get(&client).is_some_and(|&last| seq <= last);
        let stale = self.last_seq.get(&client).is_some_and(|&last| seq < last);
        let value = match &request.op {
            Op::Get { .. } if stale => return None,
            Op::Get { key } => self.map.get(&**key).cloned().unwrap_or_default(),
            Op::Put { .. } | Op::Append { .. } if applied => String::new(),
            Op::Put { key, value } => {
                self.map.insert(key.to_string(), value.to_string());
                String::new()
            }
            Op::Append { key, value } => {
                self.map.entry(key.to_string()).or_default().push_str(value);
                String::new()
            }
        };
        if !applied {
            self.last_seq.insert(client, seq);
        }
        Some(Outcome::Ok { value })
    }
}

#[test]
fn a_server_answers_as_a_model_map_with_a_duplicate_table() {
    let mut runner = runner(256, 5);
    let result = runner.run(&steps(), |steps| {
        // One server: every request commits and applies in the step that proposes it.
        let mut fifo = Fifo::new(1, KvConfig::default());
        fifo.elect(0);
        let mut model = Model::default();
        let mut last: BTreeMap<u64, Request> = BTreeMap::new();
        let mut next_seq: BTreeMap<u64, u64> = BTreeMap::new();
        for step in steps {
            let request = match step {
                Step::Call { client, op } => {
                    let seq = next_seq.entry(client).or_insert(0);
                    *seq += 1;
                    request(client, *seq, op)
                }
                Step::Resend { client } => match last.get(&client) {
                    Some(request) => request.clone(),
                    None => continue,
                },
            };
            last.insert(request.client.0, request.clone());
            let expected = model.apply(&request);
            let replies = fifo.request(0, ClientAddr(request.client.0), request.clone());
            let got: Vec<Outcome> = replies.into_iter().map(|reply| reply.outcome).collect();
            prop_assert_eq!(got, expected.into_iter().collect::<Vec<_>>(), "{}", request);
        }
        let server = fifo.cluster.server(0);
        for (key, value) in &model.map {
            prop_assert_eq!(server.applied_value(key), Some(value.as_str()));
        }
        prop_assert_eq!(server.key_count(), model.map.len());
        // The running digest equals the digest of the same state decoded from a snapshot.
        let mut disk = PersistedState::new();
        let changes = [
            PersistAction::HardState {
                term: server.node().term(),
                voted_for: None,
            },
            PersistAction::Snapshot {
                index: server.applied_index(),
                term: server.applied_term(),
                data: server.encode_snapshot(),
            },
        ];
        for change in &changes {
            disk.apply(change).unwrap();
        }
        let raft = server.node().config().clone();
        let restored = KvServer::restore(KvConfig::default(), raft, &disk)
            .map_err(|error| TestCaseError::fail(error.to_string()))?;
        prop_assert_eq!(restored.digest(), server.digest());
        Ok(())
    });
    check(result);
}
