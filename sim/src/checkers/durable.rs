//! Persist-before-send: at every Send, what the message claims is already in its
//! sender's persister (the durable state after the step's earlier actions).
//!
//! - Every message speaks of the persisted term, except pre-votes, which speak of the
//!   next one (a request asks for it; a granted answer carries it, a refusal carries the
//!   refuser's own term).
//! - A real RequestVote: the candidate's term and self-vote are durable, and so is the
//!   log end it advertises.
//! - A granted vote: the vote for that candidate is durable.
//! - AppendEntries: the previous entry and every entry sent are durable on the leader.
//! - A successful AppendEntriesReply: the follower durably holds the log up to the
//!   acknowledged index, with the terms its in-memory log has there.
//! - InstallSnapshot: the snapshot sent is the durable one; its answer: the follower
//!   durably holds everything up to the index it reports.

use raft_core::{Body, LogIndex, Message, Node, NodeId, PersistedState, Term};

/// The term a persisted state holds at `index`: the snapshot's at its last index, an
/// entry's term, or `None` (compacted below the snapshot, or past the end).
pub fn persisted_term_at(persisted: &PersistedState, index: LogIndex) -> Option<Term> {
    let snapshot_index = persisted.snapshot_index();
    if index == snapshot_index {
        return Some(persisted.snapshot_term());
    }
    let offset = index.0.checked_sub(snapshot_index.0 + 1)?;
    let entry = persisted.entries().get(usize::try_from(offset).ok()?)?;
    Some(entry.term())
}

/// Whether the persisted state vouches for (`index`, `term`): it holds that entry, or the
/// index is compacted into the snapshot (committed, hence the same everywhere).
fn holds(persisted: &PersistedState, index: LogIndex, term: Term) -> bool {
    index < persisted.snapshot_index() || persisted_term_at(persisted, index) == Some(term)
}

/// The term of the persisted log's last entry (the snapshot's if there is none).
fn persisted_last_term(persisted: &PersistedState) -> Term {
    persisted
        .entries()
        .back()
        .map_or(persisted.snapshot_term(), |entry| entry.term())
}

/// Checks one message that server `server` is about to send, against its persister.
/// `node` is the sender after its step (its in-memory log), if it is still running.
pub fn check_send(
    server: usize,
    persisted: &PersistedState,
    node: Option<&Node>,
    message: &Message,
) -> Result<(), String> {
    check_term(persisted, message)
        .and_then(|()| check_body(persisted, node, message))
        .map_err(|claim| {
            format!(
                "persist before send: server {server} sent {} {claim}",
                message.summary()
            )
        })
}

/// What the body claims; the claim that is not durable, if any.
fn check_body(
    persisted: &PersistedState,
    node: Option<&Node>,
    message: &Message,
) -> Result<(), String> {
    let Some(body) = message.body() else {
        return Ok(());
    };
    match body {
        Body::RequestVote(request) if !request.is_pre_vote() => {
            if persisted.voted_for() != Some(message.from()) {
                return Err(format!(
                    "before persisting its self-vote (persisted vote {:?})",
                    persisted.voted_for()
                ));
            }
            let advertised = (request.last_log_index(), request.last_log_term());
            let durable = (persisted.last_index(), persisted_last_term(persisted));
            if advertised != durable {
                return Err(format!(
                    "advertising log end {}/{} while its persisted log ends at {}/{}",
                    advertised.0, advertised.1, durable.0, durable.1
                ));
            }
        }
        Body::RequestVoteReply(reply) if reply.granted() && !reply.is_pre_vote() => {
            if persisted.voted_for() != Some(message.to()) {
                return Err(format!(
                    "before persisting that vote (persisted vote {:?})",
                    persisted.voted_for().map(|NodeId(id)| id)
                ));
            }
        }
        Body::AppendEntries(append) => {
            if !holds(persisted, append.prev_log_index(), append.prev_log_term()) {
                return Err("whose previous entry it has not persisted".into());
            }
            if let Some(entry) = append
                .entries()
                .iter()
                .find(|entry| !holds(persisted, entry.index(), entry.term()))
            {
                return Err(format!("with entry {} it has not persisted", entry.index()));
            }
        }
        Body::AppendEntriesReply(reply) if reply.is_success() => {
            check_acknowledged(persisted, node, reply.match_index())?;
        }
        Body::InstallSnapshot(snapshot) => {
            // A chunk is a slice of the persisted snapshot, at its offset.
            let index = snapshot.last_included_index();
            let durable = persisted.snapshot_data();
            let start = usize::try_from(snapshot.offset()).unwrap_or(usize::MAX);
            let slice = start
                .checked_add(snapshot.data().len())
                .and_then(|end| durable.get(start..end));
            if index != persisted.snapshot_index()
                || snapshot.last_included_term() != persisted.snapshot_term()
                || snapshot.total_len() != durable.len() as u64
                || slice != Some(&snapshot.data()[..])
            {
                return Err(format!(
                    "that is not its persisted snapshot (persisted {}/{})",
                    persisted.snapshot_index(),
                    persisted.snapshot_term()
                ));
            }
        }
        Body::InstallSnapshotReply(reply) => {
            // A partial answer claims only chunks held in memory, nothing durable.
            if !reply.is_partial() && persisted.last_index() < reply.last_included_index() {
                return Err(format!(
                    "while its persisted log ends at {}",
                    persisted.last_index()
                ));
            }
        }
        Body::RequestVote(_)
        | Body::RequestVoteReply(_)
        | Body::AppendEntriesReply(_)
        | Body::TimeoutNow(_) => {}
    }
    Ok(())
}

/// The message term: the persisted term, or for pre-votes the next one.
fn check_term(persisted: &PersistedState, message: &Message) -> Result<(), String> {
    let durable = persisted.term();
    let ok = match message.body() {
        Some(Body::RequestVote(request)) if request.is_pre_vote() => {
            message.term() == durable.next()
        }
        Some(Body::RequestVoteReply(reply)) if reply.is_pre_vote() && reply.granted() => {
            message.term() > durable
        }
        _ => message.term() == durable,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "in a term it has not persisted (persisted {durable})"
        ))
    }
}

/// A successful reply up to `matched`: the persisted log reaches it and agrees with the
/// in-memory log there.
fn check_acknowledged(
    persisted: &PersistedState,
    node: Option<&Node>,
    matched: LogIndex,
) -> Result<(), String> {
    if persisted.last_index() < matched {
        return Err(format!(
            "acknowledging {matched} while its persisted log ends at {}",
            persisted.last_index()
        ));
    }
    let in_memory = node.and_then(|node| node.term_at(matched));
    let durable = persisted_term_at(persisted, matched);
    match (in_memory, durable) {
        (Some(memory), Some(disk)) if memory != disk => Err(format!(
            "acknowledging {matched} in term {memory} while it persisted term {disk} there"
        )),
        _ => Ok(()),
    }
}
