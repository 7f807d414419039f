//! The in-test host of KV servers: server slots with their persisted images, crash and
//! restart, and the checks every step runs (invariants, persisted image agreeing with the
//! node, digest agreement at equal applied indexes, the raft state bound).
//!
//! [`fifo::Fifo`] adds a lossless FIFO network for targeted tests; [`world::World`] adds
//! simulated time, a seeded faulty network and clerks with workloads. Server `i` (from
//! 0) has Raft id `i + 1`. Run a test with `KV_TRACE=1` to print every step.
#![allow(dead_code)] // each test crate uses a different part of the shared module

pub mod fifo;
pub mod world;

use std::collections::BTreeMap;

use kv_core::{
    Applied, ClientAddr, KvConfig, KvFatalError, KvRestoreError, KvServer, Reply, ServerAction,
    ServerInput, StateDigest,
};
use raft_core::{Config, ConfigBuilder, LogIndex, Message, NodeId, PersistedState, Term};

/// The Raft id of server `i`.
pub fn id(i: usize) -> NodeId {
    NodeId(i as u64 + 1)
}

/// The server position of Raft id `id`.
pub fn position(id: NodeId) -> usize {
    (id.0 - 1) as usize
}

/// The Raft ids of `n` servers.
pub fn ids(n: usize) -> Vec<NodeId> {
    (0..n).map(id).collect()
}

/// What one step of a server produced for the network, in order.
#[derive(Debug, Default)]
pub struct StepOutput {
    /// Raft messages to peers.
    pub sends: Vec<Message>,
    /// Replies to clients.
    pub replies: Vec<(ClientAddr, Reply)>,
    /// Applied reports.
    pub applied: Vec<Applied>,
}

/// N KV servers, their durable images and the checks.
pub struct Cluster {
    kv_config: KvConfig,
    raft_configs: Vec<Config>,
    servers: Vec<Option<KvServer>>,
    persisted: Vec<PersistedState>,
    /// The (term, digest) every server reported at each applied index.
    agreed: BTreeMap<LogIndex, (Term, StateDigest)>,
    /// Crash server `.0` after `.1` actions of its next step.
    crash_mid_step: Option<(usize, usize)>,
    /// The largest persisted raft state any server had after a step.
    pub max_raft_state_seen: usize,
    /// The largest persisted snapshot any server had.
    pub max_snapshot_seen: usize,
    /// Snapshots persisted, over all servers.
    pub snapshots_persisted: usize,
    /// Halts reported (server, error).
    pub halts: Vec<(usize, KvFatalError)>,
    /// Steps taken, over all servers.
    pub steps: u64,
    trace: bool,
}

impl Cluster {
    /// `n` fresh servers with the same KV configuration; `adjust` tunes each Raft config
    /// (whose seed is `seed * 1000 + id`, wrapping).
    pub fn new(
        n: usize,
        seed: u64,
        kv_config: KvConfig,
        adjust: impl Fn(ConfigBuilder) -> ConfigBuilder,
    ) -> Cluster {
        let raft_configs: Vec<Config> = (0..n)
            .map(|i| {
                let builder = Config::builder(id(i), ids(n))
                    .seed(seed.wrapping_mul(1000).wrapping_add(id(i).0))
                    .no_op_on_election(true);
                adjust(builder).build().expect("valid raft config")
            })
            .collect();
        let servers = raft_configs
            .iter()
            .map(|raft| Some(KvServer::new(kv_config.clone(), raft.clone())))
            .collect();
        Cluster {
            kv_config,
            raft_configs,
            servers,
            persisted: vec![PersistedState::new(); n],
            agreed: BTreeMap::new(),
            crash_mid_step: None,
            max_raft_state_seen: 0,
            max_snapshot_seen: 0,
            snapshots_persisted: 0,
            halts: Vec::new(),
            steps: 0,
            trace: std::env::var_os("KV_TRACE").is_some(),
        }
    }

    /// The number of servers.
    pub fn len(&self) -> usize {
        self.servers.len()
    }

    /// The running server `i`.
    pub fn server(&self, i: usize) -> &KvServer {
        self.servers[i]
            .as_ref()
            .unwrap_or_else(|| panic!("s{i} is not running"))
    }

    /// Whether server `i` runs.
    pub fn is_up(&self, i: usize) -> bool {
        self.servers[i].is_some()
    }

