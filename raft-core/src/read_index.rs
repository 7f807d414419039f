//! ReadIndex (thesis §6.4): linearizable reads without writing to the log.
//!
//! Every AppendEntries a leader sends carries its current heartbeat *round*; followers
//! echo it. A read asked while the current round is `r` needs a majority (the leader
//! included) to have echoed round `r + 1` or later: those requests left after the read was
//! asked, so their answers prove that no other leader had been elected by then. Its read
//! index is the commit index when it was asked, once an entry of the leader's term has
//! committed (before that, the commit index at that first commit).
//!
//! Round `r + 1` starts at once when no round is in flight (so a read costs one round
//! trip); reads asked while one is in flight share the next, started as soon as the one in
//! flight is confirmed (or by the heartbeat timer, which also starts a round).

use std::collections::{BTreeMap, VecDeque};

use crate::action::{Action, ReadError};
use crate::message::{AppendEntries, Body};
use crate::node::{Node, Role};
use crate::quorum::majority_of;
use crate::types::{LogIndex, NodeId};

/// A read waiting for its confirmation round or for an own-term commit.
#[derive(Clone, Copy, Debug)]
struct PendingRead {
    context: u64,
    /// The round a majority must echo.
    round: u64,
    /// The read index; `None` until an entry of the leader's term has committed.
    index: Option<LogIndex>,
}

/// A leader's heartbeat rounds and the reads waiting on them.
#[derive(Clone, Debug)]
pub(crate) struct ReadQueue {
    /// The latest round started (0: none yet).
    round: u64,
    /// The highest round each peer echoed.
    acked: BTreeMap<NodeId, u64>,
    /// Unanswered reads, oldest first (their rounds never decrease).
    pending: VecDeque<PendingRead>,
}

impl ReadQueue {
    pub(crate) fn new(peers: impl Iterator<Item = NodeId>) -> ReadQueue {
        ReadQueue {
            round: 0,
            acked: peers.map(|peer| (peer, 0)).collect(),
            pending: VecDeque::new(),
        }
    }

    /// The latest round started.
    pub(crate) fn round(&self) -> u64 {
        self.round
    }

    /// Starts the next round; every AppendEntries from now on carries it.
    pub(crate) fn start_round(&mut self) -> u64 {
        self.round += 1;
        self.round
    }

    /// `peer` echoed `round`. An echo of a round not yet started cannot come from an
    /// honest peer (rounds restart with each leadership, and answers of older terms are
    /// dropped before this): it is ignored.
    pub(crate) fn ack(&mut self, peer: NodeId, round: u64) {
        if round > self.round {
            return;
        }
        if let Some(acked) = self.acked.get_mut(&peer) {
            *acked = (*acked).max(round);
        }
    }

    /// The latest round a majority echoed (the leader echoes its own rounds at once).
    pub(crate) fn confirmed(&self) -> u64 {
        majority_of(self.acked.values().copied().chain([self.round]))
    }

    /// Queues a read asked now, with its index if already known.
    fn push(&mut self, context: u64, index: Option<LogIndex>) {
        let round = self.round + 1;
        self.pending.push_back(PendingRead {
            context,
            round,
            index,
        });
    }

    /// Whether a read waits for a round not yet started, and none is in flight.
    fn wants_round(&self) -> bool {
        let waiting = self
            .pending
            .back()
            .is_some_and(|read| read.round > self.round);
        waiting && self.confirmed() == self.round
    }

    /// Reads asked before the leader's first own-term commit take `commit`.
    fn fill_index(&mut self, commit: LogIndex) {
        for read in self.pending.iter_mut().take_while(|r| r.index.is_none()) {
            read.index = Some(commit);
        }
    }

    /// Removes and returns the reads that are confirmed and have their index.
    fn take_ready(&mut self) -> Vec<(u64, LogIndex)> {
        let confirmed = self.confirmed();
        let mut ready = Vec::new();
        while let Some(read) = self.pending.front().copied() {
            let (true, Some(index)) = (read.round <= confirmed, read.index) else {
                break;
            };
            self.pending.pop_front();
            ready.push((read.context, index));
        }
        ready
    }

    /// The contexts of every unanswered read, removing them.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = u64> + '_ {
        self.pending.drain(..).map(|read| read.context)
    }

    /// The number of unanswered reads.
    pub(crate) fn len(&self) -> usize {
        self.pending.len()
    }

    /// The queue's invariants, given the leader's commit index.
    pub(crate) fn check(&self, commit: LogIndex) -> Result<(), String> {
        if self.acked.values().any(|&acked| acked > self.round) {
            return Err("a peer acknowledged a round not yet started".into());
        }
        let mut previous = 0;
        for read in &self.pending {
            if read.round < previous || read.round > self.round + 1 {
                return Err(format!(
                    "read {} waits for round {}",
                    read.context, read.round
                ));
            }
            if read.index.is_some_and(|index| index > commit) {
                return Err(format!("read {} is past the commit index", read.context));
            }
            previous = read.round;
        }
        Ok(())
    }
}

impl Node {
    /// The service asks for a linearizable read.
    pub(crate) fn read_index(&mut self, context: u64) {
        let index = self.read_commit();
        let Role::Leader(leader) = &mut self.role else {
            let leader_hint = self.leader_hint();
            self.actions.push(Action::Read {
                context,
                outcome: Err(ReadError::NotLeader { leader_hint }),
            });
            return;
        };
        if planted!(self.config, ReadWithoutRound) {
            let outcome = Ok(self.log.committed());
            self.actions.push(Action::Read { context, outcome });
            return;
        }
        leader.reads.push(context, index);
        self.advance_reads();
    }

