//! The in-memory replicated log: entries after a snapshot offset, held as shared runs
//! ([`Entries`]), and the commit and apply positions.
//!
//! Invariants: `snapshot_index <= applied <= committed <= last_index`, entries are
//! consecutive from `snapshot_index + 1`, and their terms never decrease. No run is empty.
//!
//! A leader's new entries are written in place after its last run while its chunk has
//! room, so the runs it hands to persist actions, messages and applies are slices of
//! the same chunk: one refcount per run, none per entry.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::entries::Entries;
use crate::message::Entry;
use crate::types::{LogIndex, Term};

/// The fewest slots a chunk for a leader's new entries is made with.
const MIN_CHUNK: usize = 64;
/// The most slots a chunk is made with (unless one proposal batch needs more). A log
/// grows its chunks with its length up to this, so a small log stays small; 1024 slots
/// stay under the allocator's threshold for mapping fresh pages per allocation.
const MAX_CHUNK: usize = 1024;

/// The log of one node.
#[derive(Clone, Debug, Default)]
pub struct RaftLog {
    snapshot_index: LogIndex,
    snapshot_term: Term,
    /// The held entries, consecutive from `snapshot_index + 1`, in runs; none empty.
    runs: VecDeque<Entries>,
    /// The index of each run's first entry (a lookup reads no entry).
    run_starts: VecDeque<u64>,
    /// The first held index of each term among the held entries, in order: the term at
    /// an index, the last term and the fast-backup searches read no entry. Empty when
    /// no entry is held; otherwise the first starts at the first held index.
    terms: VecDeque<(u64, Term)>,
    /// How many entries the runs hold.
    held: usize,
    /// The record bytes of all held entries ([`entry_record_len`](crate::entry_record_len)
    /// each).
    bytes: u64,
    committed: LogIndex,
    applied: LogIndex,
}

impl RaftLog {
    /// A log restored from persisted parts; committed and applied start at the snapshot.
    pub fn restore(
        snapshot_index: LogIndex,
        snapshot_term: Term,
        entries: impl IntoIterator<Item = Entry>,
    ) -> Self {
        let mut log = RaftLog {
            snapshot_index,
            snapshot_term,
            committed: snapshot_index,
            applied: snapshot_index,
            ..RaftLog::default()
        };
        log.append(entries.into_iter().collect());
        log
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
        self.snapshot_index.plus(self.held as u64)
    }

    /// The term of the last entry (the snapshot term if there is none).
    pub fn last_term(&self) -> Term {
        self.terms
            .back()
            .map_or(self.snapshot_term, |&(_, term)| term)
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
        usize::try_from(self.bytes).unwrap_or(usize::MAX)
    }

    /// The position of `index` among the held entries.
    fn position(&self, index: LogIndex) -> Option<usize> {
        let offset = index.0.checked_sub(self.snapshot_index.0 + 1)?;
        let position = usize::try_from(offset).ok()?;
        (position < self.held).then_some(position)
    }

    /// The run holding the entry at `index` (held) and the entry's position in it.
    fn locate(&self, index: LogIndex) -> Option<(usize, usize)> {
        self.position(index)?;
        // Most lookups are about the last two runs (the tail, and the applies just
        // behind it when every message is a run of its own).
        let last = self.run_starts.len().checked_sub(1)?;
        let run = if self.run_starts[last] <= index.0 {
            last
        } else if last > 0 && self.run_starts[last - 1] <= index.0 {
            last - 1
        } else {
            self.run_starts
                .partition_point(|&start| start <= index.0)
                .checked_sub(1)?
        };
        let offset = usize::try_from(index.0 - self.run_starts[run]).ok()?;
        Some((run, offset))
    }

    /// The entry at `index`, if held.
    pub fn entry(&self, index: LogIndex) -> Option<&Entry> {
        let (run, offset) = self.locate(index)?;
        self.runs[run].get(offset)
    }

