//! Simulated time (ms), a seeded faulty network (delay, loss, duplication, long
//! reordering delays, partitions between servers, clerks that reach only some servers),
//! clerks running workloads, and the history checks: every Get of a client on its own
//! key reads exactly its earlier writes; appends to a shared key appear once each, in
//! each client's order; every call completes once the faults end.
//!
//! Servers and clerks tick every 10 ms. Every message crosses the network encoded and is
//! decoded on arrival.

use std::collections::{BTreeMap, BTreeSet};

use kv_core::{
    Clerk, ClerkAction, ClerkConfig, ClerkInput, ClientAddr, ClientId, Op, Refusal, Reply, Request,
    ServerInput,
};
use raft_core::Message;
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

use super::{ids, position, Cluster};

/// Milliseconds between two ticks.
pub const TICK_MS: u64 = 10;

/// The network's fault knobs.
#[derive(Clone, Copy, Debug)]
pub struct Net {
    /// Per-mille chance that a message is lost.
    pub loss_per_mille: u64,
    /// Per-mille chance that a delivered message arrives twice.
    pub duplicate_per_mille: u64,
    /// Delay range in ms (inclusive).
    pub delay_ms: (u64, u64),
    /// Per-mille chance of an extra 200–2199 ms delay (reordering).
    pub long_delay_per_mille: u64,
}

impl Net {
    /// 1–4 ms, nothing lost.
    pub const RELIABLE: Net = Net {
        loss_per_mille: 0,
        duplicate_per_mille: 0,
        delay_ms: (1, 4),
        long_delay_per_mille: 0,
    };

    /// The lab's unreliable network (10 % loss, up to 27 ms more delay), plus
    /// duplication and some long reordering delays.
    pub const UNRELIABLE: Net = Net {
        loss_per_mille: 100,
        duplicate_per_mille: 30,
        delay_ms: (1, 30),
        long_delay_per_mille: 20,
    };
}

#[derive(Clone)]
enum Packet {
    Raft(Vec<u8>),
    Request {
        clerk: usize,
        server: usize,
        bytes: Vec<u8>,
    },
    Reply {
        server: usize,
        clerk: usize,
        bytes: Vec<u8>,
    },
}

/// One call of a clerk and how it ended.
#[derive(Clone, Debug)]
pub struct Call {
    /// The operation.
    pub op: Op,
    /// When it was issued, in ms.
    pub called_ms: u64,
    /// When it completed and with what, if it did.
    pub done: Option<(u64, Result<Option<String>, Refusal>)>,
}

/// What a clerk does.
#[derive(Clone, Debug)]
pub enum Workload {
    /// The lab's GenericTest client on its own key: `Put(key, "")`, then appends of
    /// `"x <client> <j> y"` and Gets at random.
    OwnKey {
        /// The key (only this clerk writes it).
        key: String,
    },
    /// Appends of `"x <client> <j> y"` to a key other clerks append to as well.
    SharedKey {
        /// The shared key.
        key: String,
    },
    /// The tester's final reads (one Get per key), as the lab's `check`.
    Reads {
        /// The keys to read.
        keys: Vec<String>,
    },
}

struct ClerkSlot {
    clerk: Clerk,
    /// The servers this clerk can reach.
    reach: BTreeSet<usize>,
    workload: Workload,
    /// How many more calls to issue.
    remaining: usize,
    /// How many appends it issued (the `j` of its next token).
    appends: usize,
    calls: Vec<Call>,
}

/// Servers, clerks and the network in simulated time.
pub struct World {
    /// The servers and their checks.
    pub cluster: Cluster,
    rng: ChaCha8Rng,
    now: u64,
    sequence: u64,
    queue: BTreeMap<(u64, u64), Packet>,
    /// The network's knobs (change them between runs).
    pub net: Net,
    cut: BTreeSet<(usize, usize)>,
    clerks: Vec<ClerkSlot>,
    /// Messages put on the network.
    pub messages: u64,
}

impl World {
    /// A world around `cluster`, with its network seeded by `seed`.
    pub fn new(cluster: Cluster, seed: u64, net: Net) -> World {
        World {
            cluster,
            rng: ChaCha8Rng::seed_from_u64(seed),
            now: 0,
            sequence: 0,
            queue: BTreeMap::new(),
            net,
            cut: BTreeSet::new(),
            clerks: Vec::new(),
            messages: 0,
        }
    }

