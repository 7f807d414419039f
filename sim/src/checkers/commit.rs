//! Committed means durable on a majority: whenever a node's commit index moves, the
//! entry it now commits is held, with the same term, by a majority of the servers'
//! persisters (or covered by their snapshots). Raft commits an entry only once a
//! majority acknowledged it, acknowledgments are sent only after the entry is durable,
//! and no server ever drops a committed entry.

use raft_core::{LogIndex, Node, PersistedState};

use super::durable::persisted_term_at;

/// Checks that the entry at `node`'s commit index (server `server`) is durable on a
/// majority of `persisted`.
pub fn check_commit(
    server: usize,
    node: &Node,
    persisted: &[&PersistedState],
) -> Result<(), String> {
    let commit = node.commit_index();
    if commit == LogIndex::ZERO {
        return Ok(());
    }
    let Some(term) = node.term_at(commit) else {
        // Covered by this node's own snapshot: committed when the snapshot was taken.
        return Ok(());
    };
    let holders = persisted
        .iter()
        .filter(|state| {
            commit < state.snapshot_index() || persisted_term_at(state, commit) == Some(term)
        })
        .count();
    if 2 * holders > persisted.len() {
        return Ok(());
    }
    Err(format!(
        "commit rule: server {server} commits {commit}/{term}, which only {holders} of {} servers hold durably",
        persisted.len()
    ))
}
