//! CheckQuorum (thesis §6.2 and §9.6; etcd-io/raft's `CheckQuorum`): a leader that has
//! not heard from a majority within the largest election timeout steps down, and a node
//! that heard from a live leader within the smallest election timeout ignores vote
//! requests of later terms (the leader's lease).
//!
//! The leader counts time in its own ticks since its election ([`Contact`]); any answer
//! of a peer in the leader's term (an AppendEntries or InstallSnapshot reply, accepted or
//! not) counts as hearing from it.

use std::collections::BTreeMap;

use crate::message::Body;
use crate::node::{Node, Role};
use crate::quorum::is_majority;
use crate::types::{NodeId, Term};

/// When a leader last heard from each peer, in ticks since it became leader.
#[derive(Clone, Debug)]
pub(crate) struct Contact {
    /// Ticks since this node became leader.
    now: u64,
    /// The tick of the last answer from each peer; the election counts as one.
    last_heard: BTreeMap<NodeId, u64>,
}

impl Contact {
    /// At election: every peer counts as just heard from (it has a full election timeout
    /// to answer the first heartbeat).
    pub(crate) fn new(peers: impl Iterator<Item = NodeId>) -> Contact {
        Contact {
            now: 0,
            last_heard: peers.map(|peer| (peer, 0)).collect(),
        }
    }

    /// One tick passed.
    pub(crate) fn tick(&mut self) {
        self.now += 1;
    }

    /// `peer` answered (unknown ids are ignored).
    pub(crate) fn heard(&mut self, peer: NodeId) {
        if let Some(last) = self.last_heard.get_mut(&peer) {
            *last = self.now;
        }
    }

    /// The voters heard from within the last `window` ticks, the leader included.
    pub(crate) fn active_voters(&self, window: u32) -> usize {
        let recent = self
            .last_heard
            .values()
            .filter(|&&last| self.now - last < u64::from(window))
            .count();
        recent + 1
    }
}

impl Node {
    /// A leader's tick under CheckQuorum: steps down if fewer than a majority answered
    /// within the largest election timeout. Returns whether it stepped down.
    ///
    /// The largest, not the smallest: by then every follower that lost the leader has
    /// timed out and may elect a successor, so waiting longer gains nothing; a shorter
    /// window deposes healthy leaders whose answers are merely slow (the lab's long
    /// reordering holds 2/3 of the replies back 200–2200 ms).
    pub(crate) fn check_quorum_on_tick(&mut self) -> bool {
        if !self.config.check_quorum() {
            return false;
        }
        let Role::Leader(leader) = &self.role else {
            return false;
        };
        let window = self.config.election_timeout_ticks_max();
        let active = leader.contact.active_voters(window);
        if is_majority(self.config.voters().len(), active) {
            return false;
        }
        // Stay in the term (nothing to persist); the election timer starts afresh.
        self.become_follower(self.term, None);
        true
    }

    /// Whether a message must be ignored under the leader's lease: with CheckQuorum, a
    /// vote or pre-vote request of a later term, while this node leads or heard from its
    /// leader within the smallest election timeout. The term is not adopted either. A
    /// transfer campaign is exempt: the leader itself asked for it.
    pub(crate) fn ignores_under_lease(&self, term: Term, body: &Body) -> bool {
        let Body::RequestVote(request) = body else {
            return false;
        };
        self.config.check_quorum()
            && term > self.term
            && !request.is_transfer()
            && self.hears_from_leader()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_counts_peers_heard_within_the_window_and_the_leader() {
        let mut contact = Contact::new([NodeId(2), NodeId(3), NodeId(4)].into_iter());
        assert_eq!(
            contact.active_voters(3),
            4,
            "the election counts as contact"
        );
        contact.tick();
        contact.heard(NodeId(2));
        contact.heard(NodeId(9));
        contact.tick();
        contact.tick();
        assert_eq!(
            contact.active_voters(3),
            2,
            "only n2 within 3 ticks, and self"
        );
        assert_eq!(contact.active_voters(4), 4);
        contact.tick();
        contact.tick();
        assert_eq!(contact.active_voters(3), 1);
    }
}
