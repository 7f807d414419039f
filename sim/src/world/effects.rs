//! Carrying out the effects of one server step, in order (a crash point may cut them
//! short), and the checks that run after each step: the election rules on what the step
//! sent, then the commit rule, the persisted size, Raft safety, the node's queries and a
//! KV server's own invariants.

use bytes::Bytes;
use raft_core::{Apply, PersistedState};

use super::{Effect, Process, World};
use crate::checkers::election::BeforeStep;
use crate::checkers::{commit, queries};
use crate::crash::StepKind;

impl World {
    /// Counts the elections a step started and checks the election rules. An election
    /// is a step that raises the node's term and asks for votes; a candidate asking
    /// silent peers again in the same term starts none.
    pub(super) fn observe_elections(&mut self, i: usize, before: BeforeStep, effects: &[Effect]) {
        self.stats.pre_votes += u64::from(StepKind::PreVote.matches(effects));
        let Some(process) = self.servers[i].process.as_ref() else {
            return;
        };
        let new_term = process.node().term() > before.term();
        self.stats.elections += u64::from(new_term && StepKind::Campaign.matches(effects));
        if let Err(e) = self.elections.observe(i, before, effects, process.node()) {
            self.fail(e);
        }
    }

    /// Carries out a step's effects in order, crashing the server after the first `cut`
    /// of them if asked.
    pub(super) fn carry_out(
        &mut self,
        i: usize,
        effects: Vec<Effect>,
        cut: Option<usize>,
    ) -> CarriedOut {
        let now = self.now;
        let mut carried = CarriedOut::default();
        for (position, effect) in effects.into_iter().enumerate() {
            if cut == Some(position) {
                self.trace
                    .line(|| format!("{now:>8} s{i} crash after {position} actions"));
                self.crash(i);
                carried.snapshot_request = None;
                carried.crashed = true;
                return carried;
            }
            self.trace.line(|| format!("{now:>8} s{i} > {effect}"));
            self.carry_out_one(i, effect, &mut carried);
        }
        carried
    }

    fn carry_out_one(&mut self, i: usize, effect: Effect, carried: &mut CarriedOut) {
        match effect {
            Effect::Persist(persist) => {
                self.trace.mix(&[1]);
                if let Err(e) = self.servers[i].persister.apply(&persist) {
                    self.fail(format!("server {i} persist action does not apply: {e}"));
                }
            }
            Effect::Send(message) => self.send(i, &message),
            Effect::Apply(Apply::Entries(entries)) => {
                for entry in &entries {
                    let (index, term) = (entry.index().0, entry.term().0);
                    self.trace.mix(&[2, index, term]);
                    self.service_index[i] = index;
                    match self.applier.on_entry(i, index, entry.data()) {
                        Ok(Some(snapshot)) => carried.snapshot_request = Some((index, snapshot)),
                        Ok(None) => {}
                        Err(e) => self.fail(e),
                    }
                }
            }
            Effect::Apply(Apply::Snapshot { index, term, data }) => {
                self.trace.mix(&[3, index.0, term.0]);
                self.service_index[i] = index.0;
                carried.snapshot_request = None;
                if let Err(e) = self.applier.on_snapshot(i, index.0, &data) {
                    self.fail(e);
                }
            }
            Effect::Proposal(answer) => {
                self.trace.mix(&[4, u64::from(answer.is_ok())]);
                carried.proposal = Some(answer);
            }
            Effect::SnapshotTaken(taken) => self.trace.mix(&[5, u64::from(taken)]),
            Effect::Read { context, outcome } => {
                let index = outcome.map_or(0, |index| index.0);
                self.trace.mix(&[8, context, index]);
                if let Some(process) = self.servers[i].process.as_ref() {
                    let answered = self.reads.on_answer(i, context, outcome, process.node());
                    if let Err(e) = answered {
                        self.fail(e);
                    }
                }
            }
            Effect::Transfer(outcome) => self.trace.mix(&[9, u64::from(outcome.is_ok())]),
            Effect::Reply { to, reply } => self.send_reply(i, to, &reply),
            Effect::Applied(applied) => {
                self.trace.mix(&[16, applied.index.0, applied.digest.0]);
                if let Err(e) = self.kv.agreement.observe(i, &applied) {
                    self.fail(e);
                }
            }
            Effect::Halted(error) => self.fail(format!("server {i} halted: {error}")),
        }
    }

    pub(super) fn after_step(&mut self, i: usize, commit_before: raft_core::LogIndex) {
        let Some(process) = self.servers[i].process.as_ref() else {
            return;
        };
        let node = process.node();
        self.reads.observe_commit(node.commit_index());
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
        // A KV server's state machine is its service: it holds what its node applied.
        let service_index = match process {
            Process::Raft(_) => self.service_index[i],
            Process::Kv(_) => node.applied_index().0,
        };
        let checked = self
            .safety
            .observe(i, node)
            .and_then(|()| queries::check(i, node, persisted, service_index));
        if let Err(e) = checked {
            return self.fail(e);
        }
        if let Process::Kv(server) = process {
            if let Err(e) = server.check_invariants() {
                return self.fail(format!("kv invariant broken on server {i}: {e}"));
            }
            let snapshot = self.servers[i].persister.snapshot_data().len();
            self.stats.max_snapshot = self.stats.max_snapshot.max(snapshot);
        }
    }
}

/// What carrying out one step's effects gave.
#[derive(Default)]
pub(super) struct CarriedOut {
    /// The answer to a proposal, if the step had one.
    pub(super) proposal: Option<Result<raft_core::Proposed, raft_core::ProposeError>>,
    /// The tester snapshot (index, bytes) the applies call for.
    pub(super) snapshot_request: Option<(u64, Bytes)>,
    /// Whether the server crashed part-way.
    pub(super) crashed: bool,
}
