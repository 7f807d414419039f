//! Fast-backup efficiency: a leader finds where a follower's log matches its own by the
//! probes the lab's fast backup makes, and no more; and what an AppendEntries carries.
//!
//! An episode starts at the first AppendEntries a follower rejects in a leader's term
//! and ends at its first success in that term (or when the leader sends it a snapshot).
//! Until then every AppendEntries the leader sends it probes the same next index (a
//! heartbeat repeats it; loss, duplication and reordering repeat it too), so the episode
//! visits a set of probe points. At the first rejection the checker replays the lab's
//! rule on the two logs as they are then: the follower answers the term of its entry at
//! the probe point and the first index it holds of that term (or its log length, when
//! its log is too short); the leader retries just past its own last entry of that term,
//! or at that first index when it has none. Neither log changes in a way that matters
//! during the episode (only the leader writes the follower's log, and only on a match;
//! the leader only appends). A probe point off the rule's path, or more distinct
//! rejected probe points than the rule needs, means a backup that wastes round trips or
//! resends entries the follower holds, e.g. a hint that is off by one.
//!
//! Every AppendEntries a leader sends carries its own entries, as many as fit in the
//! configured message size (or a single entry), counting each entry as its record in the
//! message and the rest of the message at its largest ([`APPEND_HEADER_MAX_BYTES`]); and
//! none that the follower already acknowledged to it in this term (the follower keeps
//! them for the term).

use std::collections::{BTreeMap, BTreeSet};

use raft_core::{
    entry_record_len, AppendEntries, AppendEntriesReply, Body, LogIndex, Message, Node, Term,
};

/// The most bytes an AppendEntries takes besides its entries: eight numbers (envelope and
/// request), each a one-byte tag and a varint of at most ten bytes.
pub const APPEND_HEADER_MAX_BYTES: usize = 8 * 11;

/// One leader-follower episode in one term.
#[derive(Clone, Debug)]
struct Episode {
    term: Term,
    /// The probe point of the first rejection; later ones lie below it.
    first: LogIndex,
    /// The probe points of the lab's fast backup from `first` on.
    path: Vec<LogIndex>,
    /// How many of them are rejected (all but a final match).
    needed: usize,
    rejected: BTreeSet<LogIndex>,
    closed: bool,
}

impl Episode {
    fn closed(term: Term) -> Episode {
        Episode {
            term,
            first: LogIndex::ZERO,
            path: Vec::new(),
            needed: 0,
            rejected: BTreeSet::new(),
            closed: true,
        }
    }
}

/// The checker's episodes, by (leader, follower).
#[derive(Clone, Debug, Default)]
pub struct BackupChecker {
    episodes: BTreeMap<(usize, usize), Episode>,
    /// The highest index each follower acknowledged to each leader, and in which term.
    acked: BTreeMap<(usize, usize), (Term, LogIndex)>,
}

impl BackupChecker {
    /// A checker with no episode yet.
    pub fn new() -> BackupChecker {
        BackupChecker::default()
    }

    /// Watches one message sent from `from` to `to`; `sender` and `receiver` are their
    /// nodes (the sender after its step), if they run.
    pub fn on_send(
        &mut self,
        (from, to): (usize, usize),
        message: &Message,
        sender: Option<&Node>,
        receiver: Option<&Node>,
    ) -> Result<(), String> {
        match message.body() {
            Some(Body::InstallSnapshot(_)) => {
                self.close((from, to), message.term());
                Ok(())
            }
            Some(Body::AppendEntries(append)) => {
                let Some(leader) = sender else {
                    return Ok(());
                };
                check_carried(from, leader, append)?;
                self.check_not_acked((from, to), message.term(), append)?;
                let held = self
                    .acked_in((from, to), message.term())
                    .max(leader.snapshot_index());
                if append.entries().is_empty() && append.prev_log_index() <= held {
                    // A ReadIndex round at what the follower holds (or at the snapshot,
                    // when that was compacted): no probe.
                    return Ok(());
                }
                if append.prev_log_index() == leader.snapshot_index()
                    && leader.snapshot_index() > LogIndex::ZERO
                {
                    // The leader probes its snapshot point, whose term it knows: the
                    // follower may have compacted up to there since the episode began
                    // (its first index of a term moves up), and the alternative is the
                    // snapshot itself.
                    return Ok(());
                }
                self.check_probe((from, to), message.term(), append.prev_log_index())
            }
            Some(Body::AppendEntriesReply(reply)) if reply.is_success() => {
                self.close((to, from), message.term());
                Ok(())
            }
            // The answer to a request of an older term (no conflict index) is no probe.
            Some(Body::AppendEntriesReply(reply)) if reply.conflict_index() == LogIndex::ZERO => {
                Ok(())
            }
            Some(Body::AppendEntriesReply(reply)) => {
                let (Some(follower), Some(leader)) = (sender, receiver) else {
                    return Ok(());
                };
                if !leader.is_leader() || leader.term() != message.term() {
                    return Ok(());
                }
                self.on_reject((to, from), reply, leader, follower)
            }
            _ => Ok(()),
        }
    }

