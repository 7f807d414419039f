//! Log replication (§5.3): the leader's proposals, appends and commit rule (§5.4.2), the
//! follower's consistency check with the fast-backup hint.

use bytes::Bytes;

use crate::action::{Action, ProposeError, Proposed};
use crate::append::append_entries_budget;
use crate::entries::Entries;
use crate::message::{AppendEntries, AppendEntriesReply, Body, Entry};
use crate::node::{Node, Role};
use crate::persist::PersistAction;
use crate::progress::ProgressMode;
use crate::quorum::held_by;
use crate::types::{LogIndex, NodeId, Term};

impl Node {
    /// Appends the commands to the leader's log and streams them to the followers.
    pub(crate) fn propose(&mut self, commands: impl ExactSizeIterator<Item = Bytes>) {
        let refusal = if !self.is_leader() {
            Some(ProposeError::NotLeader {
                leader_hint: self.leader_hint(),
            })
        } else if let Some(target) = self.transferring_to() {
            Some(ProposeError::Transferring { target })
        } else if commands.len() == 0 {
            Some(ProposeError::EmptyBatch)
        } else {
            None
        };
        if let Some(refusal) = refusal {
            self.actions.push(Action::Proposal(Err(refusal)));
            return;
        }
        let count = commands.len() as u64;
        let first = self.append_and_replicate(commands);
        self.actions.push(Action::Proposal(Ok(Proposed {
            index: first,
            term: self.term,
            count,
        })));
        if self.own_entries_can_commit() {
            self.maybe_commit();
        }
    }

    /// Whether the leader's own new entries can move the commit index: only when one
    /// replica is a quorum. (The leader's match is its last index, the highest of all; a
    /// larger k-th highest needs k = 1.)
    fn own_entries_can_commit(&self) -> bool {
        self.commit_quorum(self.config.voters().len()) <= 1
    }

    /// How many of `voters` replicas commit an entry (a majority).
    fn commit_quorum(&self, voters: usize) -> usize {
        if planted!(self.config, MajorityOffByOne) {
            voters / 2
        } else {
            voters / 2 + 1
        }
    }

    /// Appends commands of the leader's term to its log, persists them and streams them
    /// to the followers; returns the index of the first.
    pub(crate) fn append_and_replicate(
        &mut self,
        commands: impl ExactSizeIterator<Item = Bytes>,
    ) -> LogIndex {
        let first = self.log.last_index().next();
        let entries = self.log.append_commands(self.term, commands);
        self.actions
            .push(Action::Persist(PersistAction::Append(entries)));
        self.broadcast_append();
        first
    }

    /// The voter at `position` among the voters, unless it is this node. Looping over
    /// positions leaves `self` free to change, without collecting the peers first.
    fn peer_at(&self, position: usize) -> Option<NodeId> {
        let voter = *self.config.voters().get(position)?;
        (voter != self.config.id()).then_some(voter)
    }

    /// Sends new entries to every follower that is ready for them.
    fn broadcast_append(&mut self) {
        for position in 0..self.config.voters().len() {
            if let Some(peer) = self.peer_at(position) {
                self.send_append(peer, false);
            }
        }
    }

    /// The heartbeat: every follower gets an AppendEntries, with whatever it still lacks.
    ///
    /// A follower in Replicate mode gets an empty AppendEntries at its next index: if
    /// entries sent earlier were lost, it rejects, and the leader probes from its hint. A
    /// probed follower that answered since the last heartbeat gets entries (or the
    /// snapshot); one that did not gets an empty probe, so nothing large is resent
    /// to a follower that may be gone. Every heartbeat starts a new round (ReadIndex).
    pub(crate) fn broadcast_heartbeat(&mut self) {
        self.start_round();
        for position in 0..self.config.voters().len() {
            let Some(peer) = self.peer_at(position) else {
                continue;
            };
            let Role::Leader(leader) = &mut self.role else {
                return;
            };
            let Some(progress) = leader.progress.get_mut(&peer) else {
                continue;
            };
            let active = progress.on_heartbeat();
            match progress.mode {
                ProgressMode::Probe { .. } if active => self.send_append(peer, true),
                ProgressMode::Snapshot { .. } => self.heartbeat_snapshot(peer, active),
                _ => self.send_empty_append(peer),
            }
        }
    }