    /// The term at `index`: known for the snapshot index and held entries, `None` for
    /// compacted or missing indexes.
    pub fn term_at(&self, index: LogIndex) -> Option<Term> {
        if index == self.snapshot_index {
            return Some(self.snapshot_term);
        }
        self.position(index)?;
        self.term_segment(index)
            .map(|segment| self.terms[segment].1)
    }

    /// The position in `terms` of the term of the held entry at `index` (most lookups
    /// are about the last term).
    fn term_segment(&self, index: LogIndex) -> Option<usize> {
        let last = self.terms.len().checked_sub(1)?;
        if self.terms[last].0 <= index.0 {
            return Some(last);
        }
        self.terms
            .partition_point(|&(start, _)| start <= index.0)
            .checked_sub(1)
    }

    /// Notes the terms of `run`, which follows the last held entry (terms never
    /// decrease, so a run whose ends share a term holds only that term).
    fn note_terms(&mut self, run: &Entries) {
        let (Some(first), Some(last)) = (run.first(), run.last()) else {
            return;
        };
        if first.term() == last.term() {
            self.note_term(first.index, first.term());
        } else {
            for entry in run.iter() {
                self.note_term(entry.index, entry.term());
            }
        }
    }

    /// Notes that the entry at `index`, the new last one, has `term`.
    fn note_term(&mut self, index: u64, term: Term) {
        if self.terms.back().map(|&(_, last)| last) != Some(term) {
            self.terms.push_back((index, term));
        }
    }

    /// Whether a log ending at (`last_index`, `last_term`) is at least as up to date as
    /// this one (§5.4.1).
    pub fn is_up_to_date(&self, last_index: LogIndex, last_term: Term) -> bool {
        (last_term, last_index) >= (self.last_term(), self.last_index())
    }

    /// The first index held with the same term as `index`, scanning back no further than
    /// the first held entry (used for the fast-backup hint).
    pub fn first_index_of_term_at(&self, index: LogIndex) -> LogIndex {
        if self.position(index).is_none() {
            return index;
        }
        self.term_segment(index)
            .map_or(index, |segment| LogIndex(self.terms[segment].0))
    }

