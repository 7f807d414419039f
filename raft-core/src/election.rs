//! Leader election (§5.2, §5.4.1): campaigning, granting votes, counting them.

use crate::message::{Body, RequestVote, RequestVoteReply};
use crate::node::{Candidate, Node, Role};
use crate::quorum::{tally, VoteResult};
use crate::types::{LogIndex, NodeId, Term};

impl Node {
    /// The election timer ran out: start an election in the next term.
    pub(crate) fn campaign(&mut self) {
        debug_assert!(!self.is_leader(), "a leader does not campaign");
        let id = self.config.id();
        self.term = self.term.next();
        self.voted_for = Some(id);
        self.persist_hard_state();
        let mut candidate = Candidate::default();
        candidate.granted.insert(id);
        self.role = Role::Candidate(candidate);
        self.reset_election_timer();
        let request = RequestVote {
            last_log_index: self.log.last_index().0,
            last_log_term: self.log.last_term().0,
        };
        let peers: Vec<NodeId> = self.config.peers().collect();
        for peer in peers {
            self.send(peer, Body::RequestVote(request.clone()));
        }
        self.count_votes();
    }

    /// A vote request in our current term: grant it if we have not voted for someone
    /// else and the candidate's log is at least as up to date as ours (§5.4.1).
    pub(crate) fn handle_request_vote(&mut self, from: NodeId, request: &RequestVote) {
        let free_to_vote = self.voted_for.is_none() || self.voted_for == Some(from);
        let up_to_date = self.log.is_up_to_date(
            LogIndex(request.last_log_index),
            Term(request.last_log_term),
        );
        let granted = free_to_vote && up_to_date;
        if granted && self.voted_for.is_none() {
            self.voted_for = Some(from);
            self.persist_hard_state();
        }
        if granted {
            // Granting a vote restarts the election timer (Figure 2, Followers).
            self.election_elapsed = 0;
        }
        self.send(from, Body::RequestVoteReply(RequestVoteReply { granted }));
    }

    pub(crate) fn step_candidate(&mut self, from: NodeId, body: Body) {
        match body {
            Body::RequestVote(request) => self.handle_request_vote(from, &request),
            Body::RequestVoteReply(reply) => {
                if let Role::Candidate(candidate) = &mut self.role {
                    if reply.granted {
                        candidate.granted.insert(from);
                    } else {
                        candidate.refused.insert(from);
                    }
                }
                self.count_votes();
            }
            // A leader of our term exists: follow it (§5.2).
            Body::AppendEntries(append) => {
                self.become_follower(self.term, Some(from));
                self.handle_append_entries(from, append);
            }
            Body::InstallSnapshot(snapshot) => {
                self.become_follower(self.term, Some(from));
                self.handle_install_snapshot(from, snapshot);
            }
            Body::AppendEntriesReply(_) | Body::InstallSnapshotReply(_) => {}
        }
    }

    fn count_votes(&mut self) {
        let Role::Candidate(candidate) = &self.role else {
            return;
        };
        let result = tally(
            self.config.voters().len(),
            candidate.granted.len(),
            candidate.refused.len(),
        );
        // A lost election waits for its timer: another candidate may yet win this term.
        if result == VoteResult::Won {
            self.become_leader();
        }
    }
}
