//! [`KvServer`]: one Raft node and the key/value state machine on top of it, as a pure
//! state machine with the single entry point [`KvServer::step`].
//!
//! A client request is screened (limits, duplicates, leadership), proposed to Raft and
//! answered when its entry applies. Raft's persist and send actions pass through in
//! Raft's order; applies update the state and answer the waiting clients; at the end of
//! every step the server drops waiters whose term is gone and snapshots when the raft
//! state is large (see [`crate::config`] for the policy).

use std::collections::HashMap;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use raft_core::{LogIndex, Message, Node, NodeId, PersistAction, PersistedState, Term};

use crate::adapter::{self, RaftEvent};
use crate::bugs::KvBug;
use crate::command;
use crate::config::{KvConfig, ReadMode};
use crate::error::{KvFatalError, KvRestoreError};
use crate::keys::FixedState;
use crate::proto::{Op, Outcome, Reply, Request};
use crate::reads::{ReadWaiter, Reads};
use crate::snapshot;
use crate::state::KvState;
use crate::types::{ClientAddr, ClientId, Seq, StateDigest};
use crate::waiting::{Waiter, Waiting};

/// Something that happens to a KV server.
#[derive(Clone, Debug, PartialEq)]
pub enum ServerInput {
    /// One unit of logical time passed (Raft's election and heartbeat timers count these).
    Tick,
    /// A Raft message arrived from a peer server.
    Raft(Message),
    /// A client request arrived from `from`; the answer goes back to `from`.
    Request {
        /// Where to send the reply.
        from: ClientAddr,
        /// The decoded request.
        request: Request,
    },
    /// Several client requests arrived together: a leader appends the ones it accepts as
    /// one Raft batch (one persist, one AppendEntries per follower).
    Requests(Vec<(ClientAddr, Request)>),
    /// The operator asks the leader to hand leadership to `target` (Raft's leadership
    /// transfer); writes are sent to `target` meanwhile. Answered by
    /// [`ServerAction::Transfer`].
    TransferLeadership {
        /// The server that should lead.
        target: NodeId,
    },
}

/// Something the driver must do, in the order the actions were returned.
#[derive(Clone, Debug, PartialEq)]
pub enum ServerAction {
    /// Make this change durable before carrying out any later action (Raft's own).
    Persist(PersistAction),
    /// Send this Raft message to the peer `message.to()` (Raft's own).
    Send(Message),
    /// Send `reply` to the client at `to`.
    Reply {
        /// The address the request came from.
        to: ClientAddr,
        /// The answer.
        reply: Reply,
    },
    /// The state machine advanced (for checkers; a driver may ignore it).
    Applied(Applied),
    /// The server stopped for good; see [`KvFatalError`].
    Halted(KvFatalError),
    /// The answer to [`ServerInput::TransferLeadership`]: the transfer started, or why not.
    Transfer(Result<NodeId, raft_core::TransferError>),
}

/// The state machine reached `index`: every server that reports the same index reports
/// the same term and digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Applied {
    /// The last index applied.
    pub index: LogIndex,
    /// The term of that entry.
    pub term: Term,
    /// The digest of the state there.
    pub digest: StateDigest,
    /// How the server got there.
    pub source: AppliedSource,
}

/// How a server reached an applied index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppliedSource {
    /// It applied the entry at that index (a command, or a no-op entry).
    Entry,
    /// It installed a snapshot from the leader covering everything up to that index.
    Snapshot,
}

/// A request the leader proposes in this step.
#[derive(Clone, Copy, Debug)]
struct Proposal {
    client: ClientId,
    seq: Seq,
    reply_to: ClientAddr,
    /// A Put or an Append.
    is_write: bool,
}

/// What to do with a request before it reaches the log.
enum Screening {
    /// Answer it now.
    Answer(Outcome),
    /// A stale retry of a Get the client has moved past: nobody waits for it.
    Drop,
    /// This server leads: put it in the log.
    Propose,
}

