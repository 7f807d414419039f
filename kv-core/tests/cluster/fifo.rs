//! A lossless FIFO network of KV servers for targeted tests: Raft messages queue up and
//! are delivered in order (or dropped on a cut link or at a crashed server); client
//! requests are handed to a server directly and its replies are collected.

use std::collections::{BTreeSet, VecDeque};

use kv_core::{ClientAddr, ClientId, KvConfig, Op, Reply, Request, Seq, ServerInput};
use raft_core::{ConfigBuilder, Message};

use super::{position, Cluster, StepOutput};

/// How many messages `deliver_all` delivers before it calls the cluster livelocked.
const DELIVERY_LIMIT: usize = 100_000;

/// Servers on a FIFO network.
pub struct Fifo {
    /// The servers and their checks.
    pub cluster: Cluster,
    queue: VecDeque<Message>,
    cut: BTreeSet<(usize, usize)>,
    /// Every reply any server sent: (server, address, reply), in order.
    pub replies: Vec<(usize, ClientAddr, Reply)>,
}

impl Fifo {
    /// `n` fresh servers with the default Raft configuration.
    pub fn new(n: usize, kv_config: KvConfig) -> Fifo {
        Fifo::with_raft(n, kv_config, |builder| builder)
    }

    /// `n` fresh servers whose Raft configuration `adjust` tunes.
    pub fn with_raft(
        n: usize,
        kv_config: KvConfig,
        adjust: impl Fn(ConfigBuilder) -> ConfigBuilder,
    ) -> Fifo {
        Fifo {
            cluster: Cluster::new(n, 1, kv_config, adjust),
            queue: VecDeque::new(),
            cut: BTreeSet::new(),
            replies: Vec::new(),
        }
    }

    /// Steps server `i`, queues its messages and records its replies; returns the step's
    /// replies.
    pub fn step(&mut self, i: usize, input: ServerInput) -> Vec<Reply> {
        let StepOutput { sends, replies, .. } = self.cluster.step(i, input);
        self.queue.extend(sends);
        let mut answered = Vec::new();
        for (to, reply) in replies {
            self.replies.push((i, to, reply.clone()));
            answered.push(reply);
        }
        answered
    }

    /// Hands `request` from address `from` to server `i`; returns that step's replies.
    pub fn request(&mut self, i: usize, from: ClientAddr, request: Request) -> Vec<Reply> {
        self.step(i, ServerInput::Request { from, request })
    }

    /// Delivers the oldest message in flight; false if none was.
    pub fn deliver_one(&mut self) -> bool {
        let Some(message) = self.queue.pop_front() else {
            return false;
        };
        self.deliver(message);
        true
    }

    /// Delivers messages (and the messages they cause) until none is in flight.
    pub fn deliver_all(&mut self) {
        for _ in 0..DELIVERY_LIMIT {
            if !self.deliver_one() {
                return;
            }
        }
        panic!("still delivering after {DELIVERY_LIMIT} messages: livelock");
    }

    /// Delivers one message, through its encoding.
    pub fn deliver(&mut self, message: Message) {
        let (from, to) = (position(message.from()), position(message.to()));
        if self.cut.contains(&(from, to)) || to >= self.cluster.len() || !self.cluster.is_up(to) {
            return;
        }
        let decoded = Message::from_bytes(&message.to_bytes()).expect("a sent message decodes");
        self.step(to, ServerInput::Raft(decoded));
    }

    /// The messages in flight.
    pub fn queue(&self) -> &VecDeque<Message> {
        &self.queue
    }

    /// Removes and returns every message in flight.
    pub fn take_queue(&mut self) -> Vec<Message> {
        self.queue.drain(..).collect()
    }

    /// Ticks every running server once, then delivers everything, `rounds` times.
    pub fn tick_all(&mut self, rounds: usize) {
        for _ in 0..rounds {
            for i in self.cluster.live() {
                self.step(i, ServerInput::Tick);
            }
            self.deliver_all();
        }
    }

    /// Ticks server `i` alone until it campaigns, then delivers everything; asserts it
    /// won.
    pub fn elect(&mut self, i: usize) {
        let term = self.cluster.server(i).node().term();
        let limit = self
            .cluster
            .server(i)
            .node()
            .config()
            .election_timeout_ticks_max();
        for _ in 0..=limit {
            self.step(i, ServerInput::Tick);
            if self.cluster.server(i).node().term() > term {
                break;
            }
        }
        self.deliver_all();
        assert!(
            self.cluster.server(i).node().is_leader(),
            "s{i} should have won"
        );
    }

    /// Cuts both directions between `i` and every other server.
    pub fn isolate(&mut self, i: usize) {
        for other in 0..self.cluster.len() {
            if other != i {
                self.cut.insert((i, other));
                self.cut.insert((other, i));
            }
        }
    }

    /// Cuts both directions between `a` and `b`.
    pub fn cut_pair(&mut self, a: usize, b: usize) {
        self.cut.insert((a, b));
        self.cut.insert((b, a));
    }

    /// Restores every link.
    pub fn heal(&mut self) {
        self.cut.clear();
    }

    /// Appends `value` to `key` through leader `i` as (client, seq) and delivers until
    /// quiet; returns the replies of every step on the way.
    pub fn append(
        &mut self,
        i: usize,
        client: u64,
        seq: u64,
        key: &str,
        value: &str,
    ) -> Vec<Reply> {
        let before = self.replies.len();
        let op = Op::Append {
            key: key.into(),
            value: value.into(),
        };
        self.request(i, ClientAddr(client), request(client, seq, op));
        self.deliver_all();
        self.replies[before..]
            .iter()
            .map(|(_, _, reply)| reply.clone())
            .collect()
    }
}

/// A request of (client, seq).
pub fn request(client: u64, seq: u64, op: Op) -> Request {
    Request {
        client: ClientId(client),
        seq: Seq(seq),
        op,
    }
}