    /// Every held entry, in order.
    fn iter(&self) -> impl DoubleEndedIterator<Item = &Entry> + '_ {
        self.runs.iter().flat_map(Entries::iter)
    }

    /// The last index holding an entry of `term`, if any is held (leader side of fast
    /// backup). Terms never decrease, so the search stops at the first smaller term.
    pub fn last_index_of_term(&self, term: Term) -> Option<LogIndex> {
        let mut end = self.last_index();
        for &(start, segment_term) in self.terms.iter().rev() {
            if segment_term == term {
                return Some(end);
            }
            if segment_term < term {
                return None;
            }
            end = LogIndex(start).prev();
        }
        None
    }

    /// Entries starting at `from` whose records (their encoded size inside a message,
    /// [`entry_record_len`](crate::entry_record_len)) take up to `max_bytes` in all; at
    /// least one entry, even if it alone is larger.
    pub fn entries_from(&self, from: LogIndex, max_bytes: usize) -> Entries {
        let Some((run, offset)) = self.locate(from) else {
            return Entries::new();
        };
        let count = self.count_within(run, offset, max_bytes as u64).max(1);
        self.range_at(run, offset, count)
    }

    /// The `count` held entries from `from` on (held): a slice of one run if they lie in
    /// one, else a copy (a message or apply across the seam of two runs).
    fn range(&self, from: LogIndex, count: usize) -> Entries {
        match self.locate(from) {
            Some((run, offset)) => self.range_at(run, offset, count),
            None => Entries::new(),
        }
    }

    /// [`RaftLog::range`] from the entry at `offset` in run `run`.
    fn range_at(&self, run: usize, offset: usize, count: usize) -> Entries {
        let first = &self.runs[run];
        if offset + count <= first.len() {
            return first.slice(offset..offset + count);
        }
        self.runs
            .range(run..)
            .flat_map(Entries::iter)
            .skip(offset)
            .take(count)
            .cloned()
            .collect()
    }

    /// How many entries from `offset` in run `run` on have records that fit in `budget`
    /// bytes: whole runs by their known bytes, then a search in the run that no longer
    /// fits whole.
    fn count_within(&self, run: usize, offset: usize, mut budget: u64) -> usize {
        let mut count = 0;
        for (position, entries) in self.runs.range(run..).enumerate() {
            let partial;
            let part = if position == 0 && offset > 0 {
                partial = entries.slice(offset..entries.len());
                &partial
            } else {
                entries
            };
            let bytes = part.records_len() as u64;
            if bytes > budget {
                return count + part.count_within(budget);
            }
            budget -= bytes;
            count += part.len();
        }
        count
    }

    /// Whether committed entries wait to be applied.
    pub fn has_unapplied(&self) -> bool {
        self.committed.min(self.last_index()) > self.applied
    }

    /// The committed entries not yet applied, in order and in runs, marking them applied
    /// as of this call (the caller hands every one to the service).
    pub fn take_committed(&mut self) -> impl Iterator<Item = Entries> + '_ {
        let from = self.applied.next();
        let to = self.committed.min(self.last_index());
        let start = if self.has_unapplied() {
            self.locate(from)
        } else {
            None
        };
        let mut left = usize::try_from(to.0.saturating_sub(self.applied.0)).unwrap_or(0);
        if start.is_some() {
            self.applied = to;
        }
        let (run, mut offset) = start.unwrap_or((self.runs.len(), 0));
        self.runs.range(run..).map_while(move |entries| {
            if left == 0 {
                return None;
            }
            let count = (entries.len() - offset).min(left);
            let part = entries.slice(offset..offset + count);
            left -= count;
            offset = 0;
            Some(part)
        })
    }

    /// Appends new entries of `term` holding `commands` right after the last one (a
    /// leader's proposals); returns them as one run. A small batch is written in place
    /// after the last run while its chunk has room for all of it (so that proposals made
    /// one by one leave as one run); a large one, or one that does not fit, gets a chunk
    /// of its own (with room left for small batches after it).
    pub fn append_commands(
        &mut self,
        term: Term,
        commands: impl ExactSizeIterator<Item = Bytes>,
    ) -> Entries {
        let first = self.last_index().next();
        let count = commands.len();
        let in_place = count < MIN_CHUNK && self.runs.back().is_some_and(|run| run.room() >= count);
        if !in_place {
            let spare = if count < MIN_CHUNK {
                self.held.clamp(MIN_CHUNK, MAX_CHUNK) - count
            } else {
                0
            };
            let entries = commands
                .enumerate()
                .map(|(offset, data)| Entry::new(first.plus(offset as u64), term, data));
            let run = Entries::with_spare(entries, spare);
            let handed = run.clone();
            self.push_run(run);
            return handed;
        }
        let mut moved = false;
        for (offset, data) in commands.enumerate() {
            let entry = Entry::new(first.plus(offset as u64), term, data);
            let refused = match self.runs.back_mut() {
                Some(run) => match run.try_push(entry) {
                    Ok(size) => {
                        self.bytes += size;
                        None
                    }
                    Err(entry) => Some(entry),
                },
                None => Some(entry),
            };
            match refused {
                None => {
                    self.held += 1;
                    self.note_term(first.0 + offset as u64, term);
                }
                Some(entry) => {
                    // Another writer took the slot (a clone of this log): a chunk of our own.
                    let capacity = MIN_CHUNK.max(count - offset);
                    let mut run = Entries::with_capacity(capacity);
                    run.push(entry);
                    self.push_run(run);
                    moved = true;
                }
            }
        }
        match self.runs.back() {
            // All of them in the last run: its tail.
            Some(last) if !moved => last.slice(last.len() - count..last.len()),
            _ => self.range(first, count),
        }
    }

    /// Appends `entries`, which start right after the last one.
    pub fn append(&mut self, entries: Entries) {
        if entries.is_empty() {
            return;
        }
        debug_assert_eq!(
            entries.first().map(Entry::index),
            Some(self.last_index().next())
        );
        debug_assert!(entries.first().map(Entry::term) >= Some(self.last_term()));
        match self.runs.back_mut() {
            Some(last) if last.is_continued_by(&entries) => {
                last.extend_by(entries.len());
                self.note_terms(&entries);
                self.bytes += entries.records_len() as u64;
                self.held += entries.len();
            }
            _ => self.push_run(entries),
        }
    }

    /// Adds a run after the last (a run that holds nothing is not kept).
    fn push_run(&mut self, run: Entries) {
        if let Some(first) = run.first() {
            self.run_starts.push_back(first.index);
            self.note_terms(&run);
            self.bytes += run.records_len() as u64;
            self.held += run.len();
            self.runs.push_back(run);
        }
    }

    /// A run left empty (a fresh chunk nobody wrote in) is dropped.
    fn drop_empty_tail_run(&mut self) {
        if self.runs.back().is_some_and(Entries::is_empty) {
            self.runs.pop_back();
            self.run_starts.pop_back();
        }
    }

    /// Drops every entry at `index` or later. The caller guarantees `index > committed`.
    pub fn truncate_from(&mut self, index: LogIndex) {
        debug_assert!(index > self.committed, "truncating committed entries");
        let Some((run, offset)) = self.locate(index) else {
            return;
        };
        let cut: usize = self
            .runs
            .range(run..)
            .map(Entries::records_len)
            .sum::<usize>()
            - self.runs[run].slice(0..offset).records_len();
        self.runs.truncate(run + 1);
        self.run_starts.truncate(run + 1);
        if let Some(last) = self.runs.back_mut() {
            last.truncate(offset);
        }
        self.drop_empty_tail_run();
        self.bytes -= cut as u64;
        while self
            .terms
            .back()
            .is_some_and(|&(start, _)| start >= index.0)
        {
            self.terms.pop_back();
        }
        self.held = usize::try_from(index.0 - self.first_index().0).unwrap_or(0);
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
        if index > self.snapshot_index && self.term_at(index) == Some(term) {
            let dropped = usize::try_from(index.0 - self.snapshot_index.0).unwrap_or(0);
            let mut left = dropped;
            while let Some(front) = self.runs.front_mut() {
                if front.len() > left {
                    self.bytes -= front.slice(0..left).records_len() as u64;
                    front.skip_front(left);
                    if let Some(start) = self.run_starts.front_mut() {
                        *start += left as u64;
                    }
                    break;
                }
                left -= front.len();
                self.bytes -= front.records_len() as u64;
                self.runs.pop_front();
                self.run_starts.pop_front();
            }
            self.held -= dropped;
            let first = index.0 + 1;
            while self.terms.get(1).is_some_and(|&(start, _)| start <= first) {
                self.terms.pop_front();
            }
            match self.terms.front_mut() {
                Some(front) if self.held > 0 => front.0 = first,
                _ => self.terms.clear(),
            }
        } else if self.term_at(index) != Some(term) {
            self.runs.clear();
            self.run_starts.clear();
            self.terms.clear();
            self.bytes = 0;
            self.held = 0;
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
        if let Some(first) = self.runs.front().and_then(Entries::first) {
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
        let mut tail = self.iter().rev();
        if let (Some(last), Some(before)) = (tail.next(), tail.next()) {
            if before.term() > last.term() {
                return Err("log terms decrease at the tail".into());
            }
            if last.index() != self.last_index() {
                return Err("the runs do not end at the last index".into());
            }
        }
        if self.run_starts.len() != self.runs.len() {
            return Err("run starts out of step with the runs".into());
        }
        let last_term = self.runs.back().and_then(Entries::last).map(Entry::term);
        let terms_front = self.terms.front().map(|&(start, _)| start);
        let first = (self.held > 0).then_some(self.first_index().0);
        if self.terms.back().map(|&(_, term)| term) != last_term || terms_front != first {
            return Err("the term index is out of step with the entries".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persist::entry_record_len;
    use bytes::Bytes;

    /// The count the budget rule gives, entry by entry: at least one, then while the
    /// records fit.
    fn naive_count(log: &RaftLog, from: LogIndex, max_bytes: usize) -> usize {
        let Some(start) = log.position(from) else {
            return 0;
        };
        let mut budget = max_bytes;
        let mut count = 0;
        for entry in log.iter().skip(start) {
            let size = entry_record_len(entry);
            if count > 0 && size > budget {
                break;
            }
            budget = budget.saturating_sub(size);
            count += 1;
        }
        count
    }

    #[test]
    fn entries_from_takes_what_the_budget_holds_after_truncation_and_compaction() {
        let mut log = RaftLog::default();
        for i in 1..=300u64 {
            let data = Bytes::from(vec![0; (i * 7 % 50) as usize]);
            log.append_commands(Term(1 + i / 100), std::iter::once(data));
        }
        log.truncate_from(LogIndex(251));
        log.commit_to(LogIndex(40));
        log.compact_to(LogIndex(30), Term(1));
        for i in 251..=280u64 {
            let entry = Entry::new(LogIndex(i), Term(3), Bytes::from(vec![1; 9]));
            log.append(Entries::from(vec![entry]));
        }
        let total: usize = log.iter().map(entry_record_len).sum();
        assert_eq!(log.entries_encoded_len(), total);
        let runs: usize = log.runs.iter().map(Entries::records_len).sum();
        assert_eq!(runs, total);
        for from in [31, 32, 100, 250, 251, 280] {
            for max_bytes in [0, 1, 10, 57, 200, 1_000, 100_000] {
                let from = LogIndex(from);
                let expected = naive_count(&log, from, max_bytes);
                let entries = log.entries_from(from, max_bytes);
                assert_eq!(entries.len(), expected, "from {from} budget {max_bytes}");
                assert_eq!(entries.first().map(Entry::index), Some(from));
                let naive: Vec<&Entry> = log
                    .iter()
                    .skip((from.0 - 31) as usize)
                    .take(expected)
                    .collect();
                assert!(entries.iter().eq(naive), "from {from} budget {max_bytes}");
            }
        }
        assert!(log.entries_from(LogIndex(281), 100).is_empty());
    }

    /// One change to a log, for the property below.
    #[derive(Clone, Debug)]
    enum Change {
        /// A leader's proposals of these payload sizes, in a new term if the flag says so.
        Propose(Vec<usize>, bool),
        /// A follower's append of entries of these payload sizes, in a run of their own;
        /// with the flag, their terms rise every third entry.
        Append(Vec<usize>, bool),
        /// Truncation from the held entry at this position (modulo the held count).
        Truncate(usize),
        /// Compaction up to the held entry at this position (modulo the held count).
        Compact(usize),
        /// A clone of the log proposes this many commands first (a second writer takes
        /// the shared chunk's next slots, so the log's own next proposals move on).
        Fork(usize),
    }

    fn change() -> impl proptest::strategy::Strategy<Value = Change> {
        use proptest::prelude::*;
        let sizes = || proptest::collection::vec(0usize..300, 1..80);
        prop_oneof![
            4 => (sizes(), any::<bool>()).prop_map(|(sizes, bump)| Change::Propose(sizes, bump)),
            2 => (sizes(), any::<bool>()).prop_map(|(sizes, rising)| Change::Append(sizes, rising)),
            1 => any::<usize>().prop_map(Change::Truncate),
            1 => any::<usize>().prop_map(Change::Compact),
            1 => (1usize..5).prop_map(Change::Fork),
        ]
    }

    proptest::proptest! {
        /// The record sums and the term index stay those of the held entries through
        /// proposals, appends, truncations and compactions: every message budget takes
        /// what the entry-by-entry rule takes, and every term lookup and fast-backup
        /// search answers as a scan of the entries would.
        #[test]
        fn record_sums_and_terms_follow_every_change(
            changes in proptest::collection::vec(change(), 1..40),
            probes in proptest::collection::vec((0usize..10_000, 0usize..20_000), 8),
        ) {
            let mut log = RaftLog::default();
            let mut term = Term(1);
            for change in changes {
                match change {
                    Change::Propose(sizes, bump) => {
                        if bump {
                            term = Term(term.0 + 1);
                        }
                        let commands = sizes.into_iter().map(|n| Bytes::from(vec![1; n]));
                        let run = log.append_commands(term, commands.collect::<Vec<_>>().into_iter());
                        proptest::prop_assert_eq!(run.last().map(Entry::index), Some(log.last_index()));
                    }
                    Change::Append(sizes, rising) => {
                        let first = log.last_index().0 + 1;
                        let entries: Vec<Entry> = sizes
                            .into_iter()
                            .enumerate()
                            .map(|(i, n)| {
                                if rising && i % 3 == 2 {
                                    term = Term(term.0 + 1);
                                }
                                Entry::new(LogIndex(first + i as u64), term, Bytes::from(vec![2; n]))
                            })
                            .collect();
                        log.append(entries.into());
                    }
                    Change::Truncate(at) if log.held > 0 => {
                        let index = log.first_index().plus((at % log.held) as u64);
                        if index > log.committed() {
                            log.truncate_from(index);
                        }
                    }
                    Change::Compact(at) if log.held > 0 => {
                        let index = log.first_index().plus((at % log.held) as u64);
                        let at = log.term_at(index).unwrap_or(term);
                        log.commit_to(index);
                        log.compact_to(index, at);
                    }
                    Change::Fork(count) => {
                        let mut other = log.clone();
                        let commands = vec![Bytes::from_static(b"fork"); count];
                        other.append_commands(term, commands.into_iter());
                    }
                    Change::Truncate(_) | Change::Compact(_) => {}
                }
                proptest::prop_assert!(log.check().is_ok(), "{:?}", log.check());
                let total: usize = log.iter().map(entry_record_len).sum();
                proptest::prop_assert_eq!(log.entries_encoded_len(), total);
                proptest::prop_assert_eq!(log.iter().count(), log.held);
                let entries: Vec<&Entry> = log.iter().collect();
                let naive_term = |index: u64| {
                    if index == log.snapshot_index().0 {
                        return Some(log.snapshot_term());
                    }
                    entries.iter().find(|e| e.index == index).map(|e| e.term())
                };
                let (low, high) = (log.snapshot_index().0.saturating_sub(1), log.last_index().0 + 1);
                for index in low..=high {
                    proptest::prop_assert_eq!(log.term_at(LogIndex(index)), naive_term(index), "term at {}", index);
                    let mut start = index;
                    if let (Some(at), true) = (naive_term(index), index > log.snapshot_index().0) {
                        while start > log.first_index().0 && naive_term(start - 1) == Some(at) {
                            start -= 1;
                        }
                    }
                    proptest::prop_assert_eq!(log.first_index_of_term_at(LogIndex(index)), LogIndex(start));
                }
                proptest::prop_assert_eq!(log.last_term(), naive_term(log.last_index().0).unwrap_or(log.snapshot_term()));
                for t in 0..=term.0 + 1 {
                    let last = entries.iter().rev().find(|e| e.term == t).map(|e| e.index());
                    proptest::prop_assert_eq!(log.last_index_of_term(Term(t)), last, "last of term {}", t);
                }
                for &(from, max_bytes) in &probes {
                    let from = log.first_index().plus(from as u64 % (log.held as u64 + 1));
                    let expected = naive_count(&log, from, max_bytes);
                    proptest::prop_assert_eq!(log.entries_from(from, max_bytes).len(), expected);
                }
            }
        }
    }
}