/// One KV server: a Raft node and the replicated key/value state on top of it.
///
/// Everything that happens to the server is a [`ServerInput`] to [`KvServer::step`];
/// everything it wants done comes back as [`ServerAction`]s. See the crate docs for the
/// contract.
#[derive(Clone, Debug)]
pub struct KvServer {
    config: KvConfig,
    node: Node,
    state: KvState,
    applied: LogIndex,
    applied_term: Term,
    waiting: Waiting,
    reads: Reads,
    halted: Option<KvFatalError>,
    /// Actions of the step in progress.
    actions: Vec<ServerAction>,
    /// Raft's actions of one node step, empty between steps (kept for its capacity).
    raft_actions: Vec<raft_core::Action>,
    /// Scratch of [`KvServer::take_requests`]: the position of each (client, seq) among
    /// the batch's proposals, so that a request sent twice is appended once. Only looked
    /// up, never iterated.
    in_batch: HashMap<(ClientId, Seq), usize, FixedState>,
    /// TEST ONLY: the state cached by the planted stale-snapshot bug.
    #[cfg(feature = "test-hooks")]
    stale: Option<KvState>,
}

impl KvServer {
    /// A fresh server with an empty state and an empty Raft log.
    pub fn new(config: KvConfig, raft_config: raft_core::Config) -> KvServer {
        let node = Node::new(raft_config);
        KvServer::from_parts(config, node, KvState::default(), LogIndex::ZERO, Term::ZERO)
    }

    /// A server restarted from what it persisted: the map and the duplicate table come
    /// from the persisted snapshot; Raft then applies the rest of the log again as it
    /// learns which entries are committed. Corrupt snapshot bytes or an inconsistent raft
    /// state give an error, never a panic.
    pub fn restore(
        config: KvConfig,
        raft_config: raft_core::Config,
        persisted: &PersistedState,
    ) -> Result<KvServer, KvRestoreError> {
        let index = persisted.snapshot_index();
        let state = if index == LogIndex::ZERO {
            KvState::default()
        } else {
            snapshot::decode(persisted.snapshot_data(), index)
                .map_err(|error| KvRestoreError::Snapshot { index, error })?
        };
        let node = Node::restore(raft_config, persisted)?;
        if config.has(KvBug::RestartForgetsApplied) {
            // TEST ONLY: as if the log would be replayed from index 1.
            return Ok(KvServer::new_from_node(config, node));
        }
        Ok(KvServer::from_parts(
            config,
            node,
            state,
            index,
            persisted.snapshot_term(),
        ))
    }

    fn new_from_node(config: KvConfig, node: Node) -> KvServer {
        KvServer::from_parts(config, node, KvState::default(), LogIndex::ZERO, Term::ZERO)
    }

    fn from_parts(
        config: KvConfig,
        node: Node,
        state: KvState,
        applied: LogIndex,
        applied_term: Term,
    ) -> KvServer {
        let state = if config.reports_applied() {
            state
        } else {
            state.without_running_digest()
        };
        KvServer {
            config,
            node,
            state,
            applied,
            applied_term,
            waiting: Waiting::default(),
            reads: Reads::default(),
            halted: None,
            actions: Vec::new(),
            raft_actions: Vec::new(),
            in_batch: HashMap::default(),
            #[cfg(feature = "test-hooks")]
            stale: None,
        }
    }

    /// Feeds one input to the server and returns what the driver must do, in order.
    ///
    /// Deterministic: the same configurations and the same inputs give the same actions.
    /// No I/O happens inside. Raft's persist and send actions keep Raft's order (what
    /// must be durable comes before the message that depends on it); a reply comes after
    /// the apply it reports. A driver that carries the actions out in order is correct.
    pub fn step(&mut self, input: ServerInput) -> Vec<ServerAction> {
        let mut actions = Vec::new();
        self.step_into(input, &mut actions);
        actions
    }

