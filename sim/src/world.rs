//! The simulated cluster: servers (a process and its persister each: a bare Raft node or
//! a KV server, see [`process`]), the clerks beside them (`clients`), the tester's
//! proposals and reads (`requests`), the event queue in simulated time, and the driver
//! that carries out every effect a process returns, in order, with the checkers watching
//! every step and every send (of a bare node and of the node inside a KV server alike),
//! and the storm caps on every run.

mod clients;
mod effects;
pub mod process;
mod requests;

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::task::Waker;

use raft_core::{Config, Input, Message, Node, NodeId, PersistedState};

use crate::applier::Applier;
use crate::checkers::backup::BackupChecker;
use crate::checkers::election::{BeforeStep, ElectionChecker};
use crate::checkers::reads::ReadChecker;
use crate::checkers::{durable, surface};
use crate::crash::{CrashPoints, StepKind};
use crate::kv::KvChecks;
use crate::limits::{Limits, Usage};
use crate::network::{Carried, Fate, Network, NetworkConfig};
use crate::rng::Stream;
use crate::safety::SafetyChecker;
use crate::trace::Trace;
pub use clients::ClientSlot;
use process::{describe_input, input_tag};
pub use process::{Effect, Process, ProcessInput, Service};

/// Simulated milliseconds since the start of the run.
pub type Millis = u64;

/// How the Raft nodes of a run are set up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RaftSetup {
    /// Simulated ms per tick.
    pub tick_ms: Millis,
    /// Election timeout range, in ticks.
    pub election_ticks: (u32, u32),
    /// Heartbeat interval, in ticks.
    pub heartbeat_ticks: u32,
    /// The largest Raft message, encoded (every message sent is checked against it).
    pub max_message_bytes: usize,
    /// CheckQuorum on every node: a leader that hears from no majority within the
    /// largest election timeout steps down, and nodes hearing from a leader ignore vote
    /// requests (on by default; raft-core's default is off).
    pub check_quorum: bool,
    /// Whether elections start with a pre-vote round (the catalog keeps it on).
    pub pre_vote: bool,
    /// Whether a new leader appends an empty entry of its term at once (KV servers'
    /// nodes always do; the lab's Raft scenarios count indexes without it).
    pub no_op_on_election: bool,
    /// TEST ONLY: the bugs planted in every node.
    #[cfg(feature = "test-hooks")]
    pub bugs: raft_core::BugSet,
}

impl Default for RaftSetup {
    fn default() -> Self {
        RaftSetup {
            tick_ms: 10,
            election_ticks: (30, 60),
            heartbeat_ticks: 10,
            max_message_bytes: 64 * 1024,
            check_quorum: true,
            pre_vote: true,
            no_op_on_election: false,
            #[cfg(feature = "test-hooks")]
            bugs: raft_core::BugSet::NONE,
        }
    }
}

/// What the lab tester prints, and a little more.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Requests delivered to a server (the lab's RPC count).
    pub rpcs: u64,
    /// Encoded bytes of requests sent and of replies delivered.
    pub bytes: u64,
    /// Requests delivered to the current incarnation of each server.
    pub rpcs_per_server: Vec<u64>,
    /// All messages sent (requests and replies).
    pub messages_sent: u64,
    /// The largest persisted raft state seen on any server.
    pub max_raft_state: usize,
    /// The largest persisted snapshot seen on a KV server.
    pub max_snapshot: usize,
    /// The largest encoded Raft message sent (at most the configured message size, or
    /// the run fails).
    pub max_message: usize,
    /// InstallSnapshot messages (chunks) sent.
    pub snapshot_chunks: u64,
    /// Raft messages sent (between servers; the storm caps and efficiency bounds count
    /// these, not the clerks' traffic).
    pub raft_messages: u64,
    /// Elections started (steps that sent real RequestVotes).
    pub elections: u64,
    /// Pre-vote rounds started.
    pub pre_votes: u64,
}

/// Who sends or receives a message, or ticks: a server or a clerk, by position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// Server `i`.
    Server(usize),
    /// Clerk `c`.
    Client(usize),
}

#[derive(Debug)]
enum EventKind {
    Tick {
        at: Endpoint,
        incarnation: u64,
    },
    Deliver {
        from: Endpoint,
        from_incarnation: u64,
        to: Endpoint,
        to_incarnation: u64,
        is_reply: bool,
        bytes: Vec<u8>,
    },
    Wake(Waker),
}

