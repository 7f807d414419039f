//! Log compaction (§7): the service's own snapshots, and InstallSnapshot between leader
//! and follower, in chunks (Figure 13).
//!
//! The leader sends its snapshot in chunks whose whole message fits in
//! [`Config::max_message_bytes`](crate::Config::max_message_bytes), one chunk in flight
//! per follower. A follower answers every chunk with how far it got (a partial reply), and
//! the leader sends the chunk from there; a chunk whose answer is overdue is sent again
//! at a heartbeat. When the leader's snapshot changes, or the follower lost what it had
//! (it restarted), the transfer starts again from offset 0. The follower assembles the
//! chunks (see `assembly`) and installs the snapshot only once it is complete; then it
//! answers with a complete reply, and the leader goes on with appends.

use bytes::Bytes;

use crate::action::{Action, Apply, SnapshotError};
use crate::assembly::{take_chunk, ChunkOutcome};
use crate::message::{Body, InstallSnapshot, InstallSnapshotReply, Message};
use crate::node::{Node, Role};
use crate::persist::PersistAction;
use crate::progress::ProgressMode;
use crate::types::{LogIndex, NodeId, Term};

impl Node {
    /// The service snapshotted everything up to `index`: drop the covered entries.
    pub(crate) fn take_service_snapshot(&mut self, index: LogIndex, data: Bytes) {
        let outcome = self.compact(index, data);
        self.actions.push(Action::Snapshot(outcome));
    }

    fn compact(&mut self, index: LogIndex, data: Bytes) -> Result<LogIndex, SnapshotError> {
        let current = self.log.snapshot_index();
        if index <= current {
            return Err(SnapshotError::Stale { index, current });
        }
        let applied = self.log.applied();
        if index > applied {
            return Err(SnapshotError::NotApplied { index, applied });
        }
        let Some(term) = self.log.term_at(index) else {
            // current < index <= applied <= last, so the entry is held.
            return Err(SnapshotError::NotApplied { index, applied });
        };
        self.log.compact_to(index, term);
        self.snapshot_data = data.clone();
        self.actions.push(Action::Persist(PersistAction::Snapshot {
            index,
            term,
            data,
        }));
        Ok(index)
    }

    /// The follower's side of InstallSnapshot (the term is already settled as ours): one
    /// chunk, answered with how far the follower got. A malformed chunk (its fields
    /// contradict each other, or its snapshot ends at index 0 or in a term after the
    /// leader's) is ignored, and so is a chunk of an older snapshot than the one being
    /// assembled.
    pub(crate) fn handle_install_snapshot(&mut self, from: NodeId, snapshot: InstallSnapshot) {
        let index = snapshot.last_included_index();
        let term = snapshot.last_included_term();
        let Some(place) = snapshot.place() else {
            return;
        };
        if index == LogIndex::ZERO || term > self.term {
            return;
        }
        if index <= self.log.committed() && !planted!(self.config, StaleSnapshotInstalled) {
            // Covered by what we committed: answering that we hold it is true (our
            // committed prefix matches the leader's), and the leader moves on.
            self.send_snapshot_reply(from, InstallSnapshotReply::new(index));
            return;
        }
        let leader_term = self.term;
        let Role::Follower(follower) = &mut self.role else {
            return;
        };
        let reply = match take_chunk(&mut follower.assembly, leader_term, snapshot, place) {
            ChunkOutcome::Complete(data) => {
                self.install_snapshot(index, term, data);
                InstallSnapshotReply::new(index)
            }
            ChunkOutcome::Partial { next_offset } => {
                InstallSnapshotReply::partial(index, place.offset, next_offset)
            }
            ChunkOutcome::Stale => return,
        };
        self.send_snapshot_reply(from, reply);
    }

    /// Installs the complete snapshot of everything up to (`index`, `term`).
    fn install_snapshot(&mut self, index: LogIndex, term: Term, data: Bytes) {
        self.log.compact_to(index, term);
        self.snapshot_data = data.clone();
        self.actions.push(Action::Persist(PersistAction::Snapshot {
            index,
            term,
            data: data.clone(),
        }));
        self.actions
            .push(Action::Apply(Apply::Snapshot { index, term, data }));
    }