    /// The positions of the running servers.
    pub fn live(&self) -> Vec<usize> {
        (0..self.len()).filter(|&i| self.is_up(i)).collect()
    }

    /// What server `i` persisted.
    pub fn persisted(&self, i: usize) -> &PersistedState {
        &self.persisted[i]
    }

    /// Replaces what server `i` persisted (a test forging a disk).
    pub fn set_persisted(&mut self, i: usize, persisted: PersistedState) {
        self.persisted[i] = persisted;
    }

    /// The KV configuration.
    pub fn kv_config(&self) -> &KvConfig {
        &self.kv_config
    }

    /// The running leader of the highest term, if any.
    pub fn leader(&self) -> Option<usize> {
        self.live()
            .into_iter()
            .filter(|&i| self.server(i).node().is_leader())
            .max_by_key(|&i| self.server(i).node().term())
    }

    /// Server `i` loses its volatile state; what it persisted stays.
    pub fn crash(&mut self, i: usize) {
        self.servers[i] = None;
    }

    /// The next step of server `i` is cut after `keep` actions, and the server crashes.
    pub fn crash_mid_next_step(&mut self, i: usize, keep: usize) {
        self.crash_mid_step = Some((i, keep));
    }

    /// Server `i` restarts from what it persisted.
    pub fn restart(&mut self, i: usize) -> Result<(), KvRestoreError> {
        let server = KvServer::restore(
            self.kv_config.clone(),
            self.raft_configs[i].clone(),
            &self.persisted[i],
        )?;
        assert_eq!(server.applied_index(), self.persisted[i].snapshot_index());
        server
            .check_invariants()
            .expect("a restored server is consistent");
        if let Some(&(term, digest)) = self.agreed.get(&server.applied_index()) {
            assert_eq!(
                (term, digest),
                (server.applied_term(), server.digest()),
                "s{i} restored a state that differs from what others applied there"
            );
        }
        self.servers[i] = Some(server);
        Ok(())
    }

    /// Feeds one input to server `i`, carries out the actions in order (persisting into its
    /// image), runs the checks, and returns what goes on the network. A crash armed with
    /// [`Cluster::crash_mid_next_step`] cuts the step short.
    pub fn step(&mut self, i: usize, input: ServerInput) -> StepOutput {
        let server = self.servers[i]
            .as_mut()
            .unwrap_or_else(|| panic!("stepping s{i}, which is not running"));
        if self.trace {
            eprintln!("s{i} <- {}", describe_input(&input));
        }
        let actions = server.step(input);
        self.steps += 1;
        let keep = match self.crash_mid_step {
            Some((server, keep)) if server == i => {
                self.crash_mid_step = None;
                Some(keep)
            }
            _ => None,
        };
        let mut output = StepOutput::default();
        for (position, action) in actions.into_iter().enumerate() {
            if keep == Some(position) {
                if self.trace {
                    eprintln!("s{i} crashes after {position} actions");
                }
                self.crash(i);
                return output;
            }
            if self.trace {
                eprintln!("s{i}    {}", describe_action(&action));
            }
            self.carry_out(i, action, &mut output);
        }
        if keep.is_some() {
            self.crash(i);
            return output;
        }
        self.check(i);
        output
    }

    fn carry_out(&mut self, i: usize, action: ServerAction, output: &mut StepOutput) {
        match action {
            ServerAction::Persist(change) => {
                if matches!(change, raft_core::PersistAction::Snapshot { .. }) {
                    self.snapshots_persisted += 1;
                }
                self.persisted[i]
                    .apply(&change)
                    .expect("a persist action applies to the image");
                let snapshot = self.persisted[i].snapshot_data().len();
                self.max_snapshot_seen = self.max_snapshot_seen.max(snapshot);
            }
            ServerAction::Send(message) => output.sends.push(message),
            ServerAction::Reply { to, reply } => output.replies.push((to, reply)),
            ServerAction::Transfer(_) => {}
            ServerAction::Applied(applied) => {
                let agreed = *self
                    .agreed
                    .entry(applied.index)
                    .or_insert((applied.term, applied.digest));
                assert_eq!(
                    agreed,
                    (applied.term, applied.digest),
                    "s{i} disagrees at {} (digest/term)",
                    applied.index
                );
                output.applied.push(applied);
            }
            ServerAction::Halted(error) => self.halts.push((i, error)),
        }
    }