#[derive(Debug)]
struct Event {
    at: Millis,
    seq: u64,
    kind: EventKind,
}

impl PartialEq for Event {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Event {}
impl PartialOrd for Event {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Event {
    /// Reversed, so the max-heap pops the earliest (time, sequence) first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

struct Server {
    process: Option<Process>,
    incarnation: u64,
    persister: PersistedState,
}

/// The whole simulated world of one run.
pub struct World {
    now: Millis,
    queue: BinaryHeap<Event>,
    seq: u64,
    seed: u64,
    servers: Vec<Server>,
    service: Service,
    clients: Vec<ClientSlot>,
    setup: RaftSetup,
    /// The network, its knobs and connectivity.
    pub net: Network,
    /// The tester's record of applies.
    pub applier: Applier,
    /// The KV checks and the clients' history (KV worlds only).
    pub kv: KvChecks,
    safety: SafetyChecker,
    /// Counters.
    pub stats: Stats,
    /// The trace and its hash.
    pub trace: Trace,
    failure: Option<String>,
    /// Armed by `crash_mid_step`: (server, actions to carry out before it crashes).
    crash_after: Option<(usize, usize)>,
    crash_points: CrashPoints,
    elections: ElectionChecker,
    /// The last index each server's service holds (bare nodes: the tester's applies).
    service_index: Vec<u64>,
    backup: BackupChecker,
    reads: ReadChecker,
    /// The storm caps of this run.
    pub limits: Limits,
    /// What the run used of its caps.
    pub usage: Usage,
}

impl World {
    /// A world of `servers` servers, none started yet.
    pub fn new(
        servers: usize,
        seed: u64,
        setup: RaftSetup,
        net: NetworkConfig,
        snapshots: bool,
        record_trace: bool,
    ) -> World {
        World {
            now: 0,
            queue: BinaryHeap::new(),
            seq: 0,
            seed,
            servers: (0..servers)
                .map(|_| Server {
                    process: None,
                    incarnation: 0,
                    persister: PersistedState::new(),
                })
                .collect(),
            service: Service::RaftLab,
            clients: Vec::new(),
            net: Network::new(servers, net, Stream::new(seed, "network"))
                .with_fault_stream(Stream::new(seed, "network-faults")),
            applier: Applier::new(servers, snapshots),
            kv: KvChecks::default(),
            safety: SafetyChecker::new(servers),
            elections: ElectionChecker::new(servers, &setup),
            service_index: vec![0; servers],
            backup: BackupChecker::new(),
            reads: ReadChecker::default(),
            stats: Stats {
                rpcs_per_server: vec![0; servers],
                ..Stats::default()
            },
            trace: Trace::new(record_trace),
            failure: None,
            crash_after: None,
            crash_points: CrashPoints::new(Stream::new(seed, "crash-points")),
            setup,
            limits: Limits::default(),
            usage: Usage::default(),
        }
    }

    /// Makes every server start as `service` (before any server starts).
    pub fn set_service(&mut self, service: Service) {
        self.service = service;
    }

    /// What the servers run.
    pub fn service(&self) -> &Service {
        &self.service
    }

    /// The current simulated time.
    pub fn now(&self) -> Millis {
        self.now
    }

    /// The number of servers.
    pub fn servers(&self) -> usize {
        self.servers.len()
    }

    /// The node of server `i`, if it is running.
    pub fn node(&self, i: usize) -> Option<&Node> {
        self.servers[i].process.as_ref().map(Process::node)
    }

    /// The KV server of server `i`, if it is running one.
    pub fn kv_server(&self, i: usize) -> Option<&kv_core::KvServer> {
        self.servers[i].process.as_ref().and_then(Process::kv)
    }

    /// What server `i` has persisted.
    pub fn persister(&self, i: usize) -> &PersistedState {
        &self.servers[i].persister
    }

    /// The first failure (checker violation or test assertion), if any.
    pub fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }

    /// Records a failure; the run stops at the next event. The first one wins.
    pub fn fail(&mut self, message: String) {
        if self.failure.is_none() {
            let line = format!("at {} ms: {message}", self.now);
            self.trace
                .line(|| format!("{:>8} FAIL {message}", self.now));
            self.failure = Some(line);
        }
    }

    /// The simulated ms per tick.
    pub fn tick_ms(&self) -> Millis {
        self.setup.tick_ms
    }