    /// An AppendEntries without entries: at the follower's next index if we still hold
    /// the entry before it, else at our last index (a plain liveness probe whose answer
    /// marks the follower active, so that the next heartbeat sends the snapshot).
    fn send_empty_append(&mut self, peer: NodeId) {
        let Role::Leader(leader) = &self.role else {
            return;
        };
        let Some(progress) = leader.progress.get(&peer).copied() else {
            return;
        };
        self.send_empty_append_at(peer, progress.next_index.prev());
    }

    /// An AppendEntries without entries whose previous entry is `prev` (or our last
    /// entry, if we no longer know the term at `prev`).
    pub(crate) fn send_empty_append_at(&mut self, peer: NodeId, prev: LogIndex) {
        let prev = if self.log.term_at(prev).is_some() && prev >= self.log.snapshot_index() {
            prev
        } else {
            self.log.last_index()
        };
        let Some(prev_term) = self.log.term_at(prev) else {
            return;
        };
        let append = AppendEntries::new(prev, prev_term, Entries::new(), self.log.committed());
        self.send(
            peer,
            Body::AppendEntries(append.with_round(self.current_round())),
        );
        if let Role::Leader(leader) = &mut self.role {
            if let Some(progress) = leader.progress.get_mut(&peer) {
                progress.on_sent(prev);
            }
        }
    }

    /// Sends `peer` the entries from its next index (or the snapshot, if they are
    /// compacted). With `allow_empty`, an AppendEntries without entries goes out too.
    pub(crate) fn send_append(&mut self, peer: NodeId, allow_empty: bool) {
        let Role::Leader(leader) = &self.role else {
            return;
        };
        let Some(progress) = leader.progress.get(&peer).copied() else {
            return;
        };
        if !progress.can_send() {
            return;
        }
        if progress.next_index <= self.log.snapshot_index() {
            self.send_snapshot(peer);
            return;
        }
        if progress.mode == ProgressMode::Replicate && !progress.may_stream() {
            // Merged into the message the next answer lets out.
            return;
        }
        let budget = append_entries_budget(self.config.max_message_bytes());
        let prev = progress.next_index.prev();
        let Some(prev_term) = self.log.term_at(prev) else {
            return;
        };
        let entries = self.log.entries_from(progress.next_index, budget);
        if entries.is_empty() && !allow_empty {
            return;
        }
        let last_sent = entries.last().map_or(prev, Entry::index);
        let append = AppendEntries::new(prev, prev_term, entries, self.log.committed());
        self.send(
            peer,
            Body::AppendEntries(append.with_round(self.current_round())),
        );
        if let Role::Leader(leader) = &mut self.role {
            if let Some(progress) = leader.progress.get_mut(&peer) {
                progress.on_sent(last_sent);
            }
        }
    }

