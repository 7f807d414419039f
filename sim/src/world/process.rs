//! What runs on a simulated server: a bare Raft node (served by the lab's tester) or a
//! KV server, behind one interface, so the world drives both with the same loop.
//!
//! Each kind's actions are translated into [`Effect`]s, which the world carries out in
//! order: persist and send are common to both kinds; applies, proposal answers and
//! snapshot answers come from a bare node, client replies and applied digests from a KV
//! server; and how an input shows in the trace (its tag in the hash, its line).

use kv_core::{Applied, ClientAddr, KvConfig, KvFatalError, KvServer, Reply, ServerAction};
use raft_core::{
    Action, Apply, Config, Input, Message, Node, PersistAction, PersistedState, ProposeError,
    Proposed,
};

/// What the servers of a world run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Service {
    /// Bare Raft nodes; the lab's tester is their service (the Raft lab, parts 2A–2D).
    RaftLab,
    /// KV servers on Raft (the KV lab, parts 3A and 3B).
    Kv(KvConfig),
}

/// One running server process.
#[derive(Debug)]
pub enum Process {
    /// A bare Raft node.
    Raft(Box<Node>),
    /// A KV server (which owns its Raft node).
    Kv(Box<KvServer>),
}

/// An input to a server process.
#[derive(Debug)]
pub enum ProcessInput {
    /// One tick of logical time.
    Tick,
    /// A Raft message from a peer.
    Peer(Message),
    /// Any other input of a bare Raft node (proposals, snapshots from the tester); a KV
    /// server takes only `TransferLeadership` of these.
    Raft(Input),
    /// A client request (KV servers only).
    Request {
        /// Where the answer goes.
        from: ClientAddr,
        /// The decoded request.
        request: kv_core::Request,
    },
}

/// One thing a server process wants done, in the order it must be done.
#[derive(Debug)]
pub enum Effect {
    /// Make durable before any later effect.
    Persist(PersistAction),
    /// Send to a peer server.
    Send(Message),
    /// A bare node hands something committed to the tester: a snapshot, or one entry
    /// (a run of several is one effect per entry, so that a crash may cut between them).
    Apply(Apply),
    /// A bare node answers a proposal.
    Proposal(Result<Proposed, ProposeError>),
    /// A bare node answers a snapshot handed to it.
    SnapshotTaken(bool),
    /// A bare node answers a ReadIndex read.
    Read {
        /// The caller's context.
        context: u64,
        /// The read index, or why not.
        outcome: Result<raft_core::LogIndex, raft_core::ReadError>,
    },
    /// A bare node answers a leadership transfer request.
    Transfer(Result<raft_core::NodeId, raft_core::TransferError>),
    /// A KV server answers a client.
    Reply {
        /// The client's address.
        to: ClientAddr,
        /// The answer.
        reply: Reply,
    },
    /// A KV server's state machine reached an index (for the agreement checker).
    Applied(Applied),
    /// A KV server stopped for good.
    Halted(KvFatalError),
}

impl Process {
    /// Starts (or restarts, from `persisted`) a process of `service` with `config`.
    pub fn start(
        service: &Service,
        config: Config,
        persisted: &PersistedState,
    ) -> Result<Process, String> {
        match service {
            Service::RaftLab => Node::restore(config, persisted)
                .map(|node| Process::Raft(Box::new(node)))
                .map_err(|e| e.to_string()),
            Service::Kv(kv_config) => KvServer::restore(kv_config.clone(), config, persisted)
                .map(|server| Process::Kv(Box::new(server)))
                .map_err(|e| e.to_string()),
        }
    }

    /// The Raft node inside.
    pub fn node(&self) -> &Node {
        match self {
            Process::Raft(node) => node,
            Process::Kv(server) => server.node(),
        }
    }

    /// The KV server, if this is one.
    pub fn kv(&self) -> Option<&KvServer> {
        match self {
            Process::Kv(server) => Some(server),
            Process::Raft(_) => None,
        }
    }

    /// Steps the process. An input the kind does not take (a client request to a bare
    /// node, a tester proposal to a KV server) is dropped and yields nothing; a
    /// leadership transfer goes to either kind.
    pub fn step(&mut self, input: ProcessInput) -> Vec<Effect> {
        match self {
            Process::Raft(node) => {
                let input = match input {
                    ProcessInput::Tick => Input::Tick,
                    ProcessInput::Peer(message) => Input::Message(message),
                    ProcessInput::Raft(input) => input,
                    ProcessInput::Request { .. } => return Vec::new(),
                };
                let mut effects = Vec::new();
                for action in node.step(input) {
                    match action {
                        Action::Apply(Apply::Entries(run)) => effects.extend(
                            (0..run.len())
                                .map(|i| Effect::Apply(Apply::Entries(run.slice(i..i + 1)))),
                        ),
                        action => effects.push(raft_effect(action)),
                    }
                }
                effects
            }
            Process::Kv(server) => {
                let input = match input {
                    ProcessInput::Tick => kv_core::ServerInput::Tick,
                    ProcessInput::Peer(message) => kv_core::ServerInput::Raft(message),
                    ProcessInput::Request { from, request } => {
                        kv_core::ServerInput::Request { from, request }
                    }
                    // The operator's transfer request (kv-core's TransferLeadership).
                    ProcessInput::Raft(Input::TransferLeadership { target }) => {
                        kv_core::ServerInput::TransferLeadership { target }
                    }
                    ProcessInput::Raft(_) => return Vec::new(),
                };
                server.step(input).into_iter().map(kv_effect).collect()
            }
        }
    }

