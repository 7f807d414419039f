//! Leadership transfer (thesis §3.10): the leader stops taking proposals, brings the
//! target's log up to date, then tells it to campaign at once with a TimeoutNow; the
//! target's campaign skips pre-vote and is marked as a transfer, so voters do not ignore
//! it under CheckQuorum's lease. The leader gives up after the smallest election timeout.

use crate::action::{Action, TransferError};
use crate::election::Campaign;
use crate::message::{Body, TimeoutNow};
use crate::node::{Node, Role};
use crate::types::NodeId;

/// A transfer under way, in the leader's role state.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Transfer {
    /// The voter that should lead.
    pub(crate) target: NodeId,
    /// Ticks since the transfer started.
    elapsed: u32,
    /// Whether TimeoutNow was sent since the last heartbeat.
    told: bool,
}

impl Node {
    /// The service asks the leader to hand its leadership to `target`.
    pub(crate) fn transfer_leadership(&mut self, target: NodeId) {
        let outcome = self.start_transfer(target);
        self.actions.push(Action::Transfer(outcome));
    }

    fn start_transfer(&mut self, target: NodeId) -> Result<NodeId, TransferError> {
        let leader_hint = self.leader_hint();
        let Role::Leader(leader) = &mut self.role else {
            return Err(TransferError::NotLeader { leader_hint });
        };
        if target == self.config.id() {
            return Err(TransferError::ToSelf);
        }
        if !self.config.is_voter(target) {
            return Err(TransferError::NotVoter(target));
        }
        match leader.transfer {
            Some(transfer) if transfer.target == target => return Ok(target),
            Some(transfer) => {
                return Err(TransferError::InProgress {
                    target: transfer.target,
                })
            }
            None => {}
        }
        leader.transfer = Some(Transfer {
            target,
            elapsed: 0,
            told: false,
        });
        // Catch the target up (nothing is sent if it is up to date or a probe is out).
        self.send_append(target, false);
        self.maybe_send_timeout_now(target);
        Ok(target)
    }

    /// The target of the leadership transfer under way, if any.
    pub(crate) fn transferring_to(&self) -> Option<NodeId> {
        match &self.role {
            Role::Leader(leader) => leader.transfer.map(|transfer| transfer.target),
            _ => None,
        }
    }

    /// Tells `peer` to campaign if it is the transfer's target, holds our whole log, and
    /// was not told since the last heartbeat.
    pub(crate) fn maybe_send_timeout_now(&mut self, peer: NodeId) {
        let last = self.log.last_index();
        let Role::Leader(leader) = &mut self.role else {
            return;
        };
        let Some(transfer) = leader.transfer.as_mut() else {
            return;
        };
        let caught_up = leader
            .progress
            .get(&peer)
            .is_some_and(|progress| progress.match_index == last);
        if transfer.target != peer || transfer.told || !caught_up {
            return;
        }
        transfer.told = true;
        self.send(peer, Body::TimeoutNow(TimeoutNow::new()));
    }

    /// A leader's tick: give up a transfer that took an election timeout.
    pub(crate) fn transfer_on_tick(&mut self) {
        let patience = self.config.election_timeout_ticks_min();
        let Role::Leader(leader) = &mut self.role else {
            return;
        };
        let Some(transfer) = leader.transfer.as_mut() else {
            return;
        };
        transfer.elapsed += 1;
        if transfer.elapsed >= patience {
            leader.transfer = None;
        }
    }

    /// At a heartbeat: tell the target again (a TimeoutNow may have been lost).
    pub(crate) fn transfer_on_heartbeat(&mut self) {
        let Role::Leader(leader) = &mut self.role else {
            return;
        };
        if let Some(transfer) = leader.transfer.as_mut() {
            transfer.told = false;
            let target = transfer.target;
            self.maybe_send_timeout_now(target);
        }
    }

    /// TimeoutNow from the leader of our term: campaign now, as a transfer. A candidate of
    /// a real election ignores it (its own election is under way); a pre-candidate is a
    /// follower that merely missed heartbeats, and campaigns.
    pub(crate) fn handle_timeout_now(&mut self) {
        match &self.role {
            Role::Follower(_) => self.campaign(Campaign::Transfer),
            Role::Candidate(candidate) if candidate.pre_vote => {
                self.campaign(Campaign::Transfer);
            }
            Role::Candidate(_) | Role::Leader(_) => {}
        }
    }
}