    /// [`KvServer::step`], appending the actions to `actions` instead of returning them,
    /// so that a driver can reuse one buffer from step to step.
    pub fn step_into(&mut self, input: ServerInput, actions: &mut Vec<ServerAction>) {
        debug_assert!(self.actions.is_empty(), "actions left from an earlier step");
        std::mem::swap(&mut self.actions, actions);
        if self.halted.is_some() {
            self.step_halted(input);
        } else {
            match input {
                ServerInput::Tick => self.step_raft(raft_core::Input::Tick, &[]),
                ServerInput::Raft(message) => {
                    self.step_raft(raft_core::Input::Message(message), &[]);
                }
                ServerInput::Request { from, request } => self.take_requests(vec![(from, request)]),
                ServerInput::Requests(batch) => self.take_requests(batch),
                ServerInput::TransferLeadership { target } => {
                    self.step_raft(raft_core::Input::TransferLeadership { target }, &[]);
                }
            }
            self.settle();
        }
        debug_assert!(
            self.halted.is_some()
                || self.applied == self.node.applied_index()
                || self.config.has(KvBug::RestartForgetsApplied),
            "the state machine and raft disagree on the applied index"
        );
        std::mem::swap(&mut self.actions, actions);
    }

    /// A halted server is gone for Raft; clients are sent elsewhere.
    fn step_halted(&mut self, input: ServerInput) {
        let requests = match input {
            ServerInput::Request { from, request } => vec![(from, request)],
            ServerInput::Requests(batch) => batch,
            ServerInput::Tick | ServerInput::Raft(_) | ServerInput::TransferLeadership { .. } => {
                return
            }
        };
        for (from, request) in requests {
            let outcome = Outcome::WrongLeader { leader_hint: None };
            self.reply(from, request.client, request.seq, outcome);
        }
    }

    /// Screens each request; asks Raft for one read index for all the Gets (with
    /// [`ReadMode::ReadIndex`]), then proposes the admitted writes as one Raft batch. The
    /// commands of a batch are encoded into one buffer, which their entries share.
    fn take_requests(&mut self, batch: Vec<(ClientAddr, Request)>) {
        let (writes, write_bytes) = self.writes_in(&batch);
        let mut proposals: Vec<Proposal> = Vec::with_capacity(writes);
        let mut commands: Vec<Bytes> = Vec::with_capacity(writes);
        self.in_batch.clear();
        // At most one reply per request; the rest of the batch may be reads.
        self.actions.reserve(batch.len());
        if self.config.read_mode() == ReadMode::ReadIndex {
            self.reads.reserve(batch.len() - writes);
        }
        let term = self.node.term();
        let mut next_index = self.node.last_log_index().next();
        let mut raft_state = self.node.raft_state_size();
        let mut buffer = BytesMut::with_capacity(write_bytes);
        for (from, request) in batch {
            let (client, seq) = (request.client, request.seq);
            match self.screen(&request) {
                Screening::Answer(outcome) => {
                    self.reply(from, client, seq, outcome);
                    continue;
                }
                Screening::Drop => continue,
                Screening::Propose => {}
            }
            if self.waiting.redirect(client, seq, from) {
                continue;
            }
            if let (Op::Get { key }, true) = (&request.op, self.config.has(KvBug::LocalReads)) {
                // TEST ONLY: answered without confirming leadership (a stale read).
                let value = self.state.get(key).unwrap_or_default().to_owned();
                self.reply(from, client, seq, Outcome::Ok { value });
                continue;
            }
            let request = match (request.op, self.config.read_mode()) {
                (Op::Get { key }, ReadMode::ReadIndex) => {
                    self.read(from, client, seq, key);
                    continue;
                }
                (op, _) => Request { client, seq, op },
            };
            if let Some(&position) = self.in_batch.get(&(client, seq)) {
                proposals[position].reply_to = from;
                continue;
            }
            request.encode_to(&mut buffer);
            let (command, added) = adapter::entry_len(next_index, term, buffer.split().freeze());
            if let Some(limit) = self.config.admission_limit_bytes() {
                if raft_state + added > limit {
                    let outcome = Outcome::WrongLeader { leader_hint: None };
                    self.reply(from, client, seq, outcome);
                    continue;
                }
            }
            raft_state += added;
            next_index = next_index.next();
            self.in_batch.insert((client, seq), proposals.len());
            proposals.push(Proposal {
                client,
                seq,
                reply_to: from,
                is_write: !matches!(request.op, Op::Get { .. }),
            });
            commands.push(command);
        }
        self.ask_gathered_reads();
        let input = match commands.len() {
            0 => return,
            1 => raft_core::Input::Propose(commands.swap_remove(0)),
            _ => raft_core::Input::ProposeBatch(commands),
        };
        self.step_raft(input, &proposals);
    }