    /// The leader's answer handling: advance on success, back up a whole term per round
    /// trip on rejection.
    pub(crate) fn handle_append_reply(&mut self, from: NodeId, reply: &AppendEntriesReply) {
        let hint = if reply.success {
            None
        } else {
            Some(self.backup_hint(reply))
        };
        let Role::Leader(leader) = &mut self.role else {
            return;
        };
        let Some(progress) = leader.progress.get_mut(&from) else {
            return;
        };
        progress.on_reply();
        if !reply.success && reply.conflict_index == 0 {
            // A rejection naming no index answers a request of an earlier term (see
            // `answer_stale`): it says nothing about the follower's log.
            return;
        }
        match hint {
            None => {
                let mut matched = reply.match_index().min(self.log.last_index());
                if planted!(self.config, MatchFromNextIndex) {
                    matched = matched.max(progress.next_index.prev());
                }
                if progress.on_match(matched) {
                    // A match at or below the commit index leaves the commit index as it
                    // is: the replicas above it are the same.
                    if matched > self.log.committed() {
                        self.maybe_commit();
                    }
                    self.send_append(from, false);
                }
                if planted!(self.config, BroadcastOnEveryReply) {
                    for position in 0..self.config.voters().len() {
                        if let Some(peer) = self.peer_at(position) {
                            self.send_append(peer, true);
                        }
                    }
                }
            }
            Some(hint) => {
                // A rejection can only be about an index we sent: past our log, it is forged.
                let rejected = reply.rejected_index().min(self.log.last_index());
                if progress.on_reject(rejected, hint) {
                    self.send_append(from, true);
                }
            }
        }
    }

    /// Where to retry after a rejection: just past our last entry of the follower's
    /// conflicting term if we have that term, else the first index the follower holds
    /// for it (or its log length when its log was too short).
    fn backup_hint(&self, reply: &AppendEntriesReply) -> LogIndex {
        if planted!(self.config, BackupFromStart) {
            return LogIndex(1);
        }
        let conflict_index = LogIndex(reply.conflict_index.max(1));
        if reply.conflict_term == 0 {
            return conflict_index;
        }
        match self.log.last_index_of_term(Term(reply.conflict_term)) {
            Some(last) => last.next(),
            None => conflict_index,
        }
    }

    /// Commits the largest index a majority holds, if it is from the current term (§5.4.2).
    pub(crate) fn maybe_commit(&mut self) {
        let Role::Leader(leader) = &self.role else {
            return;
        };
        let matches = leader.progress.values().map(|p| p.match_index);
        let matches = matches.chain([self.log.last_index()]);
        let candidate = held_by(matches, |voters| self.commit_quorum(voters));
        // Counting replicas is only enough for an entry of the current term (§5.4.2).
        let own_term = self.log.term_at(candidate) == Some(self.term);
        if candidate > self.log.committed() && (own_term || planted!(self.config, Figure8Commit)) {
            self.log.commit_to(candidate);
        }
    }

    /// Starts a leader's next heartbeat round: every AppendEntries from now on carries it.
    pub(crate) fn start_round(&mut self) {
        if let Role::Leader(leader) = &mut self.role {
            leader.reads.start_round();
        }
    }

    /// The follower's side of AppendEntries (the term is already settled as ours). Every
    /// answer echoes the request's round.
    pub(crate) fn handle_append_entries(&mut self, from: NodeId, append: AppendEntries) {
        let round = append.round;
        let Some((prev, entries)) =
            self.skip_compacted(append.prev_log_index, append.prev_log_term, append.entries)
        else {
            return;
        };
        let prev_index = prev.0;
        if !well_formed(prev, &entries, self.term) {
            return;
        }
        match self.log.term_at(prev_index) {
            None => {
                // Our log is too short: tell the leader where it ends.
                let end = self.log.last_index().next();
                self.reject_append(from, round, (prev_index, Term::ZERO, end));
                return;
            }
            Some(term) if term != prev.1 && !planted!(self.config, IgnorePrevTerm) => {
                let mut first = self.log.first_index_of_term_at(prev_index);
                if planted!(self.config, BackupHintOffByOne) {
                    first = first.next();
                }
                self.reject_append(from, round, (prev_index, term, first));
                return;
            }
            Some(_) => {}
        }
        let last_new = prev_index.plus(entries.len() as u64);
        let persists_at = self.actions.len();
        if !self.store_entries(entries) {
            return;
        }
        let vouched = if planted!(self.config, FollowerCommitPastNew) {
            self.log.last_index()
        } else {
            last_new
        };
        self.log
            .commit_to(LogIndex(append.leader_commit).min(vouched));
        let reply = AppendEntriesReply::success(last_new).with_round(round);
        self.send(from, Body::AppendEntriesReply(reply));
        if planted!(self.config, AckBeforePersist) {
            // The reply goes out before the entries it acknowledges are durable.
            if let Some(reply) = self.actions.pop() {
                self.actions.insert(persists_at, reply);
            }
        }
    }