    /// Schedules `waker` to be woken at `at`.
    pub fn wake_at(&mut self, at: Millis, waker: Waker) {
        self.push(at, EventKind::Wake(waker));
    }

    fn push(&mut self, at: Millis, kind: EventKind) {
        self.seq += 1;
        self.queue.push(Event {
            at,
            seq: self.seq,
            kind,
        });
    }

    /// Runs the next event; returns false if there is none.
    pub fn run_next_event(&mut self) -> bool {
        let Some(event) = self.queue.pop() else {
            return false;
        };
        self.now = event.at;
        if let Err(storm) = self.usage.on_event(self.now, &self.limits) {
            self.fail(storm);
            return true;
        }
        match event.kind {
            EventKind::Tick { at, incarnation } => {
                if self.is_live(at, incarnation) {
                    match at {
                        Endpoint::Server(i) => {
                            self.step_process(i, ProcessInput::Tick);
                        }
                        Endpoint::Client(c) => self.step_client(c, kv_core::ClerkInput::Tick),
                    }
                    self.push(
                        self.now + self.setup.tick_ms,
                        EventKind::Tick { at, incarnation },
                    );
                }
            }
            EventKind::Deliver {
                from,
                from_incarnation,
                to,
                to_incarnation,
                is_reply,
                bytes,
            } => self.deliver(from, from_incarnation, to, to_incarnation, is_reply, &bytes),
            EventKind::Wake(waker) => waker.wake(),
        }
        true
    }

    /// Whether endpoint `at` is running its incarnation `incarnation`.
    fn is_live(&self, at: Endpoint, incarnation: u64) -> bool {
        match at {
            Endpoint::Server(i) => {
                let server = &self.servers[i];
                server.incarnation == incarnation && server.process.is_some()
            }
            Endpoint::Client(c) => self.clients[c].clerk.is_some(),
        }
    }

    fn incarnation(&self, at: Endpoint) -> u64 {
        match at {
            Endpoint::Server(i) => self.servers[i].incarnation,
            Endpoint::Client(_) => 0,
        }
    }

    /// Whether a message may pass from `from` to `to` now: between servers, the server
    /// network's links; between a clerk and a server, the clerk's own link.
    fn link_up(&self, from: Endpoint, to: Endpoint) -> bool {
        match (from, to) {
            (Endpoint::Server(a), Endpoint::Server(b)) => self.net.link_up(a, b),
            (Endpoint::Client(c), Endpoint::Server(s))
            | (Endpoint::Server(s), Endpoint::Client(c)) => self.clients[c].links[s],
            (Endpoint::Client(_), Endpoint::Client(_)) => false,
        }
    }

    fn deliver(
        &mut self,
        from: Endpoint,
        from_incarnation: u64,
        to: Endpoint,
        to_incarnation: u64,
        is_reply: bool,
        bytes: &[u8],
    ) {
        let passes = if self.is_live(from, from_incarnation) {
            self.link_up(from, to)
        } else {
            match (from, to) {
                (Endpoint::Server(a), Endpoint::Server(b)) => self.net.survives_sender_crash(a, b),
                _ => self.link_up(from, to) && self.net.survives_crash_roll(),
            }
        };
        if !passes || !self.is_live(to, to_incarnation) {
            return;
        }
        if is_reply {
            self.stats.bytes += bytes.len() as u64;
        }
        match (from, to) {
            (Endpoint::Server(a), Endpoint::Server(b)) => {
                let message = match Message::from_bytes(bytes) {
                    Ok(message) => message,
                    Err(e) => {
                        return self.fail(format!(
                            "codec: a message from {a} to {b} does not decode: {e}"
                        ))
                    }
                };
                if !is_reply {
                    self.count_request(b);
                }
                if let Some(process) = self.servers[b].process.as_ref() {
                    self.backup.on_deliver((a, b), &message, process.node());
                }
                self.step_process(b, ProcessInput::Peer(message));
            }
            (Endpoint::Client(c), Endpoint::Server(s)) => match kv_core::Request::from_bytes(bytes)
            {
                Ok(request) => {
                    self.count_request(s);
                    let from = kv_core::ClientAddr(c as u64);
                    self.step_process(s, ProcessInput::Request { from, request });
                }
                Err(e) => self.fail(format!(
                    "codec: a request of clerk {c} does not decode: {e}"
                )),
            },
            (Endpoint::Server(s), Endpoint::Client(c)) => match kv_core::Reply::from_bytes(bytes) {
                Ok(reply) => {
                    let from = NodeId(s as u64 + 1);
                    self.step_client(c, kv_core::ClerkInput::Reply { from, reply });
                }
                Err(e) => self.fail(format!("codec: a reply to clerk {c} does not decode: {e}")),
            },
            (Endpoint::Client(_), Endpoint::Client(_)) => {}
        }
    }

