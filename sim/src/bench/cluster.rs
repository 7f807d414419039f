//! The bench's cluster: `raft-core` nodes in one thread, driven in lockstep rounds over
//! an in-memory network without faults, each with a disk that checks and counts what it
//! is asked to persist ([`CountingDisk`]) and a checking service that applies entries
//! and, when asked, hands snapshots back to its node.
//!
//! One round: every node handles the inputs pending for it (in node order, each in
//! arrival order), then every message sent during the round is delivered to its
//! receiver's pending inputs. Nothing here reads a clock or a random source: the same
//! parameters give the same rounds, messages and applies.

use bytes::Bytes;
use raft_core::{Action, Apply, Config, Input, LogIndex, Message, Node, NodeId, PersistAction};

use super::disk::CountingDisk;
use super::payload::{self, Commands};

/// How the leader is given its commands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Feed {
    /// Each round, the round's commands as one `Input::ProposeBatch`.
    #[default]
    Batched,
    /// Each round, the round's commands as one `Input::Propose` each, in a row (a server
    /// proposing one client request at a time).
    OneByOne,
    /// One `Input::Propose`, then rounds until the leader commits it, then the next.
    Latency,
}

/// What the cluster counted since the election.
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
    disks: Vec<CountingDisk>,
    /// Inputs waiting for each node's turn in the next round.
    pending: Vec<Vec<Input>>,
    /// A spare buffer swapped with a node's pending inputs while it handles them.
    scratch: Vec<Input>,
    /// Messages sent during the current round.
    in_flight: Vec<Message>,
    /// The buffer each step's actions go into (kept between steps: no allocation).
    actions: Vec<Action>,
    /// The index each node's service expects next.
    next_apply: Vec<u64>,
    payload: usize,
    /// The client: makes the commands the leader is given.
    commands: Commands,
    /// With compaction, each service snapshots every this many applied entries.
    snapshot_every: Option<u64>,
    /// The counters so far.
    pub counters: Counters,
}