    /// How many requests of `batch` may go to the log, and the bytes of their commands
    /// (Gets served through ReadIndex do not).
    fn writes_in(&self, batch: &[(ClientAddr, Request)]) -> (usize, usize) {
        let read_index = self.config.read_mode() == ReadMode::ReadIndex;
        batch
            .iter()
            .filter(|(_, request)| !(read_index && matches!(request.op, Op::Get { .. })))
            .fold((0, 0), |(count, bytes), (_, request)| {
                (count + 1, bytes + request.encoded_len())
            })
    }

    /// Decides what to do with a request before it reaches the log.
    fn screen(&self, request: &Request) -> Screening {
        if let Err(refusal) = self.config.check_limits(request) {
            return Screening::Answer(Outcome::Refused(refusal));
        }
        if self.state.is_applied(request.client, request.seq)
            && !self.config.has(KvBug::NoDuplicateDetection)
        {
            match &request.op {
                // Applied once already: answer as the original was answered.
                Op::Put { .. } | Op::Append { .. } => {
                    return Screening::Answer(Outcome::Ok {
                        value: String::new(),
                    });
                }
                // The client has moved past this Get: nobody waits for the answer.
                Op::Get { .. } if self.state.last_seq(request.client) > Some(request.seq) => {
                    return Screening::Drop;
                }
                // A retry of the current Get reads again (through the log, or with a
                // new read index).
                Op::Get { .. } => {}
            }
        }
        if !self.node.is_leader() {
            return Screening::Answer(Outcome::WrongLeader {
                leader_hint: self.node.leader_hint(),
            });
        }
        Screening::Propose
    }

    /// Steps the node and absorbs its actions; `proposals` are the requests behind a
    /// proposal input, in order.
    fn step_raft(&mut self, input: raft_core::Input, proposals: &[Proposal]) {
        // The buffer is reused from step to step (absorbing an action never steps raft).
        let mut actions = std::mem::take(&mut self.raft_actions);
        self.node.step_into(input, &mut actions);
        // Most raft actions become one server action (an apply becomes one or two).
        self.actions.reserve(actions.len());
        for action in actions.drain(..) {
            match RaftEvent::from(action) {
                RaftEvent::Persist(persist) => self.actions.push(ServerAction::Persist(persist)),
                RaftEvent::Send(message) => self.actions.push(ServerAction::Send(message)),
                RaftEvent::Entries(entries) => {
                    for entry in &entries {
                        self.apply_entry(entry.index(), entry.term(), entry.data());
                    }
                }
                RaftEvent::Snapshot { index, term, data } => {
                    self.install_snapshot(index, term, &data);
                }
                RaftEvent::Proposed { first, term, count } => {
                    // (No proposals: the empty entry a read asked for.)
                    debug_assert!(proposals.is_empty() || count == proposals.len() as u64);
                    self.wait_for(first, term, proposals);
                }
                RaftEvent::ProposalRefused => {
                    // A leader handing over points at its successor.
                    let leader_hint = self.node.transfer_target().or(self.node.leader_hint());
                    for proposal in proposals {
                        let outcome = Outcome::WrongLeader { leader_hint };
                        self.reply(proposal.reply_to, proposal.client, proposal.seq, outcome);
                    }
                }
                RaftEvent::SnapshotAnswered { taken } => {
                    debug_assert!(taken, "raft refused a snapshot of applied entries");
                }
                RaftEvent::Read { context, outcome } => self.read_answered(context, outcome),
                RaftEvent::Transfer(outcome) => self.actions.push(ServerAction::Transfer(outcome)),
            }
        }
        self.raft_actions = actions;
    }