    fn count_request(&mut self, to: usize) {
        self.stats.rpcs += 1;
        self.stats.rpcs_per_server[to] += 1;
    }

    /// Steps server `i`'s bare Raft node with `input` and carries out its actions.
    /// Returns the answer to a proposal, if the input was one.
    pub fn step(
        &mut self,
        i: usize,
        input: Input,
    ) -> Option<Result<raft_core::Proposed, raft_core::ProposeError>> {
        let input = match input {
            Input::Tick => ProcessInput::Tick,
            Input::Message(message) => ProcessInput::Peer(message),
            other => ProcessInput::Raft(other),
        };
        self.step_process(i, input)
    }

    /// Steps server `i`'s process with `input` and carries out its effects in order (a
    /// mid-step crash, armed or drawn at a crash point, cuts them short). Returns a bare
    /// node's answer to a proposal.
    pub fn step_process(
        &mut self,
        i: usize,
        input: ProcessInput,
    ) -> Option<Result<raft_core::Proposed, raft_core::ProposeError>> {
        let process = self.servers[i].process.as_mut()?;
        self.trace.mix(&[self.now, i as u64, input_tag(&input)]);
        let now = self.now;
        let is_tick = matches!(input, ProcessInput::Tick);
        let described = self.trace.is_recording().then(|| describe_input(&input));
        let before = BeforeStep::new(process.node(), &input);
        if let (Process::Raft(node), ProcessInput::Raft(Input::ReadIndex { context })) =
            (&*process, &input)
        {
            self.reads.on_ask(i, *context, node.term());
        }
        let commit_before = process.node().commit_index();
        let effects = process.step(input);
        if !(is_tick && effects.is_empty()) {
            if let Some(described) = described {
                self.trace.line(|| format!("{now:>8} s{i} < {described}"));
            }
        }
        let cut = match self.crash_after {
            Some((server, keep)) if server == i => {
                self.crash_after = None;
                Some(keep)
            }
            _ => self.crash_points.draw(&effects),
        };
        if !cut.is_some_and(|keep| keep < effects.len()) {
            self.observe_elections(i, before, &effects);
        }
        let carried = self.carry_out(i, effects, cut);
        if carried.crashed {
            return carried.proposal;
        }
        self.after_step(i, commit_before);
        if let Some((index, data)) = carried.snapshot_request {
            self.step(
                i,
                Input::Snapshot {
                    index: raft_core::LogIndex(index),
                    data,
                },
            );
        }
        carried.proposal
    }

    /// Carries out one Send of server `from`: checks that what it claims is durable and
    /// that it reads back through the typed surface, then hands it to the network (which
    /// may also replay an older message).
    fn send(&mut self, from: usize, message: &Message) {
        let server = &self.servers[from];
        let sender = server.process.as_ref().map(Process::node);
        if let Err(e) = durable::check_send(from, &server.persister, sender, message) {
            self.fail(e);
        }
        let bytes = message.to_bytes();
        if let Err(e) = surface::check(message, &bytes) {
            self.fail(e);
        }
        self.trace.mix_bytes(&bytes);
        self.check_message_size(from, message, bytes.len());
        let is_reply = message.is_reply();
        self.stats.raft_messages += 1;
        let total = self.stats.raft_messages;
        if let Err(storm) = self
            .usage
            .on_message(self.now, bytes.len(), total, &self.limits)
        {
            self.fail(storm);
        }
        let Some(to) = server_index(message.to(), self.servers.len()) else {
            return self.count_message(bytes.len(), is_reply);
        };
        let node = |i: usize| self.servers[i].process.as_ref().map(Process::node);
        let watched = self
            .backup
            .on_send((from, to), message, node(from), node(to));
        if let Err(e) = watched {
            self.fail(e);
        }
        let sent = Carried {
            from,
            to,
            is_reply,
            bytes,
        };
        if let Some((old, delay)) = self.net.replay(&sent) {
            let (from, to) = (Endpoint::Server(old.from), Endpoint::Server(old.to));
            self.schedule_delivery((from, to, old.is_reply), old.bytes, delay);
        }
        let (from, to) = (Endpoint::Server(from), Endpoint::Server(to));
        self.transmit(from, to, is_reply, sent.bytes);
    }