    /// Drops the entries of an AppendEntries that fall inside our snapshot (they are
    /// committed, so they match). Returns the new (prev index, prev term) and entries.
    fn skip_compacted(
        &self,
        prev_index: u64,
        prev_term: u64,
        mut entries: Entries,
    ) -> Option<((LogIndex, Term), Entries)> {
        let snapshot_index = self.log.snapshot_index();
        let prev = LogIndex(prev_index);
        if prev >= snapshot_index {
            return Some(((prev, Term(prev_term)), entries));
        }
        let covered = usize::try_from(snapshot_index.0 - prev.0).ok()?;
        if covered > entries.len() {
            // Everything it carries is already in our snapshot: nothing to check or store.
            return Some(((snapshot_index, self.log.snapshot_term()), Entries::new()));
        }
        entries.skip_front(covered);
        Some(((snapshot_index, self.log.snapshot_term()), entries))
    }

    /// Stores entries after a matching prefix: skip those we already hold, truncate at the
    /// first conflict, append the rest. Returns false if the leader asked us to drop a
    /// committed entry (impossible under Raft; the message is ignored).
    fn store_entries(&mut self, mut entries: Entries) -> bool {
        let mut new_from = entries.len();
        for (position, entry) in entries.iter().enumerate() {
            match self.log.term_at(entry.index()) {
                Some(term) if term == entry.term() => continue,
                Some(_) => {
                    if entry.index() <= self.log.committed() {
                        return false;
                    }
                    self.log.truncate_from(entry.index());
                    self.actions
                        .push(Action::Persist(PersistAction::TruncateFrom(entry.index())));
                }
                None => {}
            }
            new_from = position;
            break;
        }
        let last_new = entries.last().map(Entry::index);
        if new_from < entries.len() {
            entries.skip_front(new_from);
            self.log.append(entries.clone());
            self.actions
                .push(Action::Persist(PersistAction::Append(entries)));
        }
        if planted!(self.config, TruncateMatchingTail) {
            self.drop_tail_after(last_new);
        }
        true
    }

    /// TEST ONLY (the `TruncateMatchingTail` bug): drops the uncommitted entries past
    /// `last_new`, as if the log ended with the message.
    fn drop_tail_after(&mut self, last_new: Option<LogIndex>) {
        let Some(last_new) = last_new else {
            return;
        };
        let from = last_new.max(self.log.committed()).next();
        if from <= self.log.last_index() {
            self.log.truncate_from(from);
            self.actions
                .push(Action::Persist(PersistAction::TruncateFrom(from)));
        }
    }

    /// Rejects an AppendEntries of `round` at (rejected index, conflict term, conflict index).
    fn reject_append(&mut self, to: NodeId, round: u64, at: (LogIndex, Term, LogIndex)) {
        let (rejected, conflict_term, conflict_index) = at;
        let reply = AppendEntriesReply::reject(rejected, conflict_term, conflict_index);
        self.send(to, Body::AppendEntriesReply(reply.with_round(round)));
    }
}

/// Entries must be consecutive after `prev`, with terms that never decrease and never
/// pass the leader's term; anything else is a malformed message.
fn well_formed(prev: (LogIndex, Term), entries: &Entries, leader_term: Term) -> bool {
    let (prev_index, mut previous_term) = prev;
    entries.iter().enumerate().all(|(offset, entry)| {
        let ok = entry.index() == prev_index.plus(offset as u64 + 1)
            && entry.term() >= previous_term
            && entry.term() <= leader_term;
        previous_term = entry.term();
        ok
    })
}
