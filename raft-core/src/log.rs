//! The in-memory replicated log: entries after a snapshot offset, and the commit and
//! apply positions.
//!
//! Invariants: `snapshot_index <= applied <= committed <= last_index`, entries are
//! consecutive from `snapshot_index + 1`, and their terms never decrease.

use std::collections::VecDeque;

use crate::message::Entry;
use crate::persist::entry_record_len;
use crate::types::{LogIndex, Term};

/// The log of one node.
#[derive(Clone, Debug, Default)]
pub struct RaftLog {
    snapshot_index: LogIndex,
    snapshot_term: Term,
    entries: VecDeque<Entry>,
    entries_encoded_len: usize,
    committed: LogIndex,
    applied: LogIndex,
}

impl RaftLog {
    /// A log restored from persisted parts; committed and applied start at the snapshot.
    pub fn restore(
        snapshot_index: LogIndex,
        snapshot_term: Term,
        entries: VecDeque<Entry>,
    ) -> Self {
        let entries_encoded_len = entries.iter().map(entry_record_len).sum();
        RaftLog {
            snapshot_index,
            snapshot_term,
            entries,
            entries_encoded_len,
            committed: snapshot_index,
            applied: snapshot_index,
        }
    }

    /// The last index covered by the snapshot.
    pub fn snapshot_index(&self) -> LogIndex {
        self.snapshot_index
    }

    /// The term of the snapshot's last entry.
    pub fn snapshot_term(&self) -> Term {
        self.snapshot_term
    }

    /// The first index still held as an entry.
    pub fn first_index(&self) -> LogIndex {
        self.snapshot_index.next()
    }

    /// The index of the last entry (the snapshot index if there is none).
    pub fn last_index(&self) -> LogIndex {
        self.entries
            .back()
            .map_or(self.snapshot_index, Entry::index)
    }

    /// The term of the last entry (the snapshot term if there is none).
    pub fn last_term(&self) -> Term {
        self.entries.back().map_or(self.snapshot_term, Entry::term)
    }

    /// The commit index.
    pub fn committed(&self) -> LogIndex {
        self.committed
    }

    /// The last index handed to the service.
    pub fn applied(&self) -> LogIndex {
        self.applied
    }

    /// The bytes the entries take in the encoded raft state.
    pub fn entries_encoded_len(&self) -> usize {
        self.entries_encoded_len
    }

    fn position(&self, index: LogIndex) -> Option<usize> {
        let offset = index.0.checked_sub(self.snapshot_index.0 + 1)?;
        let position = usize::try_from(offset).ok()?;
        (position < self.entries.len()).then_some(position)
    }

    /// The entry at `index`, if held.
    pub fn entry(&self, index: LogIndex) -> Option<&Entry> {
        self.position(index).map(|p| &self.entries[p])
    }

    /// The term at `index`: known for the snapshot index and held entries, `None` for
    /// compacted or missing indexes.
    pub fn term_at(&self, index: LogIndex) -> Option<Term> {
        if index == self.snapshot_index {
            return Some(self.snapshot_term);
        }
        self.entry(index).map(Entry::term)
    }

    /// Whether a log ending at (`last_index`, `last_term`) is at least as up to date as
    /// this one (§5.4.1).
    pub fn is_up_to_date(&self, last_index: LogIndex, last_term: Term) -> bool {
        (last_term, last_index) >= (self.last_term(), self.last_index())
    }

    /// The first index held with the same term as `index`, scanning back no further than
    /// the first held entry (used for the fast-backup hint).
    pub fn first_index_of_term_at(&self, index: LogIndex) -> LogIndex {
        let Some(term) = self.term_at(index) else {
            return index;
        };
        let mut first = index;
        while first > self.first_index() && self.term_at(first.prev()) == Some(term) {
            first = first.prev();
        }
        first
    }

    /// The last index holding an entry of `term`, if any is held (leader side of fast
    /// backup). Terms never decrease, so the search stops at the first smaller term.
    pub fn last_index_of_term(&self, term: Term) -> Option<LogIndex> {
        self.entries
            .iter()
            .rev()
            .skip_while(|entry| entry.term() > term)
            .take_while(|entry| entry.term() == term)
            .map(Entry::index)
            .next()
    }