    /// Counts a message sent.
    fn count_message(&mut self, len: usize, is_reply: bool) {
        self.stats.messages_sent += 1;
        if !is_reply {
            self.stats.bytes += len as u64;
        }
    }

    /// The message size checker: every Raft message fits in the configured message size.
    fn check_message_size(&mut self, from: usize, message: &Message, len: usize) {
        self.stats.max_message = self.stats.max_message.max(len);
        if matches!(message.body(), Some(raft_core::Body::InstallSnapshot(_))) {
            self.stats.snapshot_chunks += 1;
        }
        let limit = self.setup.max_message_bytes;
        if len > limit {
            self.fail(format!(
                "server {from} sent a message of {len} bytes, over the limit of {limit}: {}",
                message.summary()
            ));
        }
    }

    /// Sends a KV server's reply to the clerk at `to`.
    fn send_reply(&mut self, from: usize, to: kv_core::ClientAddr, reply: &kv_core::Reply) {
        let bytes = reply.to_bytes();
        self.trace.mix_bytes(&bytes);
        match usize::try_from(to.0) {
            Ok(c) if c < self.clients.len() => {
                self.transmit(Endpoint::Server(from), Endpoint::Client(c), true, bytes);
            }
            _ => self.fail(format!("server {from} replies to unknown client {}", to.0)),
        }
    }

    /// Hands `bytes` to the network: counted, then lost or delivered after a delay (a
    /// request perhaps held back long, perhaps duplicated).
    fn transmit(&mut self, from: Endpoint, to: Endpoint, is_reply: bool, bytes: Vec<u8>) {
        self.count_message(bytes.len(), is_reply);
        if !self.link_up(from, to) {
            return;
        }
        if let Fate::Deliver(delay) = self.net.fate(is_reply) {
            let delay = delay + self.net.hold(is_reply);
            if let Some(copy_delay) = self.net.duplicate() {
                self.schedule_delivery((from, to, is_reply), bytes.clone(), copy_delay);
            }
            self.schedule_delivery((from, to, is_reply), bytes, delay);
        }
    }

    /// Puts a message on the wire between the current incarnations of its ends, to
    /// arrive after `delay` ms (if the link is up now).
    fn schedule_delivery(
        &mut self,
        (from, to, is_reply): (Endpoint, Endpoint, bool),
        bytes: Vec<u8>,
        delay: Millis,
    ) {
        if !self.link_up(from, to) {
            return;
        }
        let kind = EventKind::Deliver {
            from,
            from_incarnation: self.incarnation(from),
            to,
            to_incarnation: self.incarnation(to),
            is_reply,
            bytes,
        };
        self.push(self.now + delay, kind);
    }

    /// The lab's crash1: disconnect, drop the node (volatile state lost), keep the persister.
    pub fn crash(&mut self, i: usize) {
        self.net.set_connected(i, false);
        let server = &mut self.servers[i];
        if server.process.take().is_some() {
            self.reads.on_crash(i);
            server.incarnation += 1;
            let now = self.now;
            self.trace.mix(&[self.now, i as u64, 6]);
            self.trace.line(|| format!("{now:>8} s{i} crash"));
        }
    }

    /// The Raft configuration of server `i`'s incarnation `incarnation`.
    fn raft_config(&self, i: usize, incarnation: u64) -> Result<Config, String> {
        let ids: Vec<NodeId> = (0..self.servers.len())
            .map(|s| NodeId(s as u64 + 1))
            .collect();
        let config = Config::builder(ids[i], ids.iter().copied())
            .election_timeout_ticks(self.setup.election_ticks.0, self.setup.election_ticks.1)
            .heartbeat_interval_ticks(self.setup.heartbeat_ticks)
            .max_message_bytes(self.setup.max_message_bytes)
            .pre_vote(self.setup.pre_vote)
            .check_quorum(self.setup.check_quorum)
            // KV servers serve ReadIndex Gets: a new leader must learn its commit index.
            .no_op_on_election(
                self.setup.no_op_on_election || matches!(self.service, Service::Kv(_)),
            )
            .seed(Stream::new(self.seed, &format!("node-{i}-{incarnation}")).next_u64());
        #[cfg(feature = "test-hooks")]
        let config = config.bugs(self.setup.bugs);
        config.build().map_err(|e| format!("bad raft setup: {e}"))
    }