    /// The current time in ms.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// A uniform number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.rng.next_u64() % n.max(1)
    }

    /// Adds a clerk reaching every server, with `ops` operations of `workload`; its
    /// server list is shuffled, as the lab's tester does. Returns its position.
    pub fn add_clerk(&mut self, workload: Workload, ops: usize) -> usize {
        let c = self.clerks.len();
        let mut servers = ids(self.cluster.len());
        for i in (1..servers.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            servers.swap(i, j);
        }
        let client = ClientId(100 + c as u64);
        let config = ClerkConfig::builder(client, servers)
            .build()
            .expect("valid clerk config");
        let remaining = match &workload {
            Workload::Reads { keys } => keys.len(),
            Workload::OwnKey { .. } | Workload::SharedKey { .. } => ops,
        };
        self.clerks.push(ClerkSlot {
            clerk: Clerk::new(config),
            reach: (0..self.cluster.len()).collect(),
            workload,
            remaining,
            appends: 0,
            calls: Vec::new(),
        });
        c
    }

    /// The next call of clerk `c`'s workload, if it has calls left.
    fn next_op(&mut self, c: usize) -> Option<Op> {
        let coin = self.below(2) == 0;
        let slot = &mut self.clerks[c];
        if slot.remaining == 0 {
            return None;
        }
        slot.remaining -= 1;
        let append = |slot: &mut ClerkSlot, key: &str| {
            let value = format!("x {c} {} y", slot.appends);
            slot.appends += 1;
            Op::Append {
                key: key.into(),
                value: value.into(),
            }
        };
        let op = match slot.workload.clone() {
            Workload::OwnKey { key } if slot.calls.is_empty() => Op::Put {
                key: key.into(),
                value: "".into(),
            },
            Workload::OwnKey { key } if coin => append(slot, &key),
            Workload::OwnKey { key } => Op::Get { key: key.into() },
            Workload::SharedKey { key } => append(slot, &key),
            Workload::Reads { keys } => Op::Get {
                key: keys[slot.calls.len()].as_str().into(),
            },
        };
        Some(op)
    }

    /// Clerk `c` reaches only `servers` from now on.
    pub fn connect_clerk(&mut self, c: usize, servers: &[usize]) {
        self.clerks[c].reach = servers.iter().copied().collect();
    }

    /// The calls clerk `c` made.
    pub fn calls(&self, c: usize) -> &[Call] {
        &self.clerks[c].calls
    }

    /// The clerk `c` itself.
    pub fn clerk(&self, c: usize) -> &Clerk {
        &self.clerks[c].clerk
    }

    /// Cuts every server link between different groups; unlisted servers are isolated.
    pub fn partition(&mut self, groups: &[Vec<usize>]) {
        self.cut.clear();
        let group_of = |i: usize| groups.iter().position(|group| group.contains(&i));
        for from in 0..self.cluster.len() {
            for to in 0..self.cluster.len() {
                if from != to && (group_of(from).is_none() || group_of(from) != group_of(to)) {
                    self.cut.insert((from, to));
                }
            }
        }
    }

    /// Restores every server link.
    pub fn heal(&mut self) {
        self.cut.clear();
    }

    /// The lab's partitioner step: each server joins one of two groups by a coin flip.
    pub fn random_partition(&mut self) {
        let mut groups = vec![Vec::new(), Vec::new()];
        for i in 0..self.cluster.len() {
            let side = self.below(2) as usize;
            groups[side].push(i);
        }
        self.partition(&groups);
    }

    /// Starts every clerk that is idle and has operations left.
    pub fn start_clerks(&mut self) {
        for c in 0..self.clerks.len() {
            self.issue_next(c);
        }
    }

    fn issue_next(&mut self, c: usize) {
        if self.clerks[c].clerk.in_flight().is_some() {
            return;
        }
        let Some(op) = self.next_op(c) else {
            return;
        };
        let slot = &mut self.clerks[c];
        slot.calls.push(Call {
            op: op.clone(),
            called_ms: self.now,
            done: None,
        });
        let actions = slot.clerk.step(ClerkInput::Call(op));
        self.clerk_actions(c, actions);
    }

    /// Every clerk issues no more calls after the one in flight (the lab's `done`).
    pub fn stop_clerks(&mut self) {
        for slot in &mut self.clerks {
            slot.remaining = 0;
        }
    }

    /// How many calls completed, over all clerks.
    pub fn completed_calls(&self) -> usize {
        self.clerks
            .iter()
            .map(|slot| slot.calls.iter().filter(|call| call.done.is_some()).count())
            .sum()
    }

    /// Whether every clerk finished its script.
    pub fn clerks_done(&self) -> bool {
        self.clerks
            .iter()
            .all(|slot| slot.remaining == 0 && slot.clerk.in_flight().is_none())
    }

    /// Runs for `ms` milliseconds.
    pub fn run_for(&mut self, ms: u64) {
        let end = self.now + ms;
        self.run_until_time(end, |_| false);
    }

    /// Runs until `done` holds (checked after each ms with events) or `ms` pass; returns
    /// whether `done` held.
    pub fn run_until(&mut self, ms: u64, done: impl Fn(&World) -> bool) -> bool {
        let end = self.now + ms;
        self.run_until_time(end, done)
    }

    fn run_until_time(&mut self, end: u64, done: impl Fn(&World) -> bool) -> bool {
        loop {
            if done(self) {
                return true;
            }
            let next_tick = (self.now / TICK_MS + 1) * TICK_MS;
            let next_packet = self.queue.keys().next().map_or(u64::MAX, |&(time, _)| time);
            let next = next_tick.min(next_packet);
            if next > end {
                self.now = end;
                return done(self);
            }
            self.now = next;
            while let Some(entry) = self.queue.first_entry() {
                if entry.key().0 > self.now {
                    break;
                }
                let packet = entry.remove();
                self.deliver(packet);
            }
            if self.now % TICK_MS == 0 {
                self.tick_everyone();
            }
        }
    }

    fn tick_everyone(&mut self) {
        for i in self.cluster.live() {
            if self.cluster.is_up(i) {
                let output = self.cluster.step(i, ServerInput::Tick);
                self.server_output(i, output);
            }
        }
        for c in 0..self.clerks.len() {
            let actions = self.clerks[c].clerk.step(ClerkInput::Tick);
            self.clerk_actions(c, actions);
        }
    }

    fn deliver(&mut self, packet: Packet) {
        match packet {
            Packet::Raft(bytes) => {
                let message = Message::from_bytes(&bytes).expect("a sent message decodes");
                let (from, to) = (position(message.from()), position(message.to()));
                if self.cut.contains(&(from, to)) || !self.cluster.is_up(to) {
                    return;
                }
                let output = self.cluster.step(to, ServerInput::Raft(message));
                self.server_output(to, output);
            }
            Packet::Request {
                clerk,
                server,
                bytes,
            } => {
                if !self.cluster.is_up(server) {
                    return;
                }
                let request = Request::from_bytes(&bytes).expect("a sent request decodes");
                let from = ClientAddr(clerk as u64);
                let output = self
                    .cluster
                    .step(server, ServerInput::Request { from, request });
                self.server_output(server, output);
            }
            Packet::Reply {
                server,
                clerk,
                bytes,
            } => {
                let reply = Reply::from_bytes(&bytes).expect("a sent reply decodes");
                let from = super::id(server);
                let actions = self.clerks[clerk]
                    .clerk
                    .step(ClerkInput::Reply { from, reply });
                self.clerk_actions(clerk, actions);
            }
        }
    }

    fn server_output(&mut self, i: usize, output: super::StepOutput) {
        for message in output.sends {
            let to = position(message.to());
            if self.cut.contains(&(i, to)) {
                continue;
            }
            self.transmit(Packet::Raft(message.to_bytes()));
        }
        for (to, reply) in output.replies {
            let clerk = to.0 as usize;
            if clerk < self.clerks.len() && self.clerks[clerk].reach.contains(&i) {
                let bytes = reply.to_bytes();
                self.transmit(Packet::Reply {
                    server: i,
                    clerk,
                    bytes,
                });
            }
        }
    }

    fn clerk_actions(&mut self, c: usize, actions: Vec<ClerkAction>) {
        let mut finished = false;
        for action in actions {
            match action {
                ClerkAction::Send { to, request } => {
                    let server = position(to);
                    if self.clerks[c].reach.contains(&server) {
                        let bytes = request.to_bytes();
                        self.transmit(Packet::Request {
                            clerk: c,
                            server,
                            bytes,
                        });
                    }
                }
                ClerkAction::Done(completion) => {
                    let now = self.now;
                    let call = self.clerks[c]
                        .calls
                        .last_mut()
                        .expect("a completion follows a call");
                    assert!(call.done.is_none(), "clerk {c} completed a call twice");
                    assert_eq!(completion.kind, call.op.kind());
                    call.done = Some((now, completion.result));
                    finished = true;
                }
            }
        }
        if finished {
            self.issue_next(c);
        }
    }

    fn transmit(&mut self, packet: Packet) {
        self.messages += 1;
        let net = self.net;
        if self.below(1000) < net.loss_per_mille {
            return;
        }
        let copies = if self.below(1000) < net.duplicate_per_mille {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let (low, high) = net.delay_ms;
            let mut delay = low + self.below(high - low + 1);
            if self.below(1000) < net.long_delay_per_mille {
                delay += 200 + self.below(2000);
            }
            self.sequence += 1;
            self.queue
                .insert((self.now + delay, self.sequence), packet.clone());
        }
    }

    /// The keys the clerks' workloads write.
    pub fn written_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .clerks
            .iter()
            .filter_map(|slot| match &slot.workload {
                Workload::OwnKey { key } | Workload::SharedKey { key } => Some(key.clone()),
                Workload::Reads { .. } => None,
            })
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }

    /// Reads every written key through a fresh clerk (each Get goes through the log, so
    /// it also commits everything before it); returns the values read.
    pub fn read_all(&mut self, within_ms: u64) -> BTreeMap<String, String> {
        let keys = self.written_keys();
        let c = self.add_clerk(Workload::Reads { keys: keys.clone() }, 0);
        self.issue_next(c);
        let done = self.run_until(within_ms, World::clerks_done);
        assert!(done, "the final reads did not complete");
        keys.into_iter()
            .zip(&self.clerks[c].calls)
            .map(|(key, call)| {
                let read = call
                    .done
                    .clone()
                    .and_then(|(_, result)| result.ok().flatten());
                (key, read.expect("a final Get reads a value"))
            })
            .collect()
    }

    /// Checks every clerk's history: all calls done; on an own key, every Get read exactly
    /// the writes before it and the final value is all of them; on a shared key, each
    /// clerk's tokens appear once, in order. `final_value` gives a key's final value.
    pub fn check_histories(&self, final_value: impl Fn(&str) -> String) {
        let mut shared: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (c, slot) in self.clerks.iter().enumerate() {
            assert_eq!(slot.remaining, 0, "clerk {c} did not issue all its calls");
            for call in &slot.calls {
                assert!(
                    call.done.is_some(),
                    "clerk {c}: {:?} never completed",
                    call.op
                );
            }
            match &slot.workload {
                Workload::OwnKey { key } => {
                    let mut expected = String::new();
                    for call in &slot.calls {
                        let (_, result) = call.done.as_ref().expect("checked");
                        match &call.op {
                            Op::Put { value, .. } => expected = value.to_string(),
                            Op::Append { value, .. } => expected.push_str(value),
                            Op::Get { .. } => assert_eq!(
                                result.as_ref().expect("a Get is never refused").as_deref(),
                                Some(expected.as_str()),
                                "clerk {c}: a Get at {} ms read a stale or doubled value",
                                call.called_ms
                            ),
                        }
                    }
                    assert_eq!(
                        final_value(key),
                        expected,
                        "clerk {c}: final value of {key}"
                    );
                }
                Workload::SharedKey { key } => shared.entry(key.clone()).or_default().push(c),
                Workload::Reads { .. } => {}
            }
        }
        for (key, clerks) in shared {
            let value = final_value(&key);
            for &c in &clerks {
                let appends = self.clerks[c].appends;
                assert!(appends > 0, "clerk {c} made no call");
                check_client_appends(&value, c, appends);
            }
        }
    }
}

/// The lab's checkClntAppends: every token of client `c` appears exactly once, in order.
pub fn check_client_appends(value: &str, c: usize, count: usize) {
    let mut last = None;
    for j in 0..count {
        let token = format!("x {c} {j} y");
        let at = value
            .find(&token)
            .unwrap_or_else(|| panic!("missing element {token:?} in {value:?}"));
        assert!(
            value[at + token.len()..].find(&token).is_none(),
            "duplicate element {token:?} in {value:?}"
        );
        if let Some(previous) = last {
            assert!(at > previous, "wrong order of {token:?} in {value:?}");
        }
        last = Some(at);
    }
}
