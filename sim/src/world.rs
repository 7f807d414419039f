//! The simulated cluster: servers (a node and its persister each), the event queue in
//! simulated time, and the driver that carries out every action a node returns, in order,
//! with the checkers watching every step and every send, and the storm caps on every run.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::task::Waker;

use bytes::Bytes;
use raft_core::{Action, Apply, Config, Input, Message, Node, NodeId, PersistedState};

use crate::applier::Applier;
use crate::checkers::backup::BackupChecker;
use crate::checkers::election::{BeforeStep, ElectionChecker};
use crate::checkers::{commit, durable, queries, surface};
use crate::crash::{CrashPoints, StepKind};
use crate::limits::{Limits, Usage};
use crate::network::{Carried, Fate, Network, NetworkConfig};
use crate::rng::Stream;
use crate::safety::SafetyChecker;
use crate::trace::Trace;

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
    /// Payload bytes per AppendEntries.
    pub max_message_bytes: usize,
    /// Whether elections start with a pre-vote round (the catalog keeps it on).
    pub pre_vote: bool,
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
            pre_vote: true,
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
    /// Elections started (steps that sent real RequestVotes).
    pub elections: u64,
    /// Pre-vote rounds started.
    pub pre_votes: u64,
}

#[derive(Debug)]
enum EventKind {
    Tick {
        server: usize,
        incarnation: u64,
    },
    Deliver {
        from: usize,
        from_incarnation: u64,
        to: usize,
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
    node: Option<Node>,
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
    setup: RaftSetup,
    /// The network, its knobs and connectivity.
    pub net: Network,
    /// The tester's record of applies.
    pub applier: Applier,
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
    /// The last index each server's service holds.
    service_index: Vec<u64>,
    backup: BackupChecker,
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
                    node: None,
                    incarnation: 0,
                    persister: PersistedState::new(),
                })
                .collect(),
            net: Network::new(servers, net, Stream::new(seed, "network"))
                .with_fault_stream(Stream::new(seed, "network-faults")),
            applier: Applier::new(servers, snapshots),
            safety: SafetyChecker::new(servers),
            elections: ElectionChecker::new(servers, &setup),
            service_index: vec![0; servers],
            backup: BackupChecker::new(),
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
        self.servers[i].node.as_ref()
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
            EventKind::Tick {
                server,
                incarnation,
            } => {
                if self.servers[server].incarnation == incarnation
                    && self.servers[server].node.is_some()
                {
                    self.step(server, Input::Tick);
                    self.push(
                        self.now + self.setup.tick_ms,
                        EventKind::Tick {
                            server,
                            incarnation,
                        },
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

    fn deliver(
        &mut self,
        from: usize,
        from_incarnation: u64,
        to: usize,
        to_incarnation: u64,
        is_reply: bool,
        bytes: &[u8],
    ) {
        let alive = |s: &Server, incarnation| s.incarnation == incarnation && s.node.is_some();
        let passes = if alive(&self.servers[from], from_incarnation) {
            self.net.link_up(from, to)
        } else {
            self.net.survives_sender_crash(from, to)
        };
        if !passes || !alive(&self.servers[to], to_incarnation) {
            return;
        }
        let message = match Message::from_bytes(bytes) {
            Ok(message) => message,
            Err(e) => {
                return self.fail(format!(
                    "codec: a message from {from} to {to} does not decode: {e}"
                ))
            }
        };
        if is_reply {
            self.stats.bytes += bytes.len() as u64;
        } else {
            self.stats.rpcs += 1;
            self.stats.rpcs_per_server[to] += 1;
        }
        if let Some(receiver) = self.servers[to].node.as_ref() {
            self.backup.on_deliver((from, to), &message, receiver);
        }
        self.step(to, Input::Message(message));
    }

    /// Steps server `i`'s node with `input` and carries out its actions. Returns the
    /// answer to a proposal, if the input was one.
    pub fn step(
        &mut self,
        i: usize,
        input: Input,
    ) -> Option<Result<raft_core::Proposed, raft_core::ProposeError>> {
        let node = self.servers[i].node.as_mut()?;
        self.trace.mix(&[self.now, i as u64, input_tag(&input)]);
        let now = self.now;
        let is_tick = matches!(input, Input::Tick);
        let described = self.trace.is_recording().then(|| describe_input(&input));
        let before = BeforeStep::new(node, &input);
        let commit_before = node.commit_index();
        let actions = node.step(input);
        if !(is_tick && actions.is_empty()) {
            if let Some(described) = described {
                self.trace.line(|| format!("{now:>8} s{i} < {described}"));
            }
        }
        let cut = match self.crash_after {
            Some((server, keep)) if server == i => {
                self.crash_after = None;
                Some(keep)
            }
            _ => self.crash_points.draw(&actions),
        };
        if !cut.is_some_and(|keep| keep < actions.len()) {
            self.observe_timers(i, before, &actions);
        }
        let carried = self.carry_out(i, actions, cut);
        if carried.crashed {
            return carried.proposal;
        }
        let (proposal, snapshot_request) = (carried.proposal, carried.snapshot_request);
        self.after_step(i, commit_before);
        if let Some((index, data)) = snapshot_request {
            self.step(
                i,
                Input::Snapshot {
                    index: raft_core::LogIndex(index),
                    data,
                },
            );
        }
        proposal
    }

    /// Counts the elections a step started and checks the election timer rule.
    fn observe_timers(&mut self, i: usize, before: BeforeStep, actions: &[Action]) {
        self.stats.elections += u64::from(StepKind::Campaign.matches(actions));
        self.stats.pre_votes += u64::from(StepKind::PreVote.matches(actions));
        let Some(node) = self.servers[i].node.as_ref() else {
            return;
        };
        if let Err(e) = self.elections.observe(i, before, actions, node) {
            self.fail(e);
        }
    }

    /// Carries out a step's actions in order, crashing the server after the first `cut`
    /// of them if asked.
    fn carry_out(&mut self, i: usize, actions: Vec<Action>, cut: Option<usize>) -> CarriedOut {
        let now = self.now;
        let mut proposal = None;
        let mut snapshot_request = None;
        for (position, action) in actions.into_iter().enumerate() {
            if cut == Some(position) {
                self.trace
                    .line(|| format!("{now:>8} s{i} crash after {position} actions"));
                self.crash(i);
                return CarriedOut {
                    proposal,
                    snapshot_request: None,
                    crashed: true,
                };
            }
            self.trace.line(|| format!("{now:>8} s{i} > {action}"));
            match action {
                Action::Persist(persist) => {
                    self.trace.mix(&[1]);
                    if let Err(e) = self.servers[i].persister.apply(&persist) {
                        self.fail(format!("server {i} persist action does not apply: {e}"));
                    }
                }
                Action::Send(message) => self.send(i, &message),
                Action::Apply(Apply::Entry(entry)) => {
                    self.trace.mix(&[2, entry.index().0, entry.term().0]);
                    self.service_index[i] = entry.index().0;
                    match self.applier.on_entry(i, entry.index().0, entry.data()) {
                        Ok(Some(snapshot)) => snapshot_request = Some((entry.index().0, snapshot)),
                        Ok(None) => {}
                        Err(e) => self.fail(e),
                    }
                }
                Action::Apply(Apply::Snapshot { index, term, data }) => {
                    self.trace.mix(&[3, index.0, term.0]);
                    self.service_index[i] = index.0;
                    snapshot_request = None;
                    if let Err(e) = self.applier.on_snapshot(i, index.0, &data) {
                        self.fail(e);
                    }
                }
                Action::Proposal(answer) => {
                    self.trace.mix(&[4, u64::from(answer.is_ok())]);
                    proposal = Some(answer);
                }
                Action::Snapshot(outcome) => self.trace.mix(&[5, u64::from(outcome.is_ok())]),
            }
        }
        CarriedOut {
            proposal,
            snapshot_request,
            crashed: false,
        }
    }

    fn after_step(&mut self, i: usize, commit_before: raft_core::LogIndex) {
        let Some(node) = self.servers[i].node.as_ref() else {
            return;
        };
        if node.commit_index() > commit_before {
            let persisted: Vec<&PersistedState> = self
                .servers
                .iter()
                .map(|server| &server.persister)
                .collect();
            if let Err(e) = commit::check_commit(i, node, &persisted) {
                return self.fail(e);
            }
        }
        let size = self.servers[i].persister.raft_state_size();
        self.stats.max_raft_state = self.stats.max_raft_state.max(size);
        if size != node.raft_state_size() {
            let message = format!(
                "server {i} reports a raft state of {} bytes but persisted {size}",
                node.raft_state_size()
            );
            return self.fail(message);
        }
        let persisted = &self.servers[i].persister;
        let checked = self
            .safety
            .observe(i, node)
            .and_then(|()| queries::check(i, node, persisted, self.service_index[i]));
        if let Err(e) = checked {
            self.fail(e);
        }
    }

    /// Carries out one Send of server `from`: checks that what it claims is durable,
    /// counts it against the caps, and hands it to the network.
    fn send(&mut self, from: usize, message: &Message) {
        let server = &self.servers[from];
        if let Err(e) = durable::check_send(from, &server.persister, server.node.as_ref(), message)
        {
            self.fail(e);
        }
        let bytes = message.to_bytes();
        if let Err(e) = surface::check(message, &bytes) {
            self.fail(e);
        }
        self.trace.mix_bytes(&bytes);
        self.stats.messages_sent += 1;
        let total = self.stats.messages_sent;
        if let Err(storm) = self
            .usage
            .on_message(self.now, bytes.len(), total, &self.limits)
        {
            self.fail(storm);
        }
        let is_reply = message.is_reply();
        if !is_reply {
            self.stats.bytes += bytes.len() as u64;
        }
        let Some(to) = server_index(message.to(), self.servers.len()) else {
            return;
        };
        let (sender, receiver) = (&self.servers[from].node, &self.servers[to].node);
        let watched = self
            .backup
            .on_send((from, to), message, sender.as_ref(), receiver.as_ref());
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
            self.schedule_delivery(old, delay);
        }
        if !self.net.link_up(from, to) {
            return;
        }
        if let Fate::Deliver(delay) = self.net.fate(is_reply) {
            let delay = delay + self.net.hold(is_reply);
            if let Some(copy_delay) = self.net.duplicate() {
                self.schedule_delivery(sent.clone(), copy_delay);
            }
            self.schedule_delivery(sent, delay);
        }
    }

    /// Puts a message on the wire between the current incarnations of its ends, to
    /// arrive after `delay` ms (if the link is up now).
    fn schedule_delivery(&mut self, carried: Carried, delay: Millis) {
        let Carried {
            from,
            to,
            is_reply,
            bytes,
        } = carried;
        if !self.net.link_up(from, to) {
            return;
        }
        let kind = EventKind::Deliver {
            from,
            from_incarnation: self.servers[from].incarnation,
            to,
            to_incarnation: self.servers[to].incarnation,
            is_reply,
            bytes,
        };
        self.push(self.now + delay, kind);
    }

    /// The lab's crash1: disconnect, drop the node (volatile state lost), keep the persister.
    pub fn crash(&mut self, i: usize) {
        self.net.set_connected(i, false);
        let server = &mut self.servers[i];
        if server.node.take().is_some() {
            server.incarnation += 1;
            let now = self.now;
            self.trace.mix(&[self.now, i as u64, 6]);
            self.trace.line(|| format!("{now:>8} s{i} crash"));
        }
    }

    /// The lab's start1: (re)start server `i` from what it persisted. It stays
    /// disconnected until `connect`.
    pub fn start(&mut self, i: usize) {
        self.crash(i);
        let server = &mut self.servers[i];
        server.incarnation += 1;
        let incarnation = server.incarnation;
        let ids: Vec<NodeId> = (0..self.servers.len())
            .map(|s| NodeId(s as u64 + 1))
            .collect();
        let config = Config::builder(ids[i], ids.iter().copied())
            .election_timeout_ticks(self.setup.election_ticks.0, self.setup.election_ticks.1)
            .heartbeat_interval_ticks(self.setup.heartbeat_ticks)
            .max_message_bytes(self.setup.max_message_bytes)
            .pre_vote(self.setup.pre_vote)
            .seed(Stream::new(self.seed, &format!("node-{i}-{incarnation}")).next_u64());
        #[cfg(feature = "test-hooks")]
        let config = config.bugs(self.setup.bugs);
        let config = config.build();
        let config = match config {
            Ok(config) => config,
            Err(e) => return self.fail(format!("bad raft setup: {e}")),
        };
        let reloaded = match reload(i, &self.servers[i].persister) {
            Ok(reloaded) => reloaded,
            Err(e) => return self.fail(e),
        };
        let node = match Node::restore(config, &reloaded) {
            Ok(node) => node,
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
        if let Err(e) = self.applier.on_restart(i, snapshot_index, &snapshot) {
            self.fail(e);
        }
        self.safety.on_restart(i, &node);
        self.elections.on_restart(i);
        self.service_index[i] = snapshot_index;
        self.servers[i].node = Some(node);
        self.stats.rpcs_per_server[i] = 0;
        let now = self.now;
        self.trace.mix(&[self.now, i as u64, 7]);
        self.trace.line(|| format!("{now:>8} s{i} start"));
        let phase = Stream::new(self.seed, &format!("tick-phase-{i}-{incarnation}"))
            .below(self.setup.tick_ms);
        self.push(
            self.now + 1 + phase,
            EventKind::Tick {
                server: i,
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
        self.servers[i].node.is_some()
    }

    /// Proposes `command` at server `i`: the lab's Start. Returns (index, term) if the
    /// server is alive and leads.
    pub fn propose(&mut self, i: usize, command: Bytes) -> Option<(u64, u64)> {
        match self.step(i, Input::Propose(command))? {
            Ok(proposed) => Some((proposed.index.0, proposed.term.0)),
            Err(_) => None,
        }
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

/// What carrying out one step's actions gave.
struct CarriedOut {
    /// The answer to a proposal, if the step had one.
    proposal: Option<Result<raft_core::Proposed, raft_core::ProposeError>>,
    /// The tester snapshot (index, bytes) the applies call for.
    snapshot_request: Option<(u64, Bytes)>,
    /// Whether the server crashed part-way.
    crashed: bool,
}

fn server_index(id: NodeId, servers: usize) -> Option<usize> {
    let index = usize::try_from(id.0.checked_sub(1)?).ok()?;
    (index < servers).then_some(index)
}

fn input_tag(input: &Input) -> u64 {
    match input {
        Input::Tick => 10,
        Input::Message(_) => 11,
        Input::Propose(_) => 12,
        Input::ProposeBatch(_) => 13,
        Input::Snapshot { .. } => 14,
    }
}

fn describe_input(input: &Input) -> String {
    match input {
        Input::Tick => "tick".into(),
        Input::Message(message) => format!("recv {}", message.summary()),
        Input::Propose(data) => format!("propose {}", crate::applier::show(data)),
        Input::ProposeBatch(batch) => format!("propose batch of {}", batch.len()),
        Input::Snapshot { index, data } => format!("snapshot {index} bytes={}", data.len()),
    }
}