    /// Asks Raft to confirm a read of `key` (a retry of a read already asked is not asked
    /// again: the answer goes to `from`).
    fn read(&mut self, from: ClientAddr, client: ClientId, seq: Seq, key: Arc<str>) {
        if self.reads.redirect(client, seq, from) {
            return;
        }
        self.reads.gather(ReadWaiter {
            client,
            seq,
            key,
            reply_to: from,
        });
    }

    /// Asks Raft to confirm the reads gathered from this step's requests, all at once.
    fn ask_gathered_reads(&mut self) {
        if let Some(context) = self.reads.ask_gathered() {
            // Raft confirms a read only once an entry of the leader's term has committed.
            // A leader whose raft does not append a no-op on election appends an empty
            // entry here (once per term), so that reads never wait for a write.
            if self.node.is_leader() && self.node.last_log_term() < self.node.term() {
                self.step_raft(raft_core::Input::Propose(Bytes::new()), &[]);
            }
            self.step_raft(raft_core::Input::ReadIndex { context }, &[]);
        }
    }

    /// Raft confirmed (or refused) read `context`.
    fn read_answered(&mut self, context: u64, outcome: Result<LogIndex, raft_core::ReadError>) {
        match outcome {
            Ok(index) => self.reads.confirm(context, index),
            Err(raft_core::ReadError::NotLeader { leader_hint }) => {
                for waiter in self.reads.refuse(context) {
                    let outcome = Outcome::WrongLeader { leader_hint };
                    self.reply(waiter.reply_to, waiter.client, waiter.seq, outcome);
                }
            }
        }
    }

    /// Answers the confirmed reads the state machine has caught up with.
    fn answer_reads(&mut self) {
        while let Some(group) = self.reads.pop_ready(self.applied) {
            for waiter in group {
                let value = self.state.get(&waiter.key).unwrap_or_default().to_owned();
                let outcome = Outcome::Ok { value };
                self.reply(waiter.reply_to, waiter.client, waiter.seq, outcome);
            }
        }
    }

    fn wait_for(&mut self, first: LogIndex, term: Term, proposals: &[Proposal]) {
        if self.config.has(KvBug::KeepStaleWaiters)
            && self.waiting.term().is_some_and(|t| t != term)
        {
            // TEST ONLY: the stale waiters are sent away only when a new term's arrive.
            self.drop_waiters();
        }
        for (offset, proposal) in proposals.iter().enumerate() {
            if proposal.is_write && self.config.has(KvBug::ReplyBeforeCommit) {
                // TEST ONLY: acknowledged before the entry commits.
                let outcome = Outcome::Ok {
                    value: String::new(),
                };
                self.reply(proposal.reply_to, proposal.client, proposal.seq, outcome);
            }
            let waiter = Waiter {
                term,
                client: proposal.client,
                seq: proposal.seq,
                reply_to: proposal.reply_to,
            };
            self.waiting.add(first.plus(offset as u64), waiter);
        }
    }

