//! The election timer rule of Figure 2, checked from outside: a follower or candidate
//! starts an election only after its election timeout elapsed without hearing from a
//! current leader or granting a vote, and it does start one by then.
//!
//! The checker counts each server's ticks since its timer last restarted, as far as its
//! inputs and actions show: a restart, a term or role change, an AppendEntries or
//! InstallSnapshot of at least its term (a current leader), a granted vote, or an
//! election it starts itself. An election started on a tick with fewer ticks than the
//! smallest timeout, or a server that ticks past the largest timeout without starting
//! one, breaks the rule.

use raft_core::{Action, Body, Input, Node, RoleKind, Term};

/// What the checker needs to know about a node and its input before a step.
#[derive(Clone, Copy, Debug)]
pub struct BeforeStep {
    term: Term,
    role: RoleKind,
    tick: bool,
    /// The input is an AppendEntries or InstallSnapshot of at least the node's term.
    from_current_leader: bool,
}

impl BeforeStep {
    /// Notes `node`'s state and what `input` is, before the node steps it.
    pub fn new(node: &Node, input: &Input) -> BeforeStep {
        let from_current_leader = match input {
            Input::Message(message) => {
                matches!(
                    message.body(),
                    Some(Body::AppendEntries(_) | Body::InstallSnapshot(_))
                ) && message.term() >= node.term()
            }
            _ => false,
        };
        BeforeStep {
            term: node.term(),
            role: node.role(),
            tick: matches!(input, Input::Tick),
            from_current_leader,
        }
    }
}

/// The checker's count of every server's ticks since its election timer restarted.
#[derive(Clone, Debug)]
pub struct TimerChecker {
    ticks: Vec<u32>,
    min: u32,
    max: u32,
}

impl TimerChecker {
    /// A checker for `servers` servers whose election timeouts are `min..=max` ticks.
    pub fn new(servers: usize, (min, max): (u32, u32)) -> TimerChecker {
        TimerChecker {
            ticks: vec![0; servers],
            min,
            max,
        }
    }

    /// Server `server` (re)started: its timer starts from zero.
    pub fn on_restart(&mut self, server: usize) {
        self.ticks[server] = 0;
    }

    /// Checks one step of server `server`: `before` its step, the `actions` it returned,
    /// and the node after it.
    pub fn observe(
        &mut self,
        server: usize,
        before: BeforeStep,
        actions: &[Action],
        node: &Node,
    ) -> Result<(), String> {
        let (mut campaigned, mut granted) = (false, false);
        for action in actions {
            match action {
                Action::Send(message) => match message.body() {
                    Some(Body::RequestVote(_)) => campaigned = true,
                    Some(Body::RequestVoteReply(reply)) => {
                        granted |= reply.granted() && !reply.is_pre_vote();
                    }
                    _ => {}
                },
                Action::Persist(_)
                | Action::Apply(_)
                | Action::Proposal(_)
                | Action::Snapshot(_) => {}
            }
        }
        let ticks = &mut self.ticks[server];
        if before.tick && before.role != RoleKind::Leader {
            *ticks += 1;
            if campaigned && *ticks < self.min {
                return Err(format!(
                    "election timer: server {server} started an election {ticks} ticks after its timer restarted (the smallest timeout is {} ticks)",
                    self.min
                ));
            }
        }
        let restarted = campaigned
            || granted
            || before.from_current_leader
            || node.term() != before.term
            || node.role() != before.role;
        if restarted || node.is_leader() {
            *ticks = 0;
        }
        if *ticks > self.max {
            return Err(format!(
                "election timer: server {server} went {ticks} ticks without hearing from a leader, granting a vote or starting an election (the largest timeout is {} ticks)",
                self.max
            ));
        }
        Ok(())
    }
}
