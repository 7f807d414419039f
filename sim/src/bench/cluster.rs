//! The bench's cluster: `raft-core` nodes in one thread, driven in lockstep rounds over
//! an in-memory network without faults, each with an in-memory disk (a
//! [`PersistedState`]) and a checking service that applies entries and, when asked,
//! hands snapshots back to its node.
//!
//! One round: every node handles the inputs pending for it (in node order, each in
//! arrival order), then every message sent during the round is delivered to its
//! receiver's pending inputs. Nothing here reads a clock or a random source: the same
//! parameters give the same rounds, messages and applies.

use bytes::Bytes;
use prost::encoding::encoded_len_varint;
use raft_core::{
    Action, Apply, Config, Input, LogIndex, Message, Node, NodeId, PersistAction, PersistedState,
};

/// What the cluster counted while it ran.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Rounds run.
    pub rounds: u64,
    /// Messages routed between nodes.
    pub messages: u64,
    /// Their encoded (protobuf) size.
    pub bytes: u64,
    /// Bytes written to the disks of all nodes: entry records as they sit in the encoded
    /// raft state, hard state records and snapshot bytes.
    pub persisted_bytes: u64,
    /// Snapshots the services handed to their nodes.
    pub snapshots: u64,
    /// Ticks given after the election: only once the load is in and the cluster is
    /// quiet, so that the leader's heartbeat tells the followers the last commit index.
    pub ticks: u64,
}

/// Nodes, their disks and services, and the messages in flight.
pub struct Cluster {
    nodes: Vec<Node>,
    disks: Vec<PersistedState>,
    /// Inputs waiting for each node's turn in the next round.
    pending: Vec<Vec<Input>>,
    /// A spare buffer swapped with a node's pending inputs while it handles them.
    scratch: Vec<Input>,
    /// Messages sent during the current round.
    in_flight: Vec<Message>,
    /// The index each node's service expects next.
    next_apply: Vec<u64>,
    payload: usize,
    /// With compaction, each service snapshots every this many applied entries.
    snapshot_every: Option<u64>,
    /// The counters so far.
    pub counters: Counters,
}

impl Cluster {
    /// A cluster of `nodes` fresh nodes (ids 1..=nodes) whose services expect entries of
    /// `payload` bytes made by [`fill_payload`].
    pub fn new(nodes: usize, payload: usize, snapshot_every: Option<u64>) -> Result<Self, String> {
        let ids: Vec<NodeId> = (1..=nodes as u64).map(NodeId).collect();
        let nodes = ids
            .iter()
            .map(|&id| {
                Config::builder(id, ids.iter().copied())
                    .seed(id.0)
                    .build()
                    .map(Node::new)
                    .map_err(|e| format!("bad bench configuration: {e}"))
            })
            .collect::<Result<Vec<Node>, String>>()?;
        let count = nodes.len();
        Ok(Cluster {
            nodes,
            disks: vec![PersistedState::new(); count],
            pending: (0..count).map(|_| Vec::new()).collect(),
            scratch: Vec::new(),
            in_flight: Vec::new(),
            next_apply: vec![1; count],
            payload,
            snapshot_every,
            counters: Counters::default(),
        })
    }

    /// Ticks node 0 alone, round after round, until it leads; then runs rounds until
    /// nothing is in flight. Returns the leader's position.
    pub fn elect_first(&mut self, max_ticks: u32) -> Result<usize, String> {
        for _ in 0..max_ticks {
            self.pending[0].push(Input::Tick);
            self.settle()?;
            if self.nodes[0].is_leader() {
                return Ok(0);
            }
        }
        Err(format!(
            "node 1 did not win an election in {max_ticks} ticks"
        ))
    }

    /// Runs rounds until no input is pending.
    fn settle(&mut self) -> Result<(), String> {
        while !self.is_quiet() {
            self.round()?;
        }
        Ok(())
    }

