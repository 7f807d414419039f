//! [`Clerk`]: the client of a KV cluster as a pure state machine.
//!
//! One call is in flight at a time (later calls wait in a queue, in order). Every attempt
//! of a call carries the same (client id, seq), so servers apply it at most once. The
//! clerk sends to the server that answered its last call, follows leader hints, moves on
//! to the next server after a `WrongLeader` or after `retry_timeout_ticks` ticks of
//! silence, and never gives up. Replies for another client, another call or no call are
//! ignored.
//!
//! Retries, in ticks:
//! - `WrongLeader` from the server it last sent to: send at once to the hinted server, or
//!   to the next one in the list. After as many such hops as there are servers without an
//!   answer (an election in progress, say), it waits for the timeout before the next
//!   send, so a leaderless cluster costs one round of messages per timeout, not a storm.
//! - `retry_timeout_ticks` ticks without an answer: send to the next server.
//! - `Ok`: the call is done; that server is the leader to try first next time.
//! - `Refused`: the call is done, with the refusal as its result.

use std::collections::VecDeque;

use raft_core::NodeId;

use crate::proto::{Op, OpKind, Outcome, Refusal, Reply, Request};
use crate::types::{ClientId, Seq};

/// Why a [`ClerkConfig`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClerkConfigError {
    /// A clerk needs at least one server.
    #[error("a clerk needs at least one server")]
    NoServers,
    /// A server appears twice in the list.
    #[error("server {0} is listed twice")]
    DuplicateServer(NodeId),
    /// The retry timeout must be at least one tick.
    #[error("the retry timeout must be at least one tick")]
    ZeroTimeout,
}

/// A clerk's static configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClerkConfig {
    client: ClientId,
    servers: Vec<NodeId>,
    retry_timeout_ticks: u32,
}

/// The builder for [`ClerkConfig`]; the retry timeout defaults to 10 ticks (100 ms at
/// the simulator's 10 ms ticks: above a commit's round trips on a healthy network, short
/// enough that a lost request costs little).
#[derive(Clone, Debug)]
pub struct ClerkConfigBuilder(ClerkConfig);

impl ClerkConfigBuilder {
    /// Ticks without an answer before the clerk tries the next server.
    #[must_use]
    pub fn retry_timeout_ticks(mut self, ticks: u32) -> Self {
        self.0.retry_timeout_ticks = ticks;
        self
    }

    /// Validates and builds the configuration.
    pub fn build(self) -> Result<ClerkConfig, ClerkConfigError> {
        let config = self.0;
        if config.servers.is_empty() {
            return Err(ClerkConfigError::NoServers);
        }
        for (position, server) in config.servers.iter().enumerate() {
            if config.servers[..position].contains(server) {
                return Err(ClerkConfigError::DuplicateServer(*server));
            }
        }
        if config.retry_timeout_ticks == 0 {
            return Err(ClerkConfigError::ZeroTimeout);
        }
        Ok(config)
    }
}

impl ClerkConfig {
    /// Starts a configuration for client `client` talking to `servers`, tried in the
    /// given order (the first call goes to the first server). The client id must be
    /// unique and never reused by another clerk.
    pub fn builder(
        client: ClientId,
        servers: impl IntoIterator<Item = NodeId>,
    ) -> ClerkConfigBuilder {
        ClerkConfigBuilder(ClerkConfig {
            client,
            servers: servers.into_iter().collect(),
            retry_timeout_ticks: 10,
        })
    }

    /// The client id.
    pub fn client(&self) -> ClientId {
        self.client
    }

    /// The servers, in the order the clerk tries them.
    pub fn servers(&self) -> &[NodeId] {
        &self.servers
    }

    /// Ticks without an answer before the clerk tries the next server.
    pub fn retry_timeout_ticks(&self) -> u32 {
        self.retry_timeout_ticks
    }
}

/// Something that happens to a clerk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClerkInput {
    /// The application calls Get, Put or Append. It starts at once if no call is in
    /// flight; otherwise it waits for the calls before it.
    Call(Op),
    /// A server's reply arrived.
    Reply {
        /// The server that sent it.
        from: NodeId,
        /// The reply.
        reply: Reply,
    },
    /// One unit of logical time passed.
    Tick,
}

/// Something the clerk's driver must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClerkAction {
    /// Send `request` to server `to`.
    Send {
        /// The server to send to.
        to: NodeId,
        /// The request.
        request: Request,
    },
    /// A call finished.
    Done(Completion),
}

/// The result of one call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    /// The call's sequence number.
    pub seq: Seq,
    /// What the call was.
    pub kind: OpKind,
    /// The value a Get read (`Some`, `""` for a missing key); `None` for a Put or an
    /// Append; or the refusal of a request that breaks a server limit.
    pub result: Result<Option<String>, Refusal>,
}

/// The call in flight.
#[derive(Clone, Debug)]
struct InFlight {
    seq: Seq,
    op: Op,
    /// The position of the server the last attempt went (or goes) to.
    target: usize,
    ticks_since_send: u32,
    /// Sends prompted by `WrongLeader` since the last timeout.
    hops: usize,
    /// Waiting for the timeout before sending to `target`.
    parked: bool,
}

