//! A node's queries agree with what it did: its term, vote, log end and snapshot with
//! what it persisted, its applied index with what its service was handed, its commit
//! index between the two. The checkers read a node through these queries, so a query
//! that lies would blind them.

use raft_core::{Node, PersistedState};

use super::durable::persisted_term_at;

/// Checks `node` (server `server`) after a step against its persister and the last
/// index its service holds.
pub fn check(
    server: usize,
    node: &Node,
    persisted: &PersistedState,
    service_index: u64,
) -> Result<(), String> {
    let last = persisted.last_index();
    let disagree = |what: &str, node_says: String, truth: String| {
        Err(format!(
            "queries: server {server} reports {what} {node_says}, but {truth}"
        ))
    };
    if (node.term(), node.voted_for()) != (persisted.term(), persisted.voted_for()) {
        let says = format!("{:?}/{:?}", node.term(), node.voted_for());
        let truth = format!(
            "it persisted {:?}/{:?}",
            persisted.term(),
            persisted.voted_for()
        );
        return disagree("term/vote", says, truth);
    }
    let durable_last_term = persisted_term_at(persisted, last);
    if node.last_log_index() != last
        || Some(node.last_log_term()) != durable_last_term
        || node.term_at(last) != durable_last_term
        || node.snapshot_index() != persisted.snapshot_index()
        || node.entry(last) != persisted.entries().back()
    {
        let says = format!(
            "log end {}/{} after snapshot {}",
            node.last_log_index(),
            node.last_log_term(),
            node.snapshot_index()
        );
        let truth = format!(
            "it persisted {last}/{durable_last_term:?} after {}",
            persisted.snapshot_index()
        );
        return disagree("its", says, truth);
    }
    if node.applied_index().0 != service_index {
        let truth = format!("its service holds index {service_index}");
        return disagree("applied index", node.applied_index().to_string(), truth);
    }
    let commit = node.commit_index();
    if commit < node.applied_index() || commit > node.last_log_index() {
        let truth = format!("it applied {} of {last}", node.applied_index());
        return disagree("commit index", commit.to_string(), truth);
    }
    Ok(())
}