    /// The index the leader at `leader` gives its next proposal.
    pub fn next_proposal_index(&self, leader: usize) -> u64 {
        self.nodes[leader].last_log_index().0 + 1
    }

    /// Queues a proposal of `count` commands for `leader`, for entries starting at `first`.
    pub fn propose(&mut self, leader: usize, first: u64, count: usize) {
        self.pending[leader].push(Input::ProposeBatch(make_batch(first, count, self.payload)));
    }

    /// Queues a tick for node `i`.
    pub fn tick(&mut self, i: usize) {
        self.counters.ticks += 1;
        self.pending[i].push(Input::Tick);
    }

    /// Whether no input is pending anywhere (nothing is in flight).
    pub fn is_quiet(&self) -> bool {
        self.pending.iter().all(Vec::is_empty)
    }

    /// The smallest index every service has applied.
    pub fn applied_everywhere(&self) -> u64 {
        self.next_apply.iter().min().map_or(0, |next| next - 1)
    }

    /// One round: every node handles its pending inputs, then every message sent in the
    /// round is delivered.
    pub fn round(&mut self) -> Result<(), String> {
        self.counters.rounds += 1;
        for i in 0..self.nodes.len() {
            std::mem::swap(&mut self.pending[i], &mut self.scratch);
            let mut inputs = std::mem::take(&mut self.scratch);
            for input in inputs.drain(..) {
                self.step(i, input)?;
            }
            self.scratch = inputs;
        }
        for message in self.in_flight.drain(..) {
            let to = usize::try_from(message.to - 1).unwrap_or(usize::MAX);
            match self.pending.get_mut(to) {
                Some(inputs) => inputs.push(Input::Message(message)),
                None => return Err(format!("a message to unknown node {}", message.to)),
            }
        }
        Ok(())
    }

    /// Steps node `i` and carries out its actions in order.
    fn step(&mut self, i: usize, input: Input) -> Result<(), String> {
        let mut snapshot_at = None;
        for action in self.nodes[i].step(input) {
            match action {
                Action::Persist(persist) => {
                    let disk = &mut self.disks[i];
                    let size_before = disk.raft_state_size();
                    disk.apply(&persist)
                        .map_err(|e| format!("node {} persist: {e}", i + 1))?;
                    if let PersistAction::Append(_) = persist {
                        // The header did not change: the growth is the entry records.
                        let records = disk.raft_state_size() - size_before;
                        self.counters.persisted_bytes += records as u64;
                    }
                    self.counters.persisted_bytes += persisted_extra_len(&persist);
                }
                Action::Send(message) => {
                    self.counters.messages += 1;
                    self.counters.bytes += message.encoded_len_bytes() as u64;
                    self.in_flight.push(message);
                }
                Action::Apply(Apply::Entry(entry)) => {
                    self.check_apply(i, entry.index, &entry.data)?;
                    if self
                        .snapshot_every
                        .is_some_and(|every| entry.index % every == 0)
                    {
                        snapshot_at = Some(entry.index);
                    }
                }
                Action::Apply(Apply::Snapshot { index, .. }) => {
                    return Err(format!(
                        "node {} installed a snapshot at {index} in a fault-free run",
                        i + 1
                    ))
                }
                Action::Proposal(Err(e)) => return Err(format!("proposal refused: {e}")),
                Action::Snapshot(Err(e)) => return Err(format!("snapshot refused: {e}")),
                Action::Proposal(Ok(_)) | Action::Snapshot(Ok(_)) => {}
            }
        }
        if let Some(index) = snapshot_at {
            self.counters.snapshots += 1;
            let data = Bytes::copy_from_slice(&index.to_le_bytes());
            let input = Input::Snapshot {
                index: LogIndex(index),
                data,
            };
            self.step(i, input)?;
        }
        Ok(())
    }

