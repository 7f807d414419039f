//! Leader election (§5.2, §5.4.1): pre-vote (thesis §9.6), campaigning, granting votes,
//! counting them.

use std::collections::BTreeSet;

use crate::message::{Body, RequestVote, RequestVoteReply};
use crate::node::{Candidate, Follower, Node, Role};
use crate::quorum::{is_majority, tally, VoteResult};
use crate::types::{NodeId, Term};

/// Why a node asks for votes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Campaign {
    /// Its election timer ran out (after a won pre-vote, if pre-vote is on).
    Election,
    /// The leader told it to (leadership transfer): skips pre-vote, and voters do not
    /// ignore it under CheckQuorum's lease.
    Transfer,
}

impl Node {
    /// The election timer ran out: ask for pre-votes if configured, else campaign.
    pub(crate) fn start_election(&mut self) {
        if self.config.pre_vote() {
            self.pre_campaign();
        } else {
            self.campaign(Campaign::Election);
        }
    }

    /// Asks every peer whether it would vote for us in the next term, changing nothing.
    ///
    /// A candidate whose real campaign timed out keeps the votes of its term: answers
    /// delayed past its election timeout still make it leader of that term, which is
    /// safe (every voter voted for it in that term, and its log has not changed since).
    /// Without this, replies held back longer than an election timeout (the lab's long
    /// reordering) can keep every election from completing.
    fn pre_campaign(&mut self) {
        debug_assert!(!self.is_leader(), "a leader does not campaign");
        let id = self.config.id();
        let term_votes =
            match std::mem::replace(&mut self.role, Role::Follower(Follower::default())) {
                Role::Candidate(candidate) if candidate.pre_vote => candidate.term_votes,
                Role::Candidate(candidate) => candidate.granted,
                Role::Follower(_) | Role::Leader(_) => BTreeSet::new(),
            };
        let mut candidate = Candidate {
            pre_vote: true,
            term_votes,
            ..Candidate::default()
        };
        candidate.granted.insert(id);
        self.role = Role::Candidate(candidate);
        self.reset_election_timer();
        self.request_votes(None);
    }

    /// Starts an election in the next term (§5.2).
    pub(crate) fn campaign(&mut self, kind: Campaign) {
        debug_assert!(!self.is_leader(), "a leader does not campaign");
        let id = self.config.id();
        self.term = self.term.next();
        self.voted_for = Some(id);
        let late = planted!(self.config, CampaignBeforePersist);
        if !late {
            self.persist_hard_state();
        }
        let mut candidate = Candidate {
            transfer: kind == Campaign::Transfer,
            ..Candidate::default()
        };
        candidate.granted.insert(id);
        self.role = Role::Candidate(candidate);
        self.reset_election_timer();
        self.request_votes(Some(kind));
        if late {
            self.persist_hard_state();
        }
    }

    /// The request of `campaign`, or of a pre-vote (`None`), and the term it is sent in.
    fn vote_request(&self, campaign: Option<Campaign>) -> (RequestVote, Term) {
        let (last_index, last_term) = (self.log.last_index(), self.log.last_term());
        match campaign {
            None => (
                RequestVote::pre_vote(last_index, last_term),
                self.term.next(),
            ),
            Some(Campaign::Election) => (RequestVote::vote(last_index, last_term), self.term),
            Some(Campaign::Transfer) => (RequestVote::transfer(last_index, last_term), self.term),
        }
    }

    /// Asks every peer for its vote in `campaign`, or for a pre-vote (`None`).
    fn request_votes(&mut self, campaign: Option<Campaign>) {
        let (request, term) = self.vote_request(campaign);
        let peers: Vec<NodeId> = self.config.peers().collect();
        for peer in peers {
            self.send_in_term(peer, term, Body::RequestVote(request.clone()));
        }
        self.count_votes();
    }

    /// A candidate's tick between its requests and its election timeout: every heartbeat
    /// interval, it asks again the peers that have not answered (a request or its answer
    /// may have been lost; voters answer a repeated request as they did the first).
    /// Without this, one lost message costs a whole election timeout, and a short window
    /// in which a majority can talk may pass without a leader.
    pub(crate) fn resend_vote_requests(&mut self) {
        let Role::Candidate(candidate) = &self.role else {
            return;
        };
        if self.election_elapsed % self.config.heartbeat_interval_ticks() != 0 {
            return;
        }
        let campaign = match (candidate.pre_vote, candidate.transfer) {
            (true, _) => None,
            (false, true) => Some(Campaign::Transfer),
            (false, false) => Some(Campaign::Election),
        };
        let silent: Vec<NodeId> = self
            .config
            .peers()
            .filter(|peer| !candidate.granted.contains(peer) && !candidate.refused.contains(peer))
            .collect();
        let (request, term) = self.vote_request(campaign);
        for peer in silent {
            self.send_in_term(peer, term, Body::RequestVote(request.clone()));
        }
    }