/// The client state machine. See the module docs for its retry rules.
#[derive(Clone, Debug)]
pub struct Clerk {
    config: ClerkConfig,
    next_seq: Seq,
    /// The position of the server that answered the last call.
    leader: usize,
    call: Option<InFlight>,
    queued: VecDeque<Op>,
    actions: Vec<ClerkAction>,
}

impl Clerk {
    /// A clerk with no call made yet; its first call has seq 1.
    pub fn new(config: ClerkConfig) -> Clerk {
        Clerk {
            config,
            next_seq: Seq(1),
            leader: 0,
            call: None,
            queued: VecDeque::new(),
            actions: Vec::new(),
        }
    }

    /// Feeds one input to the clerk and returns what the driver must do, in order.
    /// Deterministic; no I/O happens inside.
    pub fn step(&mut self, input: ClerkInput) -> Vec<ClerkAction> {
        let mut actions = Vec::new();
        self.step_into(input, &mut actions);
        actions
    }

    /// [`Clerk::step`], appending the actions to `actions` instead of returning them, so
    /// that a driver can reuse one buffer from step to step.
    pub fn step_into(&mut self, input: ClerkInput, actions: &mut Vec<ClerkAction>) {
        debug_assert!(self.actions.is_empty(), "actions left from an earlier step");
        std::mem::swap(&mut self.actions, actions);
        match input {
            ClerkInput::Call(op) => {
                self.queued.push_back(op);
                if self.call.is_none() {
                    self.start_next();
                }
            }
            ClerkInput::Reply { from, reply } => self.receive(from, reply),
            ClerkInput::Tick => self.tick(),
        }
        std::mem::swap(&mut self.actions, actions);
    }

    fn start_next(&mut self) {
        let Some(op) = self.queued.pop_front() else {
            return;
        };
        let seq = self.next_seq;
        self.next_seq = seq.next();
        self.call = Some(InFlight {
            seq,
            op,
            target: self.leader,
            ticks_since_send: 0,
            hops: 0,
            parked: false,
        });
        self.send();
    }

    fn tick(&mut self) {
        let servers = self.config.servers.len();
        let timeout = self.config.retry_timeout_ticks;
        let Some(call) = &mut self.call else {
            return;
        };
        call.ticks_since_send += 1;
        if call.ticks_since_send < timeout {
            return;
        }
        if !call.parked {
            call.target = (call.target + 1) % servers;
        }
        call.parked = false;
        call.hops = 0;
        self.send();
    }

    fn receive(&mut self, from: NodeId, reply: Reply) {
        let Some(call) = &self.call else {
            return;
        };
        if reply.client != self.config.client || reply.seq != call.seq {
            return;
        }
        let from_position = self.position(from);
        match reply.outcome {
            Outcome::Ok { value } => {
                self.leader = from_position.unwrap_or(call.target);
                let result = match call.op.kind() {
                    OpKind::Get => Some(value),
                    OpKind::Put | OpKind::Append => None,
                };
                self.finish(Ok(result));
            }
            Outcome::Refused(refusal) => self.finish(Err(refusal)),
            Outcome::WrongLeader { leader_hint } => {
                if call.parked || from_position != Some(call.target) {
                    return; // advice about an earlier attempt
                }
                let hinted = leader_hint
                    .filter(|&hint| hint != from)
                    .and_then(|hint| self.position(hint));
                self.redirect(hinted);
            }
        }
    }

    /// After a `WrongLeader` from the current target: go to `hinted` (or the next server),
    /// at once unless a whole round of hops went unanswered.
    fn redirect(&mut self, hinted: Option<usize>) {
        let servers = self.config.servers.len();
        let Some(call) = &mut self.call else {
            return;
        };
        call.target = hinted.unwrap_or((call.target + 1) % servers);
        if call.hops < servers {
            call.hops += 1;
            self.send();
        } else {
            call.parked = true;
            call.ticks_since_send = 0;
        }
    }

    fn finish(&mut self, result: Result<Option<String>, Refusal>) {
        if let Some(call) = self.call.take() {
            self.actions.push(ClerkAction::Done(Completion {
                seq: call.seq,
                kind: call.op.kind(),
                result,
            }));
        }
        self.start_next();
    }

    fn send(&mut self) {
        let Some(call) = &mut self.call else {
            return;
        };
        call.ticks_since_send = 0;
        let request = Request {
            client: self.config.client,
            seq: call.seq,
            op: call.op.clone(),
        };
        let to = self.config.servers[call.target];
        self.actions.push(ClerkAction::Send { to, request });
    }

    fn position(&self, server: NodeId) -> Option<usize> {
        self.config.servers.iter().position(|&s| s == server)
    }

    /// The configuration.
    pub fn config(&self) -> &ClerkConfig {
        &self.config
    }

    /// The client id.
    pub fn client(&self) -> ClientId {
        self.config.client
    }

    /// The sequence number of the call in flight, if any.
    pub fn in_flight(&self) -> Option<Seq> {
        self.call.as_ref().map(|call| call.seq)
    }

    /// The server the call in flight was last sent to (or will be sent to next).
    pub fn target(&self) -> Option<NodeId> {
        self.call
            .as_ref()
            .map(|call| self.config.servers[call.target])
    }

    /// The server that answered the last call (the first server before any call).
    pub fn leader_guess(&self) -> NodeId {
        self.config.servers[self.leader]
    }

    /// How many calls wait behind the one in flight.
    pub fn queued(&self) -> usize {
        self.queued.len()
    }
}
