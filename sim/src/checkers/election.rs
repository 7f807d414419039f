//! Election rules of Figure 2 and of pre-vote (thesis §9.6), checked from outside at
//! every step:
//!
//! - **Timer**: a follower or candidate starts an election only after its election
//!   timeout elapsed without hearing from a current leader or granting a vote, and it
//!   does start one by then; the timeouts it draws spread over the configured range.
//! - **Terms**: a message from a later term (other than a pre-vote request or a granted
//!   pre-vote) makes the receiver adopt that term.
//! - **Votes**: a vote is granted only in answer to a request from that candidate, whose
//!   log is at least as up to date (§5.4.1); a node records a vote only for a candidate
//!   it granted, or for itself when it campaigns; a pre-vote is refused by a leader and
//!   by a follower that heard from its leader within the smallest timeout.
//! - **Switches**: pre-vote rounds happen exactly when pre-vote is configured.
//! - **Queries**: the node's leader hint and role agree with what it did.
//!
//! The checker counts each server's ticks since its timer last restarted, as far as its
//! inputs and actions show: a restart, a term or role change, an AppendEntries or
//! InstallSnapshot of at least its term (a current leader), a granted vote, or an
//! election it starts itself.

use raft_core::{Body, Input, LogIndex, Node, NodeId, RoleKind, Term};

use crate::world::{Effect, ProcessInput, RaftSetup};

/// A vote request (or pre-vote request) a node is about to answer.
#[derive(Clone, Copy, Debug)]
struct Request {
    from: NodeId,
    last: (Term, LogIndex),
}

/// What the checker needs to know about a node and its input before a step.
#[derive(Clone, Copy, Debug)]
pub struct BeforeStep {
    term: Term,
    role: RoleKind,
    voted_for: Option<NodeId>,
    tick: bool,
    /// The sender of an AppendEntries or InstallSnapshot of at least the node's term.
    current_leader: Option<NodeId>,
    request: Option<Request>,
    /// The term of a message that must make the node adopt it.
    adopt: Option<Term>,
    /// Whether that message is a vote request CheckQuorum's lease may make it ignore.
    leased: bool,
}

impl BeforeStep {
    /// The node's term before the step.
    pub fn term(&self) -> Term {
        self.term
    }

    /// Notes `node`'s state and what `input` is, before the node steps it.
    pub fn new(node: &Node, input: &ProcessInput) -> BeforeStep {
        let mut before = BeforeStep {
            term: node.term(),
            role: node.role(),
            voted_for: node.voted_for(),
            tick: matches!(input, ProcessInput::Tick | ProcessInput::Raft(Input::Tick)),
            current_leader: None,
            request: None,
            adopt: None,
            leased: false,
        };
        let (ProcessInput::Peer(message) | ProcessInput::Raft(Input::Message(message))) = input
        else {
            return before;
        };
        let later = message.term() > node.term();
        match message.body() {
            Some(Body::AppendEntries(_) | Body::InstallSnapshot(_)) => {
                before.current_leader = (message.term() >= node.term()).then_some(message.from());
                before.adopt = later.then_some(message.term());
            }
            Some(Body::RequestVote(request)) => {
                before.request = Some(Request {
                    from: message.from(),
                    last: (request.last_log_term(), request.last_log_index()),
                });
                before.adopt = (later && !request.is_pre_vote()).then_some(message.term());
                before.leased = !request.is_transfer();
            }
            Some(Body::RequestVoteReply(reply)) => {
                let pre_vote_grant = reply.is_pre_vote() && reply.granted();
                before.adopt = (later && !pre_vote_grant).then_some(message.term());
            }
            Some(_) => before.adopt = later.then_some(message.term()),
            None => {}
        }
        before
    }
}

/// What one step's sends say about elections.
#[derive(Clone, Debug, Default)]
struct Sent {
    campaigned: bool,
    pre_campaigned: bool,
    /// (candidate, pre-vote) of every granted answer.
    granted: Vec<(NodeId, bool)>,
}

impl Sent {
    /// What `effects` say, for a node that was `before` its step and is `node` after it.
    /// A candidate's tick that repeats its vote requests to the peers that have not
    /// answered, its timer running on, starts nothing.
    fn of(effects: &[Effect], before: &BeforeStep, node: &Node) -> Sent {
        let mut sent = Sent::of_sends(effects);
        let repeat = before.tick
            && matches!(before.role, RoleKind::PreCandidate | RoleKind::Candidate)
            && node.role() == before.role
            && node.term() == before.term
            && node.election_elapsed() != 0;
        if repeat {
            sent.campaigned = false;
            sent.pre_campaigned = false;
        }
        sent
    }