    /// A vote request (its term already settled) or a pre-vote request (term `term`).
    pub(crate) fn handle_request_vote(&mut self, from: NodeId, term: Term, request: &RequestVote) {
        let up_to_date = self
            .log
            .is_up_to_date(request.last_log_index(), request.last_log_term());
        if request.pre_vote {
            // Yes only for a later term, an up-to-date log, and no live leader that we know of.
            let granted = term > self.term && up_to_date && !self.hears_from_leader();
            let reply_term = if granted { term } else { self.term };
            let reply = RequestVoteReply::new(granted, true);
            self.send_in_term(from, reply_term, Body::RequestVoteReply(reply));
            return;
        }
        let free_to_vote = self.voted_for.is_none() || self.voted_for == Some(from);
        let up_to_date = up_to_date || planted!(self.config, VoteWithoutLogCheck);
        let granted = free_to_vote && up_to_date;
        let new_vote = granted && self.voted_for.is_none();
        let late = new_vote && planted!(self.config, GrantBeforePersist);
        if new_vote {
            self.voted_for = Some(from);
            if !late {
                self.persist_hard_state();
            }
        }
        if granted && !planted!(self.config, VoteKeepsTimer) {
            // Granting a vote restarts the election timer (Figure 2, Followers).
            self.election_elapsed = 0;
        }
        self.send(
            from,
            Body::RequestVoteReply(RequestVoteReply::new(granted, false)),
        );
        if late {
            self.persist_hard_state();
        }
    }

    /// Whether this node leads, or follows a leader it heard from within the minimum
    /// election timeout (leader stickiness, thesis §9.6).
    pub(crate) fn hears_from_leader(&self) -> bool {
        match &self.role {
            Role::Leader(_) => true,
            Role::Follower(follower) => {
                follower.leader.is_some()
                    && self.election_elapsed < self.config.election_timeout_ticks_min()
            }
            Role::Candidate(_) => false,
        }
    }

    pub(crate) fn step_candidate(&mut self, from: NodeId, term: Term, body: Body) {
        match body {
            Body::RequestVote(request) => self.handle_request_vote(from, term, &request),
            Body::RequestVoteReply(reply) => self.record_vote(from, term, &reply),
            // A leader of our term exists: follow it (§5.2).
            Body::AppendEntries(append) => {
                self.become_follower(self.term, Some(from));
                self.handle_append_entries(from, append);
            }
            Body::InstallSnapshot(snapshot) => {
                self.become_follower(self.term, Some(from));
                self.handle_install_snapshot(from, snapshot);
            }
            Body::TimeoutNow(_) => self.handle_timeout_now(),
            Body::AppendEntriesReply(_) | Body::InstallSnapshotReply(_) => {}
        }
    }

    fn record_vote(&mut self, from: NodeId, term: Term, reply: &RequestVoteReply) {
        let Role::Candidate(candidate) = &mut self.role else {
            return;
        };
        // A pre-vote answer speaks of the next term; a vote answer of ours.
        let expected_term = if candidate.pre_vote {
            self.term.next()
        } else {
            self.term
        };
        if candidate.pre_vote && !reply.pre_vote && !candidate.term_votes.is_empty() {
            // A late answer to the real campaign of our term (see `pre_campaign`).
            if reply.granted && term == self.term {
                candidate.term_votes.insert(from);
                if is_majority(self.config.voters().len(), candidate.term_votes.len()) {
                    self.become_leader();
                }
            }
            return;
        }
        if reply.pre_vote != candidate.pre_vote || (reply.granted && term != expected_term) {
            return;
        }
        if reply.granted {
            candidate.granted.insert(from);
        } else {
            candidate.refused.insert(from);
        }
        self.count_votes();
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
            if candidate.pre_vote {
                self.campaign(Campaign::Election);
            } else {
                self.become_leader();
            }
        }
    }
}