    /// The service's check: entries come in index order, without gaps, with the payload
    /// that was proposed for their index.
    fn check_apply(&mut self, i: usize, index: u64, data: &[u8]) -> Result<(), String> {
        let expected = self.next_apply[i];
        if index != expected {
            return Err(format!(
                "node {} applied index {index}, expected {expected}",
                i + 1
            ));
        }
        if !payload_matches(index, data, self.payload) {
            return Err(format!(
                "node {} applied the wrong payload at {index}",
                i + 1
            ));
        }
        self.next_apply[i] = expected + 1;
        Ok(())
    }
}

/// `count` commands for indexes `first..`, sharing one buffer (one allocation per batch;
/// each command is a refcounted slice of it).
fn make_batch(first: u64, count: usize, payload: usize) -> Vec<Bytes> {
    let mut buffer = vec![0; count * payload];
    for (offset, chunk) in buffer.chunks_exact_mut(payload.max(1)).enumerate() {
        fill_payload(first + offset as u64, chunk);
    }
    let buffer = Bytes::from(buffer);
    (0..count)
        .map(|offset| buffer.slice(offset * payload..(offset + 1) * payload))
        .collect()
}

/// Fills `out` with the command for `index`: the index in little endian, repeated.
pub fn fill_payload(index: u64, out: &mut [u8]) {
    let pattern = index.to_le_bytes();
    let mut words = out.chunks_exact_mut(pattern.len());
    for word in &mut words {
        word.copy_from_slice(&pattern);
    }
    let tail = words.into_remainder();
    let len = tail.len();
    tail.copy_from_slice(&pattern[..len]);
}

/// Whether `data` is the command proposed for `index`.
pub fn payload_matches(index: u64, data: &[u8], payload: usize) -> bool {
    let pattern = index.to_le_bytes();
    let mut words = data.chunks_exact(pattern.len());
    data.len() == payload
        && words.all(|word| word == pattern)
        && words.remainder() == &pattern[..words.remainder().len()]
}

/// The bytes a persist action adds to a disk beyond the entry records (which the disk
/// counts itself): the two fields of a hard state, the snapshot position and bytes.
fn persisted_extra_len(action: &PersistAction) -> u64 {
    let field = |value: u64| 1 + encoded_len_varint(value) as u64;
    match action {
        PersistAction::HardState { term, voted_for } => {
            field(term.0) + field(voted_for.map_or(0, |id| id.0))
        }
        PersistAction::Append(_) | PersistAction::TruncateFrom(_) => 0,
        PersistAction::Snapshot { index, term, data } => {
            field(index.0) + field(term.0) + data.len() as u64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_check_index_and_length() {
        let batch = make_batch(300, 3, 20);
        assert_eq!(batch.len(), 3);
        assert!(payload_matches(301, &batch[1], 20));
        assert!(
            !payload_matches(300, &batch[1], 20),
            "another index's command"
        );
        assert!(
            !payload_matches(301, &batch[1][..19], 20),
            "a short command"
        );
        let empty = make_batch(1, 4, 0);
        assert!(empty.iter().all(|command| payload_matches(2, command, 0)));
    }

    #[test]
    fn a_small_cluster_applies_everything_in_order() {
        let mut cluster = Cluster::new(3, 16, Some(7)).expect("valid cluster");
        let leader = cluster.elect_first(1_000).expect("an election");
        let first = cluster.next_proposal_index(leader);
        assert_eq!(first, 1);
        cluster.propose(leader, 1, 10);
        cluster.propose(leader, 11, 10);
        for _ in 0..10 {
            cluster.round().expect("no violation");
        }
        assert_eq!(cluster.applied_everywhere(), 20);
        assert_eq!(
            cluster.counters.snapshots, 6,
            "at 7 and 14 on each of 3 nodes"
        );
        // Each entry record: index (2), term (2), payload (2 + 16), framing (2).
        let entry_bytes = 3 * 20 * (2 + 2 + 18 + 2);
        assert!(cluster.counters.persisted_bytes > entry_bytes);
    }
}