    fn of_sends(effects: &[Effect]) -> Sent {
        let mut sent = Sent::default();
        for effect in effects {
            let Effect::Send(message) = effect else {
                continue;
            };
            match message.body() {
                Some(Body::RequestVote(request)) if request.is_pre_vote() => {
                    sent.pre_campaigned = true;
                }
                Some(Body::RequestVote(_)) => sent.campaigned = true,
                Some(Body::RequestVoteReply(reply)) if reply.granted() => {
                    sent.granted.push((message.to(), reply.is_pre_vote()));
                }
                _ => {}
            }
        }
        sent
    }
}

/// One server as the checker sees it.
#[derive(Clone, Debug, Default)]
struct View {
    /// Ticks since its election timer restarted.
    ticks: u32,
    /// The leader of its current term it heard from, if any.
    leader: Option<NodeId>,
}

/// The election timeouts seen to fire (each is the timeout the node drew).
#[derive(Clone, Copy, Debug)]
struct Spread {
    count: u32,
    lowest: u32,
    highest: u32,
}

/// Timeouts to see fire before judging their spread.
const SPREAD_SAMPLE: u32 = 40;

/// The checker's view of every server.
#[derive(Clone, Debug)]
pub struct ElectionChecker {
    servers: Vec<View>,
    min: u32,
    max: u32,
    pre_vote: bool,
    check_quorum: bool,
    spread: Spread,
}

impl ElectionChecker {
    /// A checker for `servers` servers set up as `setup`.
    pub fn new(servers: usize, setup: &RaftSetup) -> ElectionChecker {
        ElectionChecker {
            servers: vec![View::default(); servers],
            min: setup.election_ticks.0,
            max: setup.election_ticks.1,
            pre_vote: setup.pre_vote,
            check_quorum: setup.check_quorum,
            spread: Spread {
                count: 0,
                lowest: u32::MAX,
                highest: 0,
            },
        }
    }

    /// Server `server` (re)started: its timer starts from zero, it knows no leader.
    pub fn on_restart(&mut self, server: usize) {
        self.servers[server] = View::default();
    }

    /// Checks one step of server `server`: `before` its step, the `effects` it returned,
    /// and the node after it.
    pub fn observe(
        &mut self,
        server: usize,
        before: BeforeStep,
        effects: &[Effect],
        node: &Node,
    ) -> Result<(), String> {
        let sent = Sent::of(effects, &before, node);
        self.check_timer(server, &before, &sent)?;
        // CheckQuorum: a node under its leader's lease ignores a vote request.
        let ignored = before.leased && self.check_quorum && self.is_sticky(server, &before);
        if let Some(term) = before.adopt.filter(|_| !ignored) {
            if node.term() < term {
                return Err(format!(
                    "terms: server {server} stayed in term {} after a message of term {}",
                    node.term().0,
                    term.0
                ));
            }
        }
        self.check_votes(server, &before, &sent, node)?;
        self.check_switches(server, &before, &sent)?;
        self.update(server, &before, &sent, node);
        self.check_queries(server, &sent, node)
    }

    fn check_timer(
        &mut self,
        server: usize,
        before: &BeforeStep,
        sent: &Sent,
    ) -> Result<(), String> {
        let view = &mut self.servers[server];
        if !before.tick || before.role == RoleKind::Leader {
            return Ok(());
        }
        view.ticks += 1;
        if !(sent.campaigned || sent.pre_campaigned) {
            return Ok(());
        }
        let ticks = view.ticks;
        if ticks < self.min {
            return Err(format!(
                "election timer: server {server} started an election {ticks} ticks after its timer restarted (the smallest timeout is {} ticks)",
                self.min
            ));
        }
        let spread = &mut self.spread;
        spread.count += 1;
        spread.lowest = spread.lowest.min(ticks);
        spread.highest = spread.highest.max(ticks);
        if spread.count == SPREAD_SAMPLE
            && 3 * (spread.highest - spread.lowest) < self.max - self.min
        {
            return Err(format!(
                "election timer: {SPREAD_SAMPLE} election timeouts all fell in {}..={} ticks, not spread over {}..={}",
                spread.lowest, spread.highest, self.min, self.max
            ));
        }
        Ok(())
    }