impl Cluster {
    /// A cluster of `nodes` fresh nodes (ids 1..=nodes) whose services expect entries of
    /// `payload` bytes (see [`payload`]).
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
            disks: vec![CountingDisk::default(); count],
            pending: (0..count).map(|_| Vec::new()).collect(),
            scratch: Vec::new(),
            in_flight: Vec::new(),
            actions: Vec::new(),
            next_apply: vec![1; count],
            payload,
            commands: Commands::new(payload),
            snapshot_every,
            counters: Counters::default(),
        })
    }

    /// Ticks node 0 alone, round after round, until it leads; then runs rounds until
    /// nothing is in flight. Returns the leader's position. The counters start afresh
    /// after the election.
    pub fn elect_first(&mut self, max_ticks: u32) -> Result<usize, String> {
        for _ in 0..max_ticks {
            self.pending[0].push(Input::Tick);
            self.settle()?;
            if self.nodes[0].is_leader() {
                self.counters = Counters::default();
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

    /// The load: gives the leader at `leader` `entries` commands, `batch` per round as
    /// `feed` says (one at a time, each once the last committed, for [`Feed::Latency`]),
    /// and runs rounds until every service applied them all. Once everything is proposed
    /// and the cluster is quiet, the leader alone is ticked: its heartbeat tells the
    /// followers the last commit index. Fails after `max_idle_rounds` rounds without a
    /// new proposal or apply.
    pub fn replicate(
        &mut self,
        leader: usize,
        entries: u64,
        (batch, feed): (usize, Feed),
        max_idle_rounds: u64,
    ) -> Result<(), String> {
        let first = self.nodes[leader].last_log_index().0 + 1;
        let last = first + entries - 1;
        let mut next = first;
        let mut idle_rounds = 0;
        while self.applied_everywhere() < last {
            let before = self.applied_everywhere();
            let proposing = next <= last
                && (feed != Feed::Latency || self.nodes[leader].commit_index().0 + 1 == next);
            if proposing {
                let count = match feed {
                    Feed::Latency => 1,
                    Feed::Batched | Feed::OneByOne => (last + 1 - next).min(batch as u64),
                };
                match feed {
                    Feed::Batched => {
                        let commands = self.commands.batch(next, count as usize);
                        self.pending[leader].push(Input::ProposeBatch(commands));
                    }
                    Feed::OneByOne | Feed::Latency => {
                        for index in next..next + count {
                            let command = self.commands.command(index);
                            self.pending[leader].push(Input::Propose(command));
                        }
                    }
                }
                next += count;
            } else if next > last && self.is_quiet() {
                self.counters.ticks += 1;
                self.pending[leader].push(Input::Tick);
            }
            self.round()?;
            let idle = !proposing && self.applied_everywhere() == before;
            idle_rounds = if idle { idle_rounds + 1 } else { 0 };
            if idle_rounds > max_idle_rounds {
                return Err(format!(
                    "stalled: applied everywhere up to {} of {last}",
                    self.applied_everywhere()
                ));
            }
        }
        Ok(())
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
            let to = message
                .to()
                .0
                .checked_sub(1)
                .and_then(|to| usize::try_from(to).ok());
            match to.and_then(|to| self.pending.get_mut(to)) {
                Some(inputs) => inputs.push(Input::Message(message)),
                None => return Err(format!("a message to unknown node {}", message.to().0)),
            }
        }
        Ok(())
    }

    /// Steps node `i` and carries out its actions in order.
    fn step(&mut self, i: usize, input: Input) -> Result<(), String> {
        let mut snapshot_at = None;
        let mut actions = std::mem::take(&mut self.actions);
        self.nodes[i].step_into(input, &mut actions);
        for action in actions.drain(..) {
            match action {
                Action::Persist(persist) => self.persist(i, &persist)?,
                Action::Send(message) => {
                    self.counters.messages += 1;
                    self.counters.bytes += message.encoded_len_bytes() as u64;
                    self.in_flight.push(message);
                }
                Action::Apply(Apply::Entries(entries)) => {
                    for entry in &entries {
                        self.check_apply(i, entry.index().0, entry.data())?;
                        if self
                            .snapshot_every
                            .is_some_and(|every| entry.index().0 % every == 0)
                        {
                            snapshot_at = Some(entry.index().0);
                        }
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
                Action::Read { .. } | Action::Transfer(_) => {
                    return Err("the benchmark asks for no reads or transfers".into())
                }
            }
        }
        self.actions = actions;
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

    /// Writes to node `i`'s disk and counts the bytes written.
    fn persist(&mut self, i: usize, action: &PersistAction) -> Result<(), String> {
        let written = self.disks[i]
            .write(action)
            .map_err(|e| format!("node {} persist: {e}", i + 1))?;
        self.counters.persisted_bytes += written;
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
        if !payload::matches(index, data, self.payload) {
            return Err(format!(
                "node {} applied the wrong payload at {index}",
                i + 1
            ));
        }
        self.next_apply[i] = expected + 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_cluster_applies_everything_in_order() {
        let mut cluster = Cluster::new(3, 16, Some(7)).expect("valid cluster");
        let leader = cluster.elect_first(1_000).expect("an election");
        cluster
            .replicate(leader, 20, (8, Feed::Batched), 100)
            .expect("no violation");
        assert_eq!(cluster.applied_everywhere(), 20);
        assert_eq!(cluster.counters.snapshots, 6, "at 7 and 14 on each node");
        assert!(
            cluster.counters.ticks > 0,
            "the last commit index needs a heartbeat"
        );
        // Entry records: index (2), term (2), payload (2 + 16), framing (2); snapshot
        // records: index (2), term (2), 8 bytes. The election's hard states came before.
        let records = 3 * 20 * (2 + 2 + 18 + 2) + 6 * (2 + 2 + 8);
        assert_eq!(cluster.counters.persisted_bytes, records);
    }

    #[test]
    fn five_nodes_apply_one_entry_per_round() {
        let mut cluster = Cluster::new(5, 3, None).expect("valid cluster");
        let leader = cluster.elect_first(1_000).expect("an election");
        cluster
            .replicate(leader, 50, (1, Feed::Batched), 100)
            .expect("no violation");
        assert_eq!(cluster.applied_everywhere(), 50);
        assert_eq!(cluster.counters.snapshots, 0);
        // One AppendEntries and one reply per follower and entry (fewer than the cap of
        // unanswered appends are ever out), then the heartbeats.
        let messages = cluster.counters.messages;
        assert!((4 * 2 * 50..4 * 2 * 52).contains(&messages), "{messages}");
    }

    #[test]
    fn one_by_one_proposals_are_merged_into_few_messages() {
        let mut cluster = Cluster::new(3, 8, None).expect("valid cluster");
        let leader = cluster.elect_first(1_000).expect("an election");
        cluster
            .replicate(leader, 25_600, (256, Feed::OneByOne), 100)
            .expect("no violation");
        assert_eq!(cluster.applied_everywhere(), 25_600);
        // At most the cap of AppendEntries per follower and round trip (two rounds),
        // each answered: under 0.05 messages per proposal.
        let messages = cluster.counters.messages;
        assert!(
            messages * 20 < 25_600,
            "{messages} messages for 25600 proposals"
        );
    }

    #[test]
    fn latency_feed_waits_for_each_commit() {
        let mut cluster = Cluster::new(3, 8, None).expect("valid cluster");
        let leader = cluster.elect_first(1_000).expect("an election");
        cluster
            .replicate(leader, 100, (64, Feed::Latency), 100)
            .expect("no violation");
        assert_eq!(cluster.applied_everywhere(), 100);
        // Per entry: an AppendEntries to each follower and its reply, over three rounds;
        // then the ticks until a heartbeat, its delivery and its replies.
        assert_eq!(cluster.counters.messages, 4 * 100 + 4);
        let ticks = cluster.counters.ticks;
        assert_eq!(cluster.counters.rounds, 3 * 100 + ticks + 1);
    }
}