    /// Watches a message delivered from `from` to `to`, whose node is `receiver` before
    /// it steps the message: a leader learns what its follower holds.
    pub fn on_deliver(&mut self, (from, to): (usize, usize), message: &Message, receiver: &Node) {
        let index = match message.body() {
            Some(Body::AppendEntriesReply(reply)) if reply.is_success() => reply.match_index(),
            Some(Body::InstallSnapshotReply(reply)) => reply.last_included_index(),
            _ => return,
        };
        if !receiver.is_leader() || receiver.term() != message.term() {
            return;
        }
        let term = message.term();
        let acked = self
            .acked
            .entry((to, from))
            .or_insert((term, LogIndex::ZERO));
        if acked.0 != term {
            *acked = (term, LogIndex::ZERO);
        }
        acked.1 = acked.1.max(index.min(receiver.last_log_index()));
    }

    /// The highest index the follower acknowledged to the leader in `term` (0 if none).
    fn acked_in(&self, pair: (usize, usize), term: Term) -> LogIndex {
        match self.acked.get(&pair) {
            Some(&(acked_term, acked)) if acked_term == term => acked,
            _ => LogIndex::ZERO,
        }
    }

    fn check_not_acked(
        &self,
        (leader_at, follower_at): (usize, usize),
        term: Term,
        append: &AppendEntries,
    ) -> Result<(), String> {
        let (Some(first), Some(&(acked_term, acked))) = (
            append.entries().first(),
            self.acked.get(&(leader_at, follower_at)),
        ) else {
            return Ok(());
        };
        if acked_term == term && first.index() <= acked {
            return Err(format!(
                "append: leader server {leader_at} (term {}) resent entry {} to server {follower_at}, which acknowledged up to {acked}",
                term.0,
                first.index()
            ));
        }
        Ok(())
    }

    /// No episode (or no more of it) for this pair in `term`: the follower matched, or
    /// the leader sent it a snapshot.
    /// An AppendEntries the leader sends the follower during an episode probes a point
    /// of the rule's path (or the leader's last entry, above the first probe).
    fn check_probe(
        &self,
        (leader_at, follower_at): (usize, usize),
        term: Term,
        prev: LogIndex,
    ) -> Result<(), String> {
        let Some(episode) = self.episodes.get(&(leader_at, follower_at)) else {
            return Ok(());
        };
        if episode.closed || episode.term != term || prev > episode.first {
            return Ok(());
        }
        if episode.path.contains(&prev) {
            return Ok(());
        }
        let path: Vec<u64> = episode.path.iter().map(|index| index.0).collect();
        Err(format!(
            "fast backup: leader server {leader_at} (term {}) probed server {follower_at} at index {}, off the lab's fast-backup path {path:?}",
            term.0, prev.0
        ))
    }

    fn close(&mut self, pair: (usize, usize), term: Term) {
        let episode = self
            .episodes
            .entry(pair)
            .or_insert_with(|| Episode::closed(term));
        if episode.term == term {
            episode.closed = true;
        } else if episode.term < term {
            *episode = Episode::closed(term);
        }
    }

    fn on_reject(
        &mut self,
        (leader_at, follower_at): (usize, usize),
        reply: &AppendEntriesReply,
        leader: &Node,
        follower: &Node,
    ) -> Result<(), String> {
        let probe = reply.rejected_index();
        let term = leader.term();
        let episode = self
            .episodes
            .entry((leader_at, follower_at))
            .or_insert_with(|| Episode::closed(Term::ZERO));
        if episode.term != term {
            let (path, needed) = backup_path(leader, follower, probe);
            *episode = Episode {
                term,
                first: probe,
                path,
                needed,
                rejected: BTreeSet::new(),
                closed: false,
            };
        }
        // A probe point the leader has compacted (or its snapshot point, where ReadIndex
        // rounds also probe): it sends a snapshot next and probes its last entry
        // meanwhile (a liveness probe); the backup is over.
        let next = leader.progress(follower.id()).map(|p| p.next_index);
        if leader.snapshot_index() >= probe || next.is_some_and(|n| n <= leader.snapshot_index()) {
            episode.closed = true;
        }
        // Probes above the first come from heartbeats that probe the leader's last entry
        // (its log grew since); they are not part of the backup.
        if episode.closed || probe > episode.first {
            return Ok(());
        }
        episode.rejected.insert(probe);
        if episode.rejected.len() > episode.needed {
            return Err(format!(
                "fast backup: leader server {leader_at} (term {}) had {} probes rejected by server {follower_at} below index {} (the lab's fast backup needs {})",
                term.0,
                episode.rejected.len(),
                episode.first.0,
                episode.needed
            ));
        }
        Ok(())
    }
}