    /// Applies one committed entry and answers whoever waited for its index. An empty
    /// entry or one that does not decode is a no-op (it still moves the applied index).
    fn apply_entry(&mut self, index: LogIndex, term: Term, data: &Bytes) {
        if self.halted.is_some() || index <= self.applied {
            return;
        }
        debug_assert!(
            index == self.applied.next() || self.config.has(KvBug::RestartForgetsApplied),
            "raft applies in index order"
        );
        let want_read = self.waiting.waits_at(index);
        let dedup = !self.config.has(KvBug::NoDuplicateDetection);
        let keep_stale = self.config.has(KvBug::KeepStaleWaiters);
        let state = &mut self.state;
        let (identity, mut read) = if data.is_empty() {
            (None, None)
        } else {
            command::with_command(data, |command| match command {
                Some(command) => {
                    let read = state.apply(command, want_read, dedup).read;
                    (Some((command.client, command.seq)), read)
                }
                None => (None, None),
            })
        };
        self.applied = index;
        self.applied_term = term;
        while let Some((at, waiter)) = self.waiting.pop_through(index) {
            let ours = at == index
                && ((waiter.term == term && identity == Some((waiter.client, waiter.seq)))
                    || keep_stale);
            let outcome = if ours {
                Outcome::Ok {
                    value: read.take().unwrap_or_default(),
                }
            } else {
                // Another entry took that index: ours will never commit there.
                Outcome::WrongLeader {
                    leader_hint: self.node.leader_hint(),
                }
            };
            self.reply(waiter.reply_to, waiter.client, waiter.seq, outcome);
        }
        self.report_applied(AppliedSource::Entry);
    }

    /// Replaces the state with a snapshot from the leader, unless it is stale.
    fn install_snapshot(&mut self, index: LogIndex, term: Term, data: &Bytes) {
        if self.halted.is_some() || index <= self.applied {
            return;
        }
        match snapshot::decode(data, index) {
            Ok(state) => {
                self.state = if self.config.reports_applied() {
                    state
                } else {
                    state.without_running_digest()
                };
                self.applied = index;
                self.applied_term = term;
                let leader_hint = self.node.leader_hint();
                while let Some((_, waiter)) = self.waiting.pop_through(index) {
                    let outcome = Outcome::WrongLeader { leader_hint };
                    self.reply(waiter.reply_to, waiter.client, waiter.seq, outcome);
                }
                self.report_applied(AppliedSource::Snapshot);
            }
            Err(error) => self.halt(KvFatalError::InstalledSnapshot { index, error }),
        }
    }

    fn halt(&mut self, error: KvFatalError) {
        for waiter in self.waiting.take_all() {
            let outcome = Outcome::WrongLeader { leader_hint: None };
            self.reply(waiter.reply_to, waiter.client, waiter.seq, outcome);
        }
        for waiter in self.reads.take_all() {
            let outcome = Outcome::WrongLeader { leader_hint: None };
            self.reply(waiter.reply_to, waiter.client, waiter.seq, outcome);
        }
        self.actions.push(ServerAction::Halted(error.clone()));
        self.halted = Some(error);
    }

    /// The end of every step: waiters of a term this server no longer leads are sent
    /// elsewhere at once, and a large raft state is snapshotted.
    fn settle(&mut self) {
        if self.halted.is_some() {
            return;
        }
        if let Some(term) = self.waiting.term() {
            let lost = !self.node.is_leader() || self.node.term() != term;
            if lost && !self.config.has(KvBug::KeepStaleWaiters) {
                self.drop_waiters();
            }
        }
        self.answer_reads();
        self.maybe_snapshot();
    }

    /// Sends every waiting client elsewhere.
    fn drop_waiters(&mut self) {
        let leader_hint = self.node.leader_hint();
        for waiter in self.waiting.take_all() {
            let outcome = Outcome::WrongLeader { leader_hint };
            self.reply(waiter.reply_to, waiter.client, waiter.seq, outcome);
        }
    }

    fn maybe_snapshot(&mut self) {
        let Some(threshold) = self.config.snapshot_threshold_bytes() else {
            return;
        };
        if self.node.raft_state_size() < threshold || self.applied <= self.node.snapshot_index() {
            return;
        }
        let data = self.snapshot_data();
        let input = raft_core::Input::Snapshot {
            index: self.applied,
            data,
        };
        self.step_raft(input, &[]);
    }

    /// The snapshot of the applied state (with the planted snapshot bugs: without the
    /// duplicate table, or of the state cached at the first snapshot).
    fn snapshot_data(&mut self) -> Bytes {
        let clients = !self.config.has(KvBug::SnapshotWithoutDuplicates);
        #[cfg(feature = "test-hooks")]
        if self.config.has(KvBug::StaleSnapshot) {
            let cached = self.stale.get_or_insert_with(|| self.state.clone());
            return snapshot::encode_with(cached, self.applied, clients);
        }
        snapshot::encode_with(&self.state, self.applied, clients)
    }

