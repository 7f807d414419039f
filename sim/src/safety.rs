//! The Raft safety checker: watches every node after every step.
//!
//! Election safety (one leader per term over the whole run), state machine safety and
//! log matching on committed prefixes (every committed index holds one entry, whoever
//! commits it), leader completeness (a new leader holds every entry committed before),
//! and monotonicity on a live node (term and vote never go back, commit never decreases
//! within an incarnation).

use std::collections::BTreeMap;

use raft_core::{Entry, LogIndex, Node, NodeId, Term};

#[derive(Clone, Debug, Default)]
struct Seen {
    term: Term,
    voted_for: Option<NodeId>,
    commit: LogIndex,
    leading: bool,
}

/// The checker's memory of the run.
#[derive(Clone, Debug)]
pub struct SafetyChecker {
    seen: Vec<Seen>,
    leaders: BTreeMap<Term, usize>,
    /// The entry committed at each index (index 1 at position 0), as first seen.
    committed: Vec<Option<(Term, raft_core::bytes::Bytes)>>,
}

impl SafetyChecker {
    /// A checker for `servers` servers.
    pub fn new(servers: usize) -> SafetyChecker {
        SafetyChecker {
            seen: vec![Seen::default(); servers],
            leaders: BTreeMap::new(),
            committed: Vec::new(),
        }
    }

    /// How many terms had a leader so far.
    pub fn leaders_elected(&self) -> usize {
        self.leaders.len()
    }

    /// A server restarted: its commit index starts again from its snapshot.
    pub fn on_restart(&mut self, server: usize, node: &Node) {
        let seen = &mut self.seen[server];
        seen.commit = node.commit_index();
        seen.leading = false;
    }

    /// Checks `node` (server `server`) after one of its steps.
    pub fn observe(&mut self, server: usize, node: &Node) -> Result<(), String> {
        node.check_invariants()
            .map_err(|e| format!("local invariant broken on server {server}: {e}"))?;
        self.check_monotonic(server, node)?;
        self.check_new_commits(server, node)?;
        self.check_leader(server, node)?;
        let seen = &mut self.seen[server];
        seen.term = node.term();
        seen.voted_for = node.voted_for();
        seen.commit = node.commit_index();
        seen.leading = node.is_leader();
        Ok(())
    }

    fn check_monotonic(&self, server: usize, node: &Node) -> Result<(), String> {
        let seen = &self.seen[server];
        if node.term() < seen.term {
            return Err(format!(
                "term went backwards on server {server}: {} -> {}",
                seen.term.0,
                node.term().0
            ));
        }
        if node.term() == seen.term
            && seen.voted_for.is_some()
            && node.voted_for() != seen.voted_for
        {
            return Err(format!(
                "vote changed within term {} on server {server}: {:?} -> {:?}",
                seen.term.0,
                seen.voted_for,
                node.voted_for()
            ));
        }
        if node.commit_index() < seen.commit {
            return Err(format!(
                "commit index went backwards on server {server}: {} -> {}",
                seen.commit.0,
                node.commit_index().0
            ));
        }
        Ok(())
    }

    /// State machine safety and log matching: a committed index holds one entry only.
    fn check_new_commits(&mut self, server: usize, node: &Node) -> Result<(), String> {
        let from = self.seen[server].commit.next();
        let mut index = from;
        while index <= node.commit_index() {
            if let Some(entry) = node.entry(index) {
                self.record_commit(server, entry)?;
            }
            index = index.next();
        }
        Ok(())
    }

    fn record_commit(&mut self, server: usize, entry: &Entry) -> Result<(), String> {
        let position = (entry.index().0 - 1) as usize;
        if self.committed.len() <= position {
            self.committed.resize(position + 1, None);
        }
        match &self.committed[position] {
            Some((term, data)) if *term != entry.term() || *data != entry.data() => Err(format!(
                "state machine safety: index {} committed as {}/{} bytes earlier, server {server} commits {}/{} bytes",
                entry.index().0,
                term.0,
                data.len(),
                entry.term().0,
                entry.data().len()
            )),
            Some(_) => Ok(()),
            None => {
                self.committed[position] = Some((entry.term(), entry.data().clone()));
                Ok(())
            }
        }
    }

    /// Election safety, and leader completeness at the moment a node becomes leader.
    fn check_leader(&mut self, server: usize, node: &Node) -> Result<(), String> {
        if !node.is_leader() {
            return Ok(());
        }
        let term = node.term();
        match self.leaders.get(&term) {
            Some(&other) if other != server => {
                return Err(format!(
                    "election safety: term {} has two leaders, servers {other} and {server}",
                    term.0
                ))
            }
            Some(_) => return Ok(()),
            None => {
                self.leaders.insert(term, server);
            }
        }
        for (position, slot) in self.committed.iter().enumerate() {
            let Some((committed_term, _)) = slot else {
                continue;
            };
            let index = LogIndex(position as u64 + 1);
            if index <= node.snapshot_index() {
                continue;
            }
            if node.term_at(index) != Some(*committed_term) {
                return Err(format!(
                    "leader completeness: server {server}, leader of term {}, lacks committed entry {}/{} (holds {:?})",
                    term.0,
                    index.0,
                    committed_term.0,
                    node.term_at(index).map(|t| t.0)
                ));
            }
        }
        Ok(())
    }
}