    fn check(&mut self, i: usize) {
        let server = self.servers[i].as_ref().expect("running");
        if let Err(violation) = server.check_invariants() {
            panic!("s{i}: {violation}");
        }
        let node = server.node();
        let persisted = &self.persisted[i];
        assert_eq!(node.term(), persisted.term(), "s{i} term is durable");
        assert_eq!(
            node.voted_for(),
            persisted.voted_for(),
            "s{i} vote is durable"
        );
        assert_eq!(node.last_log_index(), persisted.last_index());
        assert_eq!(node.snapshot_index(), persisted.snapshot_index());
        assert_eq!(node.raft_state_size(), persisted.raft_state_size());
        let size = persisted.raft_state_size();
        self.max_raft_state_seen = self.max_raft_state_seen.max(size);
        if let Some(max) = self.kv_config.max_raft_state() {
            assert!(
                size <= 2 * max,
                "s{i} persists {size} bytes of raft state, above 2 × {max}"
            );
        }
    }

    /// Whether every running server has applied the same index with the same digest.
    pub fn converged(&self) -> bool {
        let live = self.live();
        let Some(&first) = live.first() else {
            return true;
        };
        let reference = self.server(first);
        live.iter().all(|&i| {
            let server = self.server(i);
            server.applied_index() == reference.applied_index()
                && server.digest() == reference.digest()
        })
    }

    /// The (term, digest) agreed at `index`, if any server applied it.
    pub fn agreed_at(&self, index: LogIndex) -> Option<(Term, StateDigest)> {
        self.agreed.get(&index).copied()
    }
}

/// A short rendering of an input for traces.
pub fn describe_input(input: &ServerInput) -> String {
    match input {
        ServerInput::Tick => "tick".into(),
        ServerInput::Raft(message) => message.summary(),
        ServerInput::Request { from, request } => format!("request {from} {request}"),
        ServerInput::Requests(batch) => format!("{} requests", batch.len()),
        ServerInput::TransferLeadership { target } => format!("transfer to {target}"),
    }
}

fn describe_action(action: &ServerAction) -> String {
    match action {
        ServerAction::Persist(change) => format!("{}", raft_core::Action::Persist(change.clone())),
        ServerAction::Send(message) => format!("send {}", message.summary()),
        ServerAction::Reply { to, reply } => format!("reply {to} {reply}"),
        ServerAction::Applied(applied) => format!(
            "applied {}/{} {} {:?}",
            applied.index, applied.term, applied.digest, applied.source
        ),
        ServerAction::Halted(error) => format!("halted: {error}"),
        ServerAction::Transfer(outcome) => format!("transfer {outcome:?}"),
    }
}

/// An InstallSnapshot message from server `from` to server `to` (a forged or replayed
/// one). The only place the tests build a Raft message body.
pub fn install_snapshot(
    from: usize,
    to: usize,
    term: Term,
    index: LogIndex,
    snapshot_term: Term,
    data: raft_core::bytes::Bytes,
) -> Message {
    let body = raft_core::Body::InstallSnapshot(raft_core::InstallSnapshot::new(
        index,
        snapshot_term,
        data,
    ));
    Message::new(id(from), id(to), term, body)
}

/// Whether `message` is an InstallSnapshot.
pub fn is_install_snapshot(message: &Message) -> bool {
    matches!(message.body(), Some(raft_core::Body::InstallSnapshot(_)))
}

/// Whether `message` is an AppendEntries that carries entries.
pub fn carries_entries(message: &Message) -> bool {
    matches!(message.body(), Some(raft_core::Body::AppendEntries(append)) if !append.entries().is_empty())
}

/// A copy of `message` addressed to server `to` instead.
pub fn readdressed(message: &Message, to: usize) -> Message {
    let body = message.body().cloned().expect("a sent message has a body");
    Message::new(message.from(), id(to), message.term(), body)
}

/// A log entry (for tests that write a disk image by hand).
pub fn entry(index: u64, term: u64, data: &[u8]) -> raft_core::Entry {
    raft_core::Entry::new(
        LogIndex(index),
        Term(term),
        raft_core::bytes::Bytes::copy_from_slice(data),
    )
}