    /// Entries starting at `from` whose records ([`entry_record_len`], their encoded size
    /// inside a message) take up to `max_bytes` in all; at least one entry, even if it
    /// alone is larger.
    pub fn entries_from(&self, from: LogIndex, max_bytes: usize) -> Vec<Entry> {
        let Some(start) = self.position(from) else {
            return Vec::new();
        };
        let mut budget = max_bytes;
        let mut count = 0;
        for entry in self.entries.range(start..) {
            let size = entry_record_len(entry);
            if count > 0 && size > budget {
                break;
            }
            budget = budget.saturating_sub(size);
            count += 1;
        }
        // Counted first, so the message's entries are allocated once.
        self.entries.range(start..start + count).cloned().collect()
    }

    /// The committed entries not yet applied, in order, marking them applied as of this
    /// call (the caller hands every one to the service).
    pub fn take_committed(&mut self) -> impl ExactSizeIterator<Item = Entry> + '_ {
        let pending = self.committed.0.saturating_sub(self.applied.0);
        let held = match self.position(self.applied.next()) {
            Some(start) => {
                let count = usize::try_from(pending).unwrap_or(usize::MAX);
                start..start + count.min(self.entries.len() - start)
            }
            None => 0..0,
        };
        self.applied = self.applied.plus(held.len() as u64);
        self.entries.range(held).cloned()
    }

    /// Appends an entry right after the last one.
    pub fn push(&mut self, entry: Entry) {
        debug_assert_eq!(entry.index(), self.last_index().next());
        debug_assert!(entry.term() >= self.last_term());
        self.entries_encoded_len += entry_record_len(&entry);
        self.entries.push_back(entry);
    }

    /// Drops every entry at `index` or later. The caller guarantees `index > committed`.
    pub fn truncate_from(&mut self, index: LogIndex) {
        debug_assert!(index > self.committed, "truncating committed entries");
        while self.entries.back().is_some_and(|e| e.index() >= index) {
            if let Some(entry) = self.entries.pop_back() {
                self.entries_encoded_len -= entry_record_len(&entry);
            }
        }
    }

    /// Raises the commit index to `index` (never lowers it), capped at the last index.
    pub fn commit_to(&mut self, index: LogIndex) -> bool {
        let capped = index.min(self.last_index());
        if capped > self.committed {
            self.committed = capped;
            true
        } else {
            false
        }
    }

    /// Drops entries up to `index` (covered by a snapshot whose last entry has `term`).
    /// If the log does not hold `index` with `term`, the whole log is dropped. Commit and
    /// applied move up to `index` if they were below.
    pub fn compact_to(&mut self, index: LogIndex, term: Term) {
        if self.term_at(index) == Some(term) {
            while self.entries.front().is_some_and(|e| e.index() <= index) {
                if let Some(entry) = self.entries.pop_front() {
                    self.entries_encoded_len -= entry_record_len(&entry);
                }
            }
        } else {
            self.entries.clear();
            self.entries_encoded_len = 0;
        }
        self.snapshot_index = index;
        self.snapshot_term = term;
        self.committed = self.committed.max(index);
        self.applied = self.applied.max(index);
    }

    /// Checks the log's own invariants (cheap: O(1)).
    pub fn check(&self) -> Result<(), String> {
        if !(self.snapshot_index <= self.applied
            && self.applied <= self.committed
            && self.committed <= self.last_index())
        {
            return Err(format!(
                "log positions out of order: snapshot {} applied {} committed {} last {}",
                self.snapshot_index,
                self.applied,
                self.committed,
                self.last_index()
            ));
        }
        if let Some(first) = self.entries.front() {
            if first.index() != self.first_index() || first.term() < self.snapshot_term {
                return Err(format!(
                    "first entry {}/{} does not follow snapshot {}/{}",
                    first.index(),
                    first.term(),
                    self.snapshot_index,
                    self.snapshot_term
                ));
            }
        }
        let len = self.entries.len();
        if len >= 2 && self.entries[len - 2].term() > self.entries[len - 1].term() {
            return Err("log terms decrease at the tail".into());
        }
        Ok(())
    }
}
