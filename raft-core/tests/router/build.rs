//! Builders for hand-made test inputs: log entries, persisted states, single nodes and
//! the six message kinds, plus small accessors over a step's actions.

use raft_core::bytes::Bytes;
use raft_core::{
    Action, AppendEntries, AppendEntriesReply, Body, Entry, InstallSnapshot, InstallSnapshotReply,
    LogIndex, Message, Node, NodeId, PersistAction, PersistedState, RequestVote, RequestVoteReply,
    Term,
};

use super::config;

/// The entry at `index` of `term`, with a payload naming both.
pub fn entry(index: u64, term: u64) -> Entry {
    Entry::new(
        LogIndex(index),
        Term(term),
        Bytes::from(format!("{index}@t{term}")),
    )
}

/// Entries `first..` whose terms are `terms`, in order.
pub fn entries_from(first: u64, terms: &[u64]) -> Vec<Entry> {
    terms
        .iter()
        .enumerate()
        .map(|(offset, &term)| entry(first + offset as u64, term))
        .collect()
}

/// A persisted image: current term, vote, and a log `1..` with the given entry terms.
pub fn state(term: u64, voted_for: Option<u64>, log_terms: &[u64]) -> PersistedState {
    let mut persisted = PersistedState::new();
    persisted
        .apply(&PersistAction::HardState {
            term: Term(term),
            voted_for: voted_for.map(NodeId),
        })
        .expect("hard state applies");
    persisted
        .apply(&PersistAction::Append(entries_from(1, log_terms).into()))
        .expect("append applies");
    persisted
}

/// Node `id` of a cluster of `n`, restored with `term` and a log of `log_terms`.
pub fn node(id: u64, n: u64, term: u64, log_terms: &[u64]) -> Node {
    Node::restore(config(id, n), &state(term, None, log_terms)).expect("restores")
}

/// A message from `from` to `to` in `term`.
pub fn message(from: u64, to: u64, term: u64, body: Body) -> Message {
    Message::new(NodeId(from), NodeId(to), Term(term), body)
}

/// An AppendEntries after (`prev_index`, `prev_term`) carrying `entries`.
pub fn append(
    from: u64,
    to: u64,
    term: u64,
    prev: (u64, u64),
    entries: Vec<Entry>,
    leader_commit: u64,
) -> Message {
    let body = Body::AppendEntries(AppendEntries::new(
        LogIndex(prev.0),
        Term(prev.1),
        entries,
        LogIndex(leader_commit),
    ));
    message(from, to, term, body)
}

/// A RequestVote for a candidate whose log ends at (`last_index`, `last_term`).
pub fn request_vote(from: u64, to: u64, term: u64, last: (u64, u64)) -> Message {
    let body = Body::RequestVote(RequestVote::vote(LogIndex(last.0), Term(last.1)));
    message(from, to, term, body)
}

/// A pre-vote request for `term` (the term the candidate would campaign in).
pub fn pre_vote(from: u64, to: u64, term: u64, last: (u64, u64)) -> Message {
    let body = Body::RequestVote(RequestVote::pre_vote(LogIndex(last.0), Term(last.1)));
    message(from, to, term, body)
}

/// A vote answer.
pub fn vote(from: u64, to: u64, term: u64, granted: bool) -> Message {
    let body = Body::RequestVoteReply(RequestVoteReply::new(granted, false));
    message(from, to, term, body)
}

/// A pre-vote answer.
pub fn pre_vote_reply(from: u64, to: u64, term: u64, granted: bool) -> Message {
    let body = Body::RequestVoteReply(RequestVoteReply::new(granted, true));
    message(from, to, term, body)
}

/// A successful AppendEntries answer matching up to `match_index`.
pub fn append_ok(from: u64, to: u64, term: u64, match_index: u64) -> Message {
    let body = Body::AppendEntriesReply(AppendEntriesReply::success(LogIndex(match_index)));
    message(from, to, term, body)
}

/// An InstallSnapshot of everything up to (`index`, `index_term`).
pub fn install_snapshot(from: u64, to: u64, term: u64, last: (u64, u64), data: &str) -> Message {
    let body = Body::InstallSnapshot(InstallSnapshot::new(
        LogIndex(last.0),
        Term(last.1),
        Bytes::from(data.to_owned()),
    ));
    message(from, to, term, body)
}

/// An InstallSnapshot answer.
pub fn snapshot_reply(from: u64, to: u64, term: u64, last_included_index: u64) -> Message {
    let body = Body::InstallSnapshotReply(InstallSnapshotReply::new(LogIndex(last_included_index)));
    message(from, to, term, body)
}

/// The messages among `actions`.
pub fn sends(actions: &[Action]) -> Vec<&Message> {
    actions
        .iter()
        .filter_map(|action| match action {
            Action::Send(message) => Some(message),
            _ => None,
        })
        .collect()
}

/// The persist actions among `actions`.
pub fn persists(actions: &[Action]) -> Vec<&PersistAction> {
    actions
        .iter()
        .filter_map(|action| match action {
            Action::Persist(change) => Some(change),
            _ => None,
        })
        .collect()
}

/// The single message among `actions`; panics unless there is exactly one.
pub fn only_send(actions: &[Action]) -> &Message {
    let sent = sends(actions);
    assert_eq!(sent.len(), 1, "expected exactly one send: {actions:?}");
    sent[0]
}

/// The AppendEntriesReply body of `message`; panics on any other kind.
pub fn append_reply_of(message: &Message) -> &AppendEntriesReply {
    match message.body() {
        Some(Body::AppendEntriesReply(reply)) => reply,
        other => panic!("expected an AppendEntriesReply, got {other:?}"),
    }
}

/// The AppendEntries body of `message`; panics on any other kind.
pub fn append_of(message: &Message) -> &AppendEntries {
    match message.body() {
        Some(Body::AppendEntries(append)) => append,
        other => panic!("expected an AppendEntries, got {other:?}"),
    }
}

/// Whether `message` is a granted vote.
pub fn is_granted(message: &Message) -> bool {
    matches!(message.body(), Some(Body::RequestVoteReply(reply)) if reply.granted())
}

/// The entry terms of `node`'s log from its first held index to its last.
pub fn log_terms(node: &Node) -> Vec<u64> {
    let first = node.snapshot_index().0 + 1;
    (first..=node.last_log_index().0)
        .map(|index| node.term_at(LogIndex(index)).expect("held").0)
        .collect()
}

/// The index of the first `Apply` among `actions`, if any (for ordering checks).
pub fn position_of(actions: &[Action], pick: impl Fn(&Action) -> bool) -> Option<usize> {
    actions.iter().position(pick)
}