    /// The process's own invariants beyond its node's (a KV server's state machine).
    pub fn check_invariants(&self) -> Result<(), String> {
        match self {
            Process::Raft(node) => node.check_invariants(),
            Process::Kv(server) => server.check_invariants(),
        }
    }
}

fn raft_effect(action: Action) -> Effect {
    match action {
        Action::Persist(persist) => Effect::Persist(persist),
        Action::Send(message) => Effect::Send(message),
        Action::Apply(apply) => Effect::Apply(apply),
        Action::Proposal(answer) => Effect::Proposal(answer),
        Action::Snapshot(answer) => Effect::SnapshotTaken(answer.is_ok()),
        Action::Read { context, outcome } => Effect::Read { context, outcome },
        Action::Transfer(outcome) => Effect::Transfer(outcome),
    }
}

fn kv_effect(action: ServerAction) -> Effect {
    match action {
        ServerAction::Persist(persist) => Effect::Persist(persist),
        ServerAction::Send(message) => Effect::Send(message),
        ServerAction::Reply { to, reply } => Effect::Reply { to, reply },
        ServerAction::Applied(applied) => Effect::Applied(applied),
        ServerAction::Halted(error) => Effect::Halted(error),
        ServerAction::Transfer(outcome) => Effect::Transfer(outcome),
    }
}

impl std::fmt::Display for Effect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Effect::Persist(persist) => Action::Persist(persist.clone()).fmt(f),
            Effect::Send(message) => write!(f, "send {}", message.summary()),
            Effect::Apply(apply) => Action::Apply(apply.clone()).fmt(f),
            Effect::Proposal(answer) => Action::Proposal(*answer).fmt(f),
            Effect::SnapshotTaken(taken) => write!(f, "snapshot taken={taken}"),
            Effect::Read { context, outcome } => Action::Read {
                context: *context,
                outcome: *outcome,
            }
            .fmt(f),
            Effect::Transfer(outcome) => Action::Transfer(*outcome).fmt(f),
            Effect::Reply { to, reply } => write!(
                f,
                "reply c{} client={} seq={} {:?}",
                to.0, reply.client.0, reply.seq.0, reply.outcome
            ),
            Effect::Applied(applied) => write!(
                f,
                "kv applied {}/{} digest={:016x}",
                applied.index, applied.term, applied.digest.0
            ),
            Effect::Halted(error) => write!(f, "kv halted: {error}"),
        }
    }
}

/// The input's tag in the trace hash.
pub(super) fn input_tag(input: &ProcessInput) -> u64 {
    match input {
        ProcessInput::Tick | ProcessInput::Raft(Input::Tick) => 10,
        ProcessInput::Peer(_) | ProcessInput::Raft(Input::Message(_)) => 11,
        ProcessInput::Raft(Input::Propose(_)) => 12,
        ProcessInput::Raft(Input::ProposeBatch(_)) => 13,
        ProcessInput::Raft(Input::Snapshot { .. }) => 14,
        ProcessInput::Request { .. } => 15,
        ProcessInput::Raft(Input::ReadIndex { .. }) => 17,
        ProcessInput::Raft(Input::TransferLeadership { .. }) => 18,
    }
}

/// The input as a trace line shows it.
pub(super) fn describe_input(input: &ProcessInput) -> String {
    match input {
        ProcessInput::Tick | ProcessInput::Raft(Input::Tick) => "tick".into(),
        ProcessInput::Peer(message) | ProcessInput::Raft(Input::Message(message)) => {
            format!("recv {}", message.summary())
        }
        ProcessInput::Raft(Input::Propose(data)) => {
            format!("propose {}", crate::applier::show(data))
        }
        ProcessInput::Raft(Input::ProposeBatch(batch)) => {
            format!("propose batch of {}", batch.len())
        }
        ProcessInput::Raft(Input::Snapshot { index, data }) => {
            format!("snapshot {index} bytes={}", data.len())
        }
        ProcessInput::Raft(Input::ReadIndex { context }) => format!("read {context}"),
        ProcessInput::Raft(Input::TransferLeadership { target }) => format!("transfer to {target}"),
        ProcessInput::Request { from, request } => format!(
            "request from c{} client={} seq={} {:?}",
            from.0, request.client.0, request.seq.0, request.op
        ),
    }
}