    fn check_votes(
        &self,
        server: usize,
        before: &BeforeStep,
        sent: &Sent,
        node: &Node,
    ) -> Result<(), String> {
        for &(candidate, pre_vote) in &sent.granted {
            let kind = if pre_vote { "pre-vote" } else { "vote" };
            let request = before.request.filter(|request| request.from == candidate);
            let Some(request) = request else {
                return Err(format!(
                    "votes: server {server} granted a {kind} to {candidate} it was not asked for"
                ));
            };
            let own = (node.last_log_term(), node.last_log_index());
            if request.last < own {
                return Err(format!(
                    "election restriction: server {server} granted a {kind} to {candidate}, whose log ends at {}/{}, behind its own {}/{}",
                    request.last.1, request.last.0, own.1, own.0
                ));
            }
            if pre_vote {
                self.check_sticky(server, before)?;
            }
        }
        let recorded = node
            .voted_for()
            .filter(|_| node.voted_for() != before.voted_for || node.term() != before.term);
        let Some(vote) = recorded else {
            return Ok(());
        };
        let own = vote == node.id() && (sent.campaigned || node.is_leader());
        let granted = sent.granted.iter().any(|&(to, pre)| to == vote && !pre);
        if own || granted {
            Ok(())
        } else {
            Err(format!(
                "votes: server {server} recorded a vote for {vote} in term {} without granting it",
                node.term().0
            ))
        }
    }

    /// Leader stickiness: no pre-vote from a leader, nor from a follower that heard from
    /// its leader within the smallest election timeout.
    fn check_sticky(&self, server: usize, before: &BeforeStep) -> Result<(), String> {
        let view = &self.servers[server];
        if self.is_sticky(server, before) {
            return Err(format!(
                "pre-vote: server {server} ({:?}) granted a pre-vote {} ticks after hearing from its leader (leader stickiness holds for {} ticks)",
                before.role, view.ticks, self.min
            ));
        }
        Ok(())
    }

    /// Whether server `server` leads, or heard from its leader within the smallest
    /// election timeout, before its step.
    fn is_sticky(&self, server: usize, before: &BeforeStep) -> bool {
        let view = &self.servers[server];
        match before.role {
            RoleKind::Leader => true,
            RoleKind::Follower => view.leader.is_some() && view.ticks < self.min,
            RoleKind::PreCandidate | RoleKind::Candidate => false,
        }
    }

    fn check_switches(
        &self,
        server: usize,
        before: &BeforeStep,
        sent: &Sent,
    ) -> Result<(), String> {
        if sent.pre_campaigned && !self.pre_vote {
            return Err(format!(
                "pre-vote: server {server} ran a pre-vote round, but pre-vote is off"
            ));
        }
        if before.tick && sent.campaigned && !sent.pre_campaigned && self.pre_vote {
            return Err(format!(
                "pre-vote: server {server} campaigned on its timer without a pre-vote round, but pre-vote is on"
            ));
        }
        Ok(())
    }

    fn update(&mut self, server: usize, before: &BeforeStep, sent: &Sent, node: &Node) {
        let view = &mut self.servers[server];
        let restarted = sent.campaigned
            || sent.pre_campaigned
            || sent.granted.iter().any(|&(_, pre)| !pre)
            || before.current_leader.is_some()
            || node.term() != before.term
            || node.role() != before.role;
        if restarted || node.is_leader() {
            view.ticks = 0;
        }
        if node.term() != before.term || (before.role == RoleKind::Leader && !node.is_leader()) {
            view.leader = None;
        }
        match node.role() {
            RoleKind::Leader => view.leader = Some(node.id()),
            RoleKind::Follower => {
                if let Some(leader) = before.current_leader {
                    view.leader = Some(leader);
                }
            }
            RoleKind::PreCandidate | RoleKind::Candidate => view.leader = None,
        }
    }

    fn check_queries(&self, server: usize, sent: &Sent, node: &Node) -> Result<(), String> {
        let view = &self.servers[server];
        if view.ticks > self.max {
            return Err(format!(
                "election timer: server {server} went {} ticks without hearing from a leader, granting a vote or starting an election (the largest timeout is {} ticks)",
                view.ticks, self.max
            ));
        }
        if node.leader_hint() != view.leader {
            return Err(format!(
                "queries: server {server} reports leader {:?}, but the leader it heard from in term {} is {:?}",
                node.leader_hint(),
                node.term().0,
                view.leader
            ));
        }
        let role = node.role();
        let role_ok = match (sent.pre_campaigned, sent.campaigned) {
            (true, false) => role == RoleKind::PreCandidate,
            (_, true) => matches!(role, RoleKind::Candidate | RoleKind::Leader),
            (false, false) => true,
        };
        if !role_ok || node.is_leader() != (role == RoleKind::Leader) {
            return Err(format!(
                "queries: server {server} reports role {role:?} (leader: {}) after its step",
                node.is_leader()
            ));
        }
        Ok(())
    }
}