    /// The leader's commit index once it may serve as a read index: once an entry of
    /// its term has committed.
    fn read_commit(&self) -> Option<LogIndex> {
        let may = self.committed_in_term() || planted!(self.config, ReadBeforeTermCommit);
        may.then(|| self.log.committed())
    }

    /// Whether an entry of the current term has committed (the leader's commit index is
    /// then at least every index committed before its election).
    pub(crate) fn committed_in_term(&self) -> bool {
        self.log.term_at(self.log.committed()) == Some(self.term)
    }

    /// After every step of a leader: give waiting reads their index, start a round if
    /// reads wait for one, and answer the reads that are ready.
    pub(crate) fn advance_reads(&mut self) {
        match &self.role {
            Role::Leader(leader) if leader.reads.len() > 0 => {}
            _ => return,
        }
        let commit = self.read_commit();
        let Role::Leader(leader) = &mut self.role else {
            return;
        };
        if let Some(commit) = commit {
            leader.reads.fill_index(commit);
        }
        if leader.reads.wants_round() {
            self.broadcast_read_round();
        }
        let Role::Leader(leader) = &mut self.role else {
            return;
        };
        for (context, index) in leader.reads.take_ready() {
            self.actions.push(Action::Read {
                context,
                outcome: Ok(index),
            });
        }
    }

    /// A peer echoed `round` in an AppendEntries reply of our term.
    pub(crate) fn acknowledge_round(&mut self, from: NodeId, round: u64) {
        if let Role::Leader(leader) = &mut self.role {
            leader.reads.ack(from, round);
        }
    }

    /// The latest round of this leader (0 when not leading).
    pub(crate) fn current_round(&self) -> u64 {
        match &self.role {
            Role::Leader(leader) => leader.reads.round(),
            _ => 0,
        }
    }

    /// Starts a round for waiting reads: an empty AppendEntries to every peer.
    ///
    /// Unlike a heartbeat it leaves replication alone: each request sits at the peer's
    /// match index, which it holds, so the answer changes nothing but the round (a peer
    /// whose match index was compacted away gets one at the snapshot index).
    fn broadcast_read_round(&mut self) {
        let Role::Leader(leader) = &mut self.role else {
            return;
        };
        let round = leader.reads.start_round();
        let probes: Vec<(NodeId, LogIndex)> = leader
            .progress
            .iter()
            .map(|(&peer, progress)| (peer, progress.match_index))
            .collect();
        for (peer, match_index) in probes {
            let prev = if match_index >= self.log.snapshot_index() {
                match_index
            } else {
                self.log.snapshot_index()
            };
            let Some(prev_term) = self.log.term_at(prev) else {
                continue;
            };
            let append = AppendEntries::new(prev, prev_term, Vec::new(), self.log.committed());
            self.send(peer, Body::AppendEntries(append.with_round(round)));
        }
    }

    /// Refuses the reads of a leader that stepped down, pointing at `leader_hint`.
    pub(crate) fn refuse_reads(&mut self, reads: &mut ReadQueue, leader_hint: Option<NodeId>) {
        for context in reads.drain() {
            self.actions.push(Action::Read {
                context,
                outcome: Err(ReadError::NotLeader { leader_hint }),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue() -> ReadQueue {
        ReadQueue::new([NodeId(2), NodeId(3), NodeId(4), NodeId(5)].into_iter())
    }

    #[test]
    fn a_round_is_confirmed_by_a_majority_counting_the_leader() {
        let mut q = queue();
        assert_eq!(q.start_round(), 1);
        assert_eq!(q.confirmed(), 0);
        q.ack(NodeId(2), 1);
        assert_eq!(q.confirmed(), 0, "two of five");
        q.ack(NodeId(4), 1);
        assert_eq!(q.confirmed(), 1, "three of five");
        q.start_round();
        q.ack(NodeId(3), 99);
        q.ack(NodeId(5), 3);
        assert_eq!(q.confirmed(), 1, "echoes of rounds not started are ignored");
        q.ack(NodeId(5), 2);
        q.ack(NodeId(3), 2);
        assert_eq!(q.confirmed(), 2);
    }

    #[test]
    fn reads_wait_for_a_round_started_after_them_and_share_it() {
        let mut q = queue();
        q.start_round();
        q.push(7, Some(LogIndex(3)));
        q.push(8, Some(LogIndex(4)));
        assert!(
            !q.wants_round(),
            "round 1 is in flight: the reads wait for it"
        );
        for peer in [2, 3, 4] {
            q.ack(NodeId(peer), 1);
        }
        assert!(q.take_ready().is_empty(), "round 1 left before the reads");
        assert!(q.wants_round());
        q.start_round();
        q.push(9, Some(LogIndex(5)));
        q.ack(NodeId(2), 2);
        q.ack(NodeId(5), 2);
        assert_eq!(q.take_ready(), [(7, LogIndex(3)), (8, LogIndex(4))]);
        assert_eq!(q.len(), 1);
        assert!(q.wants_round(), "read 9 needs round 3");
    }

    #[test]
    fn reads_without_an_index_wait_even_when_confirmed() {
        let mut q = queue();
        q.push(1, None);
        q.start_round();
        for peer in [2, 3, 4, 5] {
            q.ack(NodeId(peer), 1);
        }
        assert!(q.take_ready().is_empty());
        q.fill_index(LogIndex(6));
        assert_eq!(q.take_ready(), [(1, LogIndex(6))]);
        assert_eq!(q.check(LogIndex(6)), Ok(()));
    }
}
