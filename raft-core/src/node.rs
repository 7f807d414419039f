//! The Raft node: its state, the single entry point [`Node::step`], role transitions and
//! queries. Message handling per role lives in `election`, `replication` and `snapshot`;
//! CheckQuorum, ReadIndex and leadership transfer in modules of their own.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

use crate::action::{Action, Apply, Input};
use crate::assembly::Assembly;
use crate::check_quorum::Contact;
use crate::config::Config;
use crate::log::RaftLog;
use crate::message::{
    AppendEntriesReply, Body, Entry, InstallSnapshotReply, Message, RequestVoteReply,
};
use crate::persist::{header_record_len, PersistAction, PersistedState, StateError};
use crate::progress::Progress;
use crate::read_index::ReadQueue;
use crate::transfer::Transfer;
use crate::types::{LogIndex, NodeId, Term};

/// The role a node plays in its current term.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoleKind {
    /// Follows a leader (or waits for one).
    Follower,
    /// Asks whether it could win, before raising its term (pre-vote).
    PreCandidate,
    /// Asks for votes.
    Candidate,
    /// Leads the current term.
    Leader,
}

/// Role-only state: a follower cannot touch a stale `next_index`, and so on.
#[derive(Clone, Debug)]
pub(crate) enum Role {
    Follower(Follower),
    Candidate(Candidate),
    Leader(Leader),
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Follower {
    /// The leader heard from in the current term.
    pub(crate) leader: Option<NodeId>,
    /// The snapshot being received in chunks, if any.
    pub(crate) assembly: Option<Assembly>,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Candidate {
    /// A pre-vote round: the term is not raised and nothing is persisted.
    pub(crate) pre_vote: bool,
    /// The campaign of a leadership transfer's target.
    pub(crate) transfer: bool,
    pub(crate) granted: BTreeSet<NodeId>,
    pub(crate) refused: BTreeSet<NodeId>,
    /// In a pre-vote round after a real campaign of the current term: the real votes of
    /// that term granted so far (late answers still count, see `record_vote`).
    pub(crate) term_votes: BTreeSet<NodeId>,
}

#[derive(Clone, Debug)]
pub(crate) struct Leader {
    /// One entry per peer (never this node).
    pub(crate) progress: BTreeMap<NodeId, Progress>,
    pub(crate) heartbeat_elapsed: u32,
    /// When each peer last answered (CheckQuorum).
    pub(crate) contact: Contact,
    /// Heartbeat rounds and the reads waiting on them (ReadIndex).
    pub(crate) reads: ReadQueue,
    /// The leadership transfer under way.
    pub(crate) transfer: Option<Transfer>,
}

/// Why [`Node::restore`] refused a persisted state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestoreError {
    /// The state contradicts itself.
    #[error("persisted state is inconsistent: {0}")]
    State(#[from] StateError),
    /// The state names a vote for a node that is not a voter.
    #[error("persisted vote for {0}, which is not a voter")]
    UnknownVote(NodeId),
}

/// One Raft node as a pure state machine.
///
/// Everything that happens to the node is an [`Input`] to [`Node::step`]; everything it
/// wants done comes back as a list of [`Action`]s. See the crate docs for the contract.
#[derive(Clone, Debug)]
pub struct Node {
    pub(crate) config: Config,
    pub(crate) term: Term,
    pub(crate) voted_for: Option<NodeId>,
    pub(crate) log: RaftLog,
    /// The bytes of the snapshot the log starts after (empty if none).
    pub(crate) snapshot_data: Bytes,
    pub(crate) role: Role,
    pub(crate) election_elapsed: u32,
    pub(crate) election_timeout: u32,
    rng: ChaCha8Rng,
    /// Actions of the step in progress.
    pub(crate) actions: Vec<Action>,
}

impl Node {
    /// A fresh node with an empty log, a follower in term 0.
    pub fn new(config: Config) -> Node {
        Node::from_parts(config, Term::ZERO, None, RaftLog::default(), Bytes::new())
    }

    /// A node restarted from what it persisted. Its commit and applied indexes start at
    /// the snapshot index: the service restores itself from the snapshot bytes, then the
    /// node applies entries again as they are learned to be committed.
    pub fn restore(config: Config, persisted: &PersistedState) -> Result<Node, RestoreError> {
        persisted.validate()?;
        if let Some(vote) = persisted.voted_for() {
            if !config.is_voter(vote) {
                return Err(RestoreError::UnknownVote(vote));
            }
        }
        let log = RaftLog::restore(
            persisted.snapshot_index(),
            persisted.snapshot_term(),
            persisted.entries().iter().cloned(),
        );
        Ok(Node::from_parts(
            config,
            persisted.term(),
            persisted.voted_for(),
            log,
            persisted.snapshot_data().clone(),
        ))
    }

    fn from_parts(
        config: Config,
        term: Term,
        voted_for: Option<NodeId>,
        log: RaftLog,
        snapshot_data: Bytes,
    ) -> Node {
        let rng = ChaCha8Rng::seed_from_u64(config.seed());
        let mut node = Node {
            config,
            term,
            voted_for,
            log,
            snapshot_data,
            role: Role::Follower(Follower::default()),
            election_elapsed: 0,
            election_timeout: 0,
            rng,
            actions: Vec::new(),
        };
        node.reset_election_timer();
        node
    }

    /// Feeds one input to the node and returns what the driver must do, in order.
    ///
    /// Deterministic: the same configuration and the same inputs give the same actions.
    /// No I/O happens inside. Persist actions come before any send that depends on them;
    /// applies come exactly once and in index order.
    ///
    /// Stepping a request ([`Body::RequestVote`], [`Body::AppendEntries`],
    /// [`Body::InstallSnapshot`]) yields at most one reply, addressed to the request's
    /// sender, among this step's actions (none when the request is ignored, e.g. a
    /// malformed one). A request/response runtime (gRPC, labrpc) may therefore carry out
    /// the actions in order and return that reply as the call's response.
    pub fn step(&mut self, input: Input) -> Vec<Action> {
        let mut actions = Vec::new();
        self.step_into(input, &mut actions);
        actions
    }

    /// [`Node::step`] appending the actions to `actions` instead of returning a fresh
    /// `Vec`: a driver that clears and reuses one buffer allocates nothing per step.
    pub fn step_into(&mut self, input: Input, actions: &mut Vec<Action>) {
        // The step pushes onto the caller's buffer (and its capacity) directly.
        self.actions = std::mem::take(actions);
        #[cfg(debug_assertions)]
        let before = (self.term, self.log.committed(), self.log.applied());
        match input {
            Input::Tick => self.tick(),
            Input::Message(message) => self.receive(message),
            Input::Propose(data) => self.propose(std::iter::once(data)),
            Input::ProposeBatch(batch) => self.propose(batch.into_iter()),
            Input::Snapshot { index, data } => self.take_service_snapshot(index, data),
            Input::ReadIndex { context } => self.read_index(context),
            Input::TransferLeadership { target } => self.transfer_leadership(target),
        }
        self.apply_committed();
        // After the applies: a read answered in this step is already applicable.
        self.advance_reads();
        #[cfg(debug_assertions)]
        {
            assert!(self.term >= before.0, "term went backwards");
            assert!(self.log.committed() >= before.1, "commit went backwards");
            assert!(self.log.applied() >= before.2, "applied went backwards");
            if let Err(violation) = self.check_invariants() {
                panic!("raft invariant broken on {}: {violation}", self.config.id());
            }
        }
        *actions = std::mem::take(&mut self.actions);
    }

    fn tick(&mut self) {
        match &mut self.role {
            Role::Leader(leader) => {
                leader.contact.tick();
                if self.check_quorum_on_tick() {
                    return;
                }
                self.transfer_on_tick();
                let Role::Leader(leader) = &mut self.role else {
                    return;
                };
                leader.heartbeat_elapsed += 1;
                if leader.heartbeat_elapsed >= self.config.heartbeat_interval_ticks() {
                    leader.heartbeat_elapsed = 0;
                    self.broadcast_heartbeat();
                    self.transfer_on_heartbeat();
                }
            }
            Role::Follower(_) | Role::Candidate(_) => {
                self.election_elapsed += 1;
                if self.election_elapsed >= self.election_timeout {
                    self.start_election();
                } else {
                    self.resend_vote_requests();
                }
            }
        }
    }

    /// Settles the term first, then hands the message to the current role's handler.
    fn receive(&mut self, message: Message) {
        let from = message.from();
        if message.to() != self.config.id()
            || from == self.config.id()
            || !self.config.is_voter(from)
            || !message.within_limits()
        {
            return;
        }
        let term = message.term();
        let Some(body) = message.body else {
            return;
        };
        if self.ignores_under_lease(term, &body) {
            return;
        }
        if term > self.term && moves_term(&body) {
            let leader = matches!(
                body,
                Body::AppendEntries(_) | Body::InstallSnapshot(_) | Body::TimeoutNow(_)
            )
            .then_some(from);
            if self.is_leader() && is_reply(&body) && planted!(self.config, StepDownKeepsLeading) {
                // Adopts the term but keeps leading, with its old self-vote.
                self.term = term;
                self.persist_hard_state();
            } else {
                self.become_follower(term, leader);
            }
        }
        if term < self.term {
            self.answer_stale(from, &body);
            return;
        }
        match self.role {
            Role::Follower(_) => self.step_follower(from, term, body),
            Role::Candidate(_) => self.step_candidate(from, term, body),
            Role::Leader(_) => self.step_leader(from, term, body),
        }
    }

    /// A request from an older term gets an answer carrying our term, so its sender steps
    /// down; a stale reply is dropped.
    fn answer_stale(&mut self, from: NodeId, body: &Body) {
        let reply =
            match body {
                Body::RequestVote(request) => {
                    Body::RequestVoteReply(RequestVoteReply::new(false, request.is_pre_vote()))
                }
                Body::AppendEntries(append) => Body::AppendEntriesReply(
                    AppendEntriesReply::reject(append.prev_log_index(), Term::ZERO, LogIndex::ZERO),
                ),
                Body::InstallSnapshot(_) => {
                    Body::InstallSnapshotReply(InstallSnapshotReply::new(LogIndex::ZERO))
                }
                Body::RequestVoteReply(_)
                | Body::AppendEntriesReply(_)
                | Body::InstallSnapshotReply(_)
                | Body::TimeoutNow(_) => return,
            };
        self.send(from, reply);
    }

    fn step_follower(&mut self, from: NodeId, term: Term, body: Body) {
        match body {
            Body::RequestVote(rv) => self.handle_request_vote(from, term, &rv),
            Body::AppendEntries(ae) => {
                self.heard_from_leader(from);
                self.handle_append_entries(from, ae);
            }
            Body::InstallSnapshot(snapshot) => {
                self.heard_from_leader(from);
                self.handle_install_snapshot(from, snapshot);
            }
            Body::TimeoutNow(_) => self.handle_timeout_now(),
            Body::RequestVoteReply(_)
            | Body::AppendEntriesReply(_)
            | Body::InstallSnapshotReply(_) => {}
        }
    }

    fn step_leader(&mut self, from: NodeId, term: Term, body: Body) {
        match body {
            Body::RequestVote(rv) => self.handle_request_vote(from, term, &rv),
            Body::AppendEntriesReply(reply) => {
                self.heard_from_peer(from);
                self.acknowledge_round(from, reply.round());
                self.handle_append_reply(from, &reply);
                self.maybe_send_timeout_now(from);
            }
            Body::InstallSnapshotReply(reply) => {
                self.heard_from_peer(from);
                self.handle_snapshot_reply(from, &reply);
                self.maybe_send_timeout_now(from);
            }
            // Another leader in our own term would break election safety; ignore it.
            Body::AppendEntries(_)
            | Body::InstallSnapshot(_)
            | Body::RequestVoteReply(_)
            | Body::TimeoutNow(_) => {}
        }
    }

    /// A leader heard from `peer` in its term (CheckQuorum).
    fn heard_from_peer(&mut self, peer: NodeId) {
        if let Role::Leader(leader) = &mut self.role {
            leader.contact.heard(peer);
        }
    }

    /// A follower heard from the current leader: remember it and restart the election timer.
    fn heard_from_leader(&mut self, leader: NodeId) {
        if let Role::Follower(follower) = &mut self.role {
            follower.leader = Some(leader);
        }
        self.election_elapsed = 0;
    }

    pub(crate) fn reset_election_timer(&mut self) {
        let min = self.config.election_timeout_ticks_min();
        let span = u64::from(self.config.election_timeout_ticks_max() - min) + 1;
        let offset = u32::try_from(self.rng.next_u64() % span).unwrap_or(0);
        self.election_elapsed = 0;
        self.election_timeout = min + offset;
    }

    /// Becomes a follower of `term` (which must not be older than ours), persisting the
    /// hard state if the term moved. A leader stepping down refuses its pending reads
    /// and drops its transfer.
    pub(crate) fn become_follower(&mut self, term: Term, leader: Option<NodeId>) {
        debug_assert!(term >= self.term, "becoming follower of an older term");
        if term > self.term {
            self.term = term;
            self.voted_for = None;
            self.persist_hard_state();
        }
        let follower = Follower {
            leader,
            assembly: None,
        };
        let previous = std::mem::replace(&mut self.role, Role::Follower(follower));
        if let Role::Leader(mut old) = previous {
            self.refuse_reads(&mut old.reads, leader);
        }
        self.reset_election_timer();
    }

    pub(crate) fn become_leader(&mut self) {
        debug_assert!(
            matches!(self.role, Role::Candidate(_)),
            "only a candidate becomes leader"
        );
        debug_assert_eq!(self.voted_for, Some(self.config.id()));
        let last = self.log.last_index();
        let progress = self
            .config
            .peers()
            .map(|peer| (peer, Progress::new(last)))
            .collect();
        self.role = Role::Leader(Leader {
            progress,
            heartbeat_elapsed: 0,
            contact: Contact::new(self.config.peers()),
            reads: ReadQueue::new(self.config.peers()),
            transfer: None,
        });
        if self.config.no_op_on_election() {
            // The empty entry goes out at once, as the first round's AppendEntries.
            self.start_round();
            self.append_and_replicate(std::iter::once(Bytes::new()));
        } else {
            self.broadcast_heartbeat();
        }
        self.maybe_commit();
    }

    pub(crate) fn persist_hard_state(&mut self) {
        self.actions.push(Action::Persist(PersistAction::HardState {
            term: self.term,
            voted_for: self.voted_for,
        }));
    }

    pub(crate) fn send(&mut self, to: NodeId, body: Body) {
        self.send_in_term(to, self.term, body);
    }

    /// Sends with a message term other than ours (pre-votes speak of the next term).
    pub(crate) fn send_in_term(&mut self, to: NodeId, term: Term, body: Body) {
        let message = Message::new(self.config.id(), to, term, body);
        self.actions.push(Action::Send(message));
    }

    fn apply_committed(&mut self) {
        if !self.log.has_unapplied() {
            return;
        }
        let committed = self.log.take_committed();
        self.actions
            .extend(committed.map(|entries| Action::Apply(Apply::Entries(entries))));
    }

    /// Checks the node's local invariants; a violation is a bug in this crate.
    pub fn check_invariants(&self) -> Result<(), String> {
        self.log.check()?;
        match &self.role {
            Role::Leader(leader) => {
                if self.voted_for != Some(self.config.id()) {
                    return Err("a leader must have voted for itself".into());
                }
                if leader.progress.len() + 1 != self.config.voters().len() {
                    return Err("a leader tracks every peer and only peers".into());
                }
                for (peer, progress) in &leader.progress {
                    if progress.match_index > self.log.last_index() {
                        return Err(format!("{peer} matches past the leader's last index"));
                    }
                }
                leader.reads.check(self.log.committed())?;
                if let Some(transfer) = leader.transfer {
                    if !leader.progress.contains_key(&transfer.target) {
                        return Err("a transfer targets a node that is not a peer".into());
                    }
                }
            }
            Role::Candidate(candidate) => {
                let own_vote = candidate.granted.contains(&self.config.id());
                if !own_vote || (!candidate.pre_vote && self.voted_for != Some(self.config.id())) {
                    return Err("a candidate votes for itself".into());
                }
                let campaigned = candidate.term_votes.contains(&self.config.id())
                    && self.voted_for == Some(self.config.id());
                if !candidate.term_votes.is_empty() && !campaigned {
                    return Err("a pre-candidate keeps votes of a campaign it ran".into());
                }
            }
            Role::Follower(_) => {}
        }
        if self.election_timeout < self.config.election_timeout_ticks_min()
            || self.election_timeout > self.config.election_timeout_ticks_max()
        {
            return Err("election timeout outside the configured range".into());
        }
        Ok(())
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.config.id()
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The current term.
    pub fn term(&self) -> Term {
        self.term
    }

    /// The vote cast in the current term.
    pub fn voted_for(&self) -> Option<NodeId> {
        self.voted_for
    }

    /// The current role.
    pub fn role(&self) -> RoleKind {
        match &self.role {
            Role::Follower(_) => RoleKind::Follower,
            Role::Candidate(candidate) if candidate.pre_vote => RoleKind::PreCandidate,
            Role::Candidate(_) => RoleKind::Candidate,
            Role::Leader(_) => RoleKind::Leader,
        }
    }

    /// Whether this node leads its current term.
    pub fn is_leader(&self) -> bool {
        matches!(self.role, Role::Leader(_))
    }

    /// Ticks since this node's election timer last restarted (a leader's stays where it
    /// was when it was elected). A driver can tell a candidate's repeated vote requests
    /// (the timer runs on) from a new round (it restarts).
    pub fn election_elapsed(&self) -> u32 {
        self.election_elapsed
    }

    /// The leader of the current term, as far as this node knows.
    pub fn leader_hint(&self) -> Option<NodeId> {
        match &self.role {
            Role::Leader(_) => Some(self.config.id()),
            Role::Follower(follower) => follower.leader,
            Role::Candidate(_) => None,
        }
    }

    /// A leader's replication progress of follower `peer` (`None` unless this node
    /// leads and `peer` is one of its followers).
    pub fn progress(&self, peer: NodeId) -> Option<&Progress> {
        match &self.role {
            Role::Leader(leader) => leader.progress.get(&peer),
            Role::Follower(_) | Role::Candidate(_) => None,
        }
    }

    /// The target of the leadership transfer this leader is carrying out, if any (it
    /// takes no proposals meanwhile).
    pub fn transfer_target(&self) -> Option<NodeId> {
        self.transferring_to()
    }

    /// The reads this leader has not answered yet (0 on any other role).
    pub fn pending_reads(&self) -> usize {
        match &self.role {
            Role::Leader(leader) => leader.reads.len(),
            _ => 0,
        }
    }

    /// Whether this node leads and an entry of its term has committed: its commit index
    /// then covers every entry committed before its election, and reads are answered
    /// after one confirmation round.
    pub fn is_ready_for_reads(&self) -> bool {
        self.is_leader() && self.committed_in_term()
    }

    /// The commit index.
    pub fn commit_index(&self) -> LogIndex {
        self.log.committed()
    }

    /// The last index handed to the service.
    pub fn applied_index(&self) -> LogIndex {
        self.log.applied()
    }

    /// The index of the last log entry.
    pub fn last_log_index(&self) -> LogIndex {
        self.log.last_index()
    }

    /// The term of the last log entry.
    pub fn last_log_term(&self) -> Term {
        self.log.last_term()
    }

    /// The last index covered by the snapshot (0 if none).
    pub fn snapshot_index(&self) -> LogIndex {
        self.log.snapshot_index()
    }

    /// The entry at `index`, if the log holds it (not compacted, not past the end).
    pub fn entry(&self, index: LogIndex) -> Option<&Entry> {
        self.log.entry(index)
    }

    /// The term at `index`, if known (the snapshot index or a held entry).
    pub fn term_at(&self, index: LogIndex) -> Option<Term> {
        self.log.term_at(index)
    }

    /// The encoded size of the persisted raft state (term, vote, snapshot position and
    /// log; the snapshot bytes excluded), as [`PersistedState::raft_state_size`] gives it.
    pub fn raft_state_size(&self) -> usize {
        header_record_len(
            self.term,
            self.voted_for,
            self.log.snapshot_index(),
            self.log.snapshot_term(),
        ) + self.log.entries_encoded_len()
    }
}

/// Whether a message from a higher term makes us adopt that term. A pre-vote request
/// never does (that is its point), nor does a granted pre-vote (it carries the term we
/// would campaign in); a refused pre-vote carries the refuser's real term, so it does.
fn moves_term(body: &Body) -> bool {
    match body {
        Body::RequestVote(request) => !request.pre_vote,
        Body::RequestVoteReply(reply) => !(reply.pre_vote && reply.granted),
        _ => true,
    }
}

/// Whether a body is a reply (read by the test-only `StepDownKeepsLeading` bug).
fn is_reply(body: &Body) -> bool {
    matches!(
        body,
        Body::RequestVoteReply(_) | Body::AppendEntriesReply(_) | Body::InstallSnapshotReply(_)
    )
}