    fn reply(&mut self, to: ClientAddr, client: ClientId, seq: Seq, outcome: Outcome) {
        let reply = Reply {
            client,
            seq,
            outcome,
        };
        self.actions.push(ServerAction::Reply { to, reply });
    }

    fn report_applied(&mut self, source: AppliedSource) {
        if !self.config.reports_applied() {
            return;
        }
        self.actions.push(ServerAction::Applied(Applied {
            index: self.applied,
            term: self.applied_term,
            digest: self.state.digest(),
            source,
        }));
    }

    /// The Raft node inside (for checkers and drivers: term, role, log, sizes).
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// This server's Raft id.
    pub fn id(&self) -> NodeId {
        self.node.id()
    }

    /// The configuration.
    pub fn config(&self) -> &KvConfig {
        &self.config
    }

    /// The last index the state machine applied (an entry or a snapshot).
    pub fn applied_index(&self) -> LogIndex {
        self.applied
    }

    /// The term of the entry at [`KvServer::applied_index`].
    pub fn applied_term(&self) -> Term {
        self.applied_term
    }

    /// The digest of the state at [`KvServer::applied_index`] (O(state) for a server
    /// configured without [`KvConfigBuilder::report_applied`](crate::KvConfigBuilder::report_applied)).
    pub fn digest(&self) -> StateDigest {
        self.state.digest()
    }

    /// The value of `key` in this server's applied state (`None` if never written). A
    /// local look-up for tests and checkers, not a linearizable read.
    pub fn applied_value(&self, key: &str) -> Option<&str> {
        self.state.get(key)
    }

    /// The highest sequence number of `client` this server's state has applied.
    pub fn applied_seq(&self, client: ClientId) -> Option<Seq> {
        self.state.last_seq(client)
    }

    /// How many keys the map holds.
    pub fn key_count(&self) -> usize {
        self.state.key_count()
    }

    /// How many clients the duplicate table remembers.
    pub fn client_count(&self) -> usize {
        self.state.client_count()
    }

    /// How many clients wait for an answer from this server.
    pub fn waiting_count(&self) -> usize {
        self.waiting.len()
    }

    /// How many Gets wait for a ReadIndex confirmation or for the state machine.
    pub fn pending_reads(&self) -> usize {
        self.reads.len()
    }

    /// The encoded snapshot of the current state, as the server would hand it to Raft.
    pub fn encode_snapshot(&self) -> Bytes {
        snapshot::encode(&self.state, self.applied)
    }

    /// Why the server halted, if it did (see [`KvFatalError`]).
    pub fn halted(&self) -> Option<&KvFatalError> {
        self.halted.as_ref()
    }

    /// Checks the server's invariants, Raft's included; a violation is a bug in these
    /// crates. It recomputes the digest from scratch, so it costs O(state): for tests and
    /// simulators, not for every step of a production server.
    pub fn check_invariants(&self) -> Result<(), String> {
        self.node.check_invariants()?;
        if self.halted.is_none()
            && self.applied != self.node.applied_index()
            && !self.config.has(KvBug::RestartForgetsApplied)
        {
            return Err(format!(
                "applied {} but raft applied {}",
                self.applied,
                self.node.applied_index()
            ));
        }
        if self.state.has_running_digest() && self.state.digest() != self.state.recompute_digest() {
            return Err("the running digest differs from the digest of the state".into());
        }
        if let Some(first) = self.waiting.first_index() {
            if first <= self.applied {
                return Err(format!("a client waits for {first}, already applied"));
            }
        }
        if let Some(term) = self.waiting.term() {
            let lost = !self.node.is_leader() || self.node.term() != term;
            if lost && !self.config.has(KvBug::KeepStaleWaiters) {
                return Err(format!(
                    "clients wait on term {term}, which this server does not lead"
                ));
            }
        }
        Ok(())
    }
}