    fn send_snapshot_reply(&mut self, to: NodeId, reply: InstallSnapshotReply) {
        self.send(to, Body::InstallSnapshotReply(reply));
    }

    /// The leader's side: a complete answer means the follower holds everything up to
    /// the snapshot index; a partial one asks for the next chunk.
    pub(crate) fn handle_snapshot_reply(&mut self, from: NodeId, reply: &InstallSnapshotReply) {
        let matched = reply.last_included_index().min(self.log.last_index());
        let Role::Leader(leader) = &mut self.role else {
            return;
        };
        let Some(progress) = leader.progress.get_mut(&from) else {
            return;
        };
        progress.on_reply();
        if reply.is_partial() {
            let index = reply.last_included_index();
            if let Some(next) = progress.on_chunk_reply(index, reply.offset(), reply.next_offset())
            {
                self.send_snapshot_chunk(from, next);
            }
        } else if progress.on_match(matched) {
            self.maybe_commit();
            self.send_append(from, false);
        }
    }

    /// Starts sending our snapshot to `peer`, from offset 0.
    pub(crate) fn send_snapshot(&mut self, peer: NodeId) {
        self.send_snapshot_chunk(peer, 0);
    }

    /// Sends `peer` the chunk of our snapshot at `offset`, or from offset 0 if the
    /// snapshot is not the one being sent to `peer` (ours changed since, or no transfer
    /// is under way). The whole message fits in the configured message size.
    fn send_snapshot_chunk(&mut self, peer: NodeId, offset: u64) {
        let index = self.log.snapshot_index();
        let term = self.log.snapshot_term();
        let length = self.snapshot_data.len() as u64;
        let Role::Leader(leader) = &self.role else {
            return;
        };
        let Some(progress) = leader.progress.get(&peer) else {
            return;
        };
        let offset = match progress.mode {
            ProgressMode::Snapshot {
                index: sent,
                length: sent_length,
                ..
            } if sent == index && sent_length == length && offset < length => offset,
            _ => 0,
        };
        let header = InstallSnapshot::chunk(index, term, offset, length, Bytes::new());
        let header_len = Message::new(
            self.config.id(),
            peer,
            self.term,
            Body::InstallSnapshot(header),
        )
        .encoded_len_bytes();
        let room = InstallSnapshot::data_room(self.config.max_message_bytes(), header_len);
        let end = offset.saturating_add(room as u64).min(length);
        // offset <= end <= length, the length of our snapshot bytes.
        let data = self.snapshot_data.slice(offset as usize..end as usize);
        let chunk = InstallSnapshot::chunk(index, term, offset, length, data);
        self.send(peer, Body::InstallSnapshot(chunk));
        if let Role::Leader(leader) = &mut self.role {
            if let Some(progress) = leader.progress.get_mut(&peer) {
                progress.on_chunk_sent(index, length, offset);
            }
        }
    }

    /// A heartbeat to a follower receiving our snapshot: an empty AppendEntries at the
    /// snapshot index, asking whether it was installed (a yes moves the follower on; a
    /// no is ignored while the snapshot is in flight, but shows the follower is alive);
    /// and the chunk in flight again if its answer is overdue and the follower answered
    /// something since the previous heartbeat.
    pub(crate) fn heartbeat_snapshot(&mut self, peer: NodeId, active: bool) {
        let Role::Leader(leader) = &self.role else {
            return;
        };
        let Some(progress) = leader.progress.get(&peer).copied() else {
            return;
        };
        let ProgressMode::Snapshot { index, .. } = progress.mode else {
            return;
        };
        self.send_empty_append_at(peer, index);
        if let Some(offset) = progress.overdue_chunk().filter(|_| active) {
            self.send_snapshot_chunk(peer, offset);
        }
    }
}