    /// The lab's start1: (re)start server `i` from what it persisted. It stays
    /// disconnected until `connect`.
    pub fn start(&mut self, i: usize) {
        self.crash(i);
        let server = &mut self.servers[i];
        server.incarnation += 1;
        let incarnation = server.incarnation;
        let config = match self.raft_config(i, incarnation) {
            Ok(config) => config,
            Err(e) => return self.fail(e),
        };
        let reloaded = match reload(i, &self.servers[i].persister) {
            Ok(reloaded) => reloaded,
            Err(e) => return self.fail(e),
        };
        let process = match Process::start(&self.service, config, &reloaded) {
            Ok(process) => process,
            Err(e) => {
                return self.fail(format!(
                    "server {i} cannot restart from its persisted state: {e}"
                ))
            }
        };
        let persister = &self.servers[i].persister;
        let (snapshot_index, snapshot) = (
            persister.snapshot_index().0,
            persister.snapshot_data().clone(),
        );
        if let Process::Raft(_) = process {
            if let Err(e) = self.applier.on_restart(i, snapshot_index, &snapshot) {
                self.fail(e);
            }
        }
        self.safety.on_restart(i, process.node());
        self.elections.on_restart(i);
        self.service_index[i] = snapshot_index;
        self.servers[i].process = Some(process);
        self.stats.rpcs_per_server[i] = 0;
        let now = self.now;
        self.trace.mix(&[self.now, i as u64, 7]);
        self.trace.line(|| format!("{now:>8} s{i} start"));
        let phase = Stream::new(self.seed, &format!("tick-phase-{i}-{incarnation}"))
            .below(self.setup.tick_ms);
        self.push(
            self.now + 1 + phase,
            EventKind::Tick {
                at: Endpoint::Server(i),
                incarnation,
            },
        );
    }

    /// Arms a crash of server `i` in its next step, after only the first `keep` of that
    /// step's actions were carried out (the rest are lost, as in a power cut).
    pub fn crash_mid_step(&mut self, i: usize, keep: usize) {
        self.crash_after = Some((i, keep));
    }

    /// Disarms a pending `crash_mid_step` and any crash points.
    pub fn disarm_crash_mid_step(&mut self) {
        self.crash_after = None;
        self.crash_points.disarm();
    }

    /// From now on, every step of `kind` (on any server) crashes with chance
    /// `per_mille` / 1000, after a prefix of its actions drawn uniformly (0 disarms).
    pub fn set_crash_points(&mut self, kind: StepKind, per_mille: u64) {
        self.crash_points.arm(kind, per_mille);
    }

    /// The setup the nodes run with.
    pub fn setup(&self) -> &RaftSetup {
        &self.setup
    }

    /// Leaders elected so far (distinct terms with a leader).
    pub fn leaders_elected(&self) -> usize {
        self.safety.leaders_elected()
    }

    /// Runs every event due at or before `until`, then moves the clock to `until`.
    pub fn run_until(&mut self, until: Millis) {
        while self.queue.peek().is_some_and(|event| event.at <= until) && self.failure.is_none() {
            self.run_next_event();
        }
        self.now = self.now.max(until);
    }

    /// Whether server `i` is running.
    pub fn is_alive(&self, i: usize) -> bool {
        self.servers[i].process.is_some()
    }
}

/// What a disk would give back of server `i`'s persisted state: its two blobs encoded
/// and decoded again, which must give the same state (and the reported size).
fn reload(i: usize, persisted: &PersistedState) -> Result<PersistedState, String> {
    let raft_state = persisted.encode_raft_state();
    if raft_state.len() != persisted.raft_state_size() {
        return Err(format!(
            "server {i} persisted a raft state of {} bytes but reports {}",
            raft_state.len(),
            persisted.raft_state_size()
        ));
    }
    match PersistedState::decode(&raft_state, persisted.snapshot_data()) {
        Ok(decoded) if decoded == *persisted => Ok(decoded),
        Ok(_) => Err(format!(
            "server {i}'s persisted state does not decode to itself"
        )),
        Err(e) => Err(format!("server {i}'s persisted state does not decode: {e}")),
    }
}

fn server_index(id: NodeId, servers: usize) -> Option<usize> {
    let index = usize::try_from(id.0.checked_sub(1)?).ok()?;
    (index < servers).then_some(index)
}