/// The probe points of the lab's fast backup to find the match point of `follower`'s
/// log with `leader`'s, starting with a probe at `probe`, and how many are rejected.
/// The first probe is known to be rejected (the leader may have compacted it since).
fn backup_path(leader: &Node, follower: &Node, mut probe: LogIndex) -> (Vec<LogIndex>, usize) {
    let mut path = Vec::new();
    loop {
        let rejected = path.len();
        let leader_term = leader.term_at(probe);
        let later = rejected > 0;
        if later && (probe < follower.snapshot_index() || leader_term.is_none()) {
            path.push(probe);
            return (path, rejected);
        }
        let (conflict_term, conflict_index) = match follower.term_at(probe) {
            Some(term) if later && Some(term) == leader_term => {
                path.push(probe);
                return (path, rejected);
            }
            Some(term) => (term, first_index_of_term(follower, probe, term)),
            None => (Term::ZERO, follower.last_log_index().next()),
        };
        path.push(probe);
        let conflict_index = conflict_index.max(LogIndex(1));
        let hint = if conflict_term == Term::ZERO {
            conflict_index
        } else {
            last_index_of_term(leader, conflict_term).map_or(conflict_index, LogIndex::next)
        };
        let next = hint.clamp(LogIndex(1), probe.max(LogIndex(1)));
        if next <= leader.snapshot_index() {
            return (path, rejected + 1);
        }
        probe = next.prev();
    }
}

/// The first index `node` holds of `term`, scanning back from `index` (which holds it)
/// no further than its first held entry.
fn first_index_of_term(node: &Node, index: LogIndex, term: Term) -> LogIndex {
    let mut first = index;
    while first > node.snapshot_index().next() && node.term_at(first.prev()) == Some(term) {
        first = first.prev();
    }
    first
}

/// The last index of a held entry of `term` in `node`'s log (not the snapshot's).
fn last_index_of_term(node: &Node, term: Term) -> Option<LogIndex> {
    let mut index = node.last_log_index();
    while index > node.snapshot_index() {
        match node.term_at(index) {
            Some(held) if held == term => return Some(index),
            Some(held) if held < term => return None,
            _ => index = index.prev(),
        }
    }
    None
}

/// What a leader's AppendEntries carries: its own entries, at most its payload budget
/// (or one entry), and as many as fit.
fn check_carried(server: usize, leader: &Node, append: &AppendEntries) -> Result<(), String> {
    let entries = append.entries();
    let Some(last) = entries.last() else {
        return Ok(());
    };
    // The checker sees the leader after its whole step: an entry a KV server compacted
    // into a snapshot later in the same step is no longer in its log (the durable checker
    // compared it with the persister at the send).
    let compacted = leader.snapshot_index();
    let not_held =
        |e: &&raft_core::Entry| e.index() > compacted && leader.entry(e.index()) != Some(*e);
    if let Some(entry) = entries.iter().find(not_held) {
        return Err(format!(
            "append: server {server} sent entry {}/{} it does not hold",
            entry.index(),
            entry.term()
        ));
    }
    let budget = leader
        .config()
        .max_message_bytes()
        .saturating_sub(APPEND_HEADER_MAX_BYTES);
    let payload: usize = entries.iter().map(entry_record_len).sum();
    if entries.len() > 1 && payload > budget {
        return Err(format!(
            "append: server {server} sent {payload} payload bytes in {} entries (the budget is {budget})",
            entries.len()
        ));
    }
    if let Some(next) = leader.entry(last.index().next()) {
        if entry_record_len(next) <= budget.saturating_sub(payload) {
            return Err(format!(
                "append: server {server} stopped at entry {} with {payload} of {budget} payload bytes, though entry {} ({} bytes) fits",
                last.index(),
                next.index(),
                next.data().len()
            ));
        }
    }
    Ok(())
}
