//! The typed message surface reads back what was sent: every message rebuilt from its
//! accessors through the public constructors equals the message, and its reported
//! encoded length is the length of its bytes. The checkers read messages through these
//! accessors, so an accessor that lies would blind them (and an embedder's driver).

use raft_core::{
    AppendEntries, AppendEntriesReply, Body, Entry, InstallSnapshot, InstallSnapshotReply, Message,
    RequestVote, RequestVoteReply, TimeoutNow,
};

/// Checks `message`, whose encoding is `bytes`.
pub fn check(message: &Message, bytes: &[u8]) -> Result<(), String> {
    if message.encoded_len_bytes() != bytes.len() {
        return Err(format!(
            "typed surface: {} reports {} encoded bytes but encodes to {}",
            message.summary(),
            message.encoded_len_bytes(),
            bytes.len()
        ));
    }
    let rebuilt = Message::new(
        message.from(),
        message.to(),
        message.term(),
        match message.body() {
            Some(body) => rebuild(body),
            None => return Ok(()),
        },
    );
    if rebuilt != *message || message.clone().into_body().as_ref() != message.body() {
        return Err(format!(
            "typed surface: {} does not read back through its accessors",
            message.summary()
        ));
    }
    Ok(())
}

fn rebuild(body: &Body) -> Body {
    match body {
        Body::RequestVote(request) => {
            let (index, term) = (request.last_log_index(), request.last_log_term());
            Body::RequestVote(if request.is_pre_vote() {
                RequestVote::pre_vote(index, term)
            } else if request.is_transfer() {
                RequestVote::transfer(index, term)
            } else {
                RequestVote::vote(index, term)
            })
        }
        Body::RequestVoteReply(reply) => {
            Body::RequestVoteReply(RequestVoteReply::new(reply.granted(), reply.is_pre_vote()))
        }
        Body::AppendEntries(append) => Body::AppendEntries(
            AppendEntries::new(
                append.prev_log_index(),
                append.prev_log_term(),
                append
                    .entries()
                    .iter()
                    .map(|entry| Entry::new(entry.index(), entry.term(), entry.clone().into_data()))
                    .collect::<raft_core::Entries>(),
                append.leader_commit(),
            )
            .with_round(append.round()),
        ),
        Body::AppendEntriesReply(reply) => Body::AppendEntriesReply(
            if reply.is_success() {
                AppendEntriesReply::success(reply.match_index())
            } else {
                AppendEntriesReply::reject(
                    reply.rejected_index(),
                    reply.conflict_term(),
                    reply.conflict_index(),
                )
            }
            .with_round(reply.round()),
        ),
        Body::InstallSnapshot(snapshot) => Body::InstallSnapshot(InstallSnapshot::chunk(
            snapshot.last_included_index(),
            snapshot.last_included_term(),
            snapshot.offset(),
            snapshot.total_len(),
            snapshot.data().clone(),
        )),
        Body::InstallSnapshotReply(reply) => Body::InstallSnapshotReply(if reply.is_partial() {
            InstallSnapshotReply::partial(
                reply.last_included_index(),
                reply.offset(),
                reply.next_offset(),
            )
        } else {
            InstallSnapshotReply::new(reply.last_included_index())
        }),
        Body::TimeoutNow(_) => Body::TimeoutNow(TimeoutNow::new()),
    }
}
