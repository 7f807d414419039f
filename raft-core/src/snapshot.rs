//! Log compaction (§7): the service's own snapshots, and InstallSnapshot between leader
//! and follower.

use bytes::Bytes;

use crate::action::{Action, Apply, SnapshotError};
use crate::message::{Body, InstallSnapshot, InstallSnapshotReply};
use crate::node::{Node, Role};
use crate::persist::PersistAction;
use crate::types::{LogIndex, NodeId};

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

    /// The follower's side of InstallSnapshot (the term is already settled as ours).
    pub(crate) fn handle_install_snapshot(&mut self, from: NodeId, snapshot: InstallSnapshot) {
        let index = snapshot.last_included_index();
        let term = snapshot.last_included_term();
        let newer = index > self.log.committed() || planted!(self.config, StaleSnapshotInstalled);
        if newer && index > LogIndex::ZERO && term <= self.term {
            self.log.compact_to(index, term);
            self.snapshot_data = snapshot.data.clone();
            self.actions.push(Action::Persist(PersistAction::Snapshot {
                index,
                term,
                data: snapshot.data.clone(),
            }));
            self.actions.push(Action::Apply(Apply::Snapshot {
                index,
                term,
                data: snapshot.data,
            }));
        }
        // An older snapshot is covered by what we committed: answering with its index is
        // still true (our committed prefix matches the leader's).
        self.send(
            from,
            Body::InstallSnapshotReply(InstallSnapshotReply::new(index)),
        );
    }

    /// The leader's side: the follower now holds everything up to the snapshot index.
    pub(crate) fn handle_snapshot_reply(&mut self, from: NodeId, reply: &InstallSnapshotReply) {
        let matched = reply.last_included_index().min(self.log.last_index());
        let Role::Leader(leader) = &mut self.role else {
            return;
        };
        let Some(progress) = leader.progress.get_mut(&from) else {
            return;
        };
        progress.on_reply();
        if progress.on_match(matched) {
            self.maybe_commit();
            self.send_append(from, false);
        }
    }
}
