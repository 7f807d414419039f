//! Runs of log entries shared by the log, the persist actions, the messages and the
//! applies: handing a run of 256 entries on costs one refcount, not one per entry.
//!
//! An [`Entries`] is a range of a shared chunk of one of two kinds:
//!
//! - a *fixed* chunk (`Arc<Vec<Entry>>`), made whole from a batch: a leader's large
//!   proposal batch, a decoded or restored log; while nobody else holds it, it grows in
//!   place (a message being decoded);
//! - a chunk of write-once *slots* ([`OnceLock`]) with room after its entries: whoever
//!   holds the range that ends at the first free slot may go on filling the slots after
//!   it, so that small proposals (one-by-one `Propose`s) land in one chunk and leave as
//!   one run. Whoever holds a range sees entries that never change; a second writer (a
//!   clone of the node, or a follower holding the leader's run in the same process) finds
//!   the slot taken and starts a chunk of its own, so a range only ever covers entries
//!   its holder agreed to.
//!
//! Each chunk also keeps, for every entry, the running sum of the record bytes
//! ([`entry_record_len`]) of its entries up to that one, computed once when the entry
//! is written: the bytes of any run ([`Entries::records_len`]) are one subtraction, and
//! how many entries fit in a message budget is a binary search. The log, the message
//! codec and a disk counting what it writes never size the same entry twice.

use std::fmt;
use std::ops::Range;
use std::sync::{Arc, OnceLock};

use crate::message::Entry;
use crate::persist::entry_record_len;

/// A chunk made whole: its entries and, for each, the record bytes of the entries up
/// to and including it.
#[derive(Clone, Default)]
struct Fixed {
    entries: Vec<Entry>,
    ends: Vec<u64>,
}

impl Fixed {
    /// Appends `entry`; returns its record bytes.
    fn push(&mut self, entry: Entry) -> u64 {
        let size = entry_record_len(&entry) as u64;
        let end = self.ends.last().copied().unwrap_or(0) + size;
        self.entries.push(entry);
        self.ends.push(end);
        size
    }
}

/// One written slot: the entry and the record bytes of the chunk's entries up to and
/// including it.
#[derive(Debug)]
struct Slot {
    entry: Entry,
    end: u64,
}

/// The entry of a written slot.
fn slot_entry(slot: &OnceLock<Slot>) -> Option<&Entry> {
    slot.get().map(|slot| &slot.entry)
}

/// The record bytes of the first `count` slots, if they are written.
fn slots_bytes_before(slots: &[OnceLock<Slot>], count: usize) -> Option<u64> {
    match count.checked_sub(1) {
        Some(last) => slots.get(last)?.get().map(|slot| slot.end),
        None => Some(0),
    }
}

/// The shared storage runs are cut from.
#[derive(Clone)]
enum Chunk {
    Fixed(Arc<Fixed>),
    Slots(Arc<[OnceLock<Slot>]>),
}

impl Chunk {
    fn capacity(&self) -> usize {
        match self {
            Chunk::Fixed(fixed) => fixed.entries.len(),
            Chunk::Slots(slots) => slots.len(),
        }
    }

    /// The record bytes of the chunk's first `count` entries (written ones).
    fn bytes_before(&self, count: usize) -> u64 {
        match self {
            Chunk::Fixed(fixed) => count
                .checked_sub(1)
                .and_then(|last| fixed.ends.get(last).copied())
                .unwrap_or(0),
            Chunk::Slots(slots) => slots_bytes_before(slots, count).unwrap_or(0),
        }
    }

    fn same(&self, other: &Chunk) -> bool {
        match (self, other) {
            (Chunk::Fixed(a), Chunk::Fixed(b)) => Arc::ptr_eq(a, b),
            (Chunk::Slots(a), Chunk::Slots(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

/// A run of consecutive log entries, cheap to clone (one refcount) and to cut
/// ([`Entries::slice`]). Build one from a `Vec<Entry>` or an iterator of entries; read it
/// with [`Entries::iter`], [`Entries::get`], [`Entries::first`] and [`Entries::last`].
#[derive(Clone, Default)]
pub struct Entries {
    chunk: Option<Chunk>,
    start: usize,
    end: usize,
}

impl Entries {
    /// No entries (allocates nothing).
    pub fn new() -> Entries {
        Entries::default()
    }

    /// No entries yet, with room for `capacity` pushed in place.
    pub fn with_capacity(capacity: usize) -> Entries {
        Entries::with_spare(std::iter::empty(), capacity)
    }

    /// `entries` as a run in a fresh chunk with room for `spare` more pushed in place
    /// (a fixed chunk if there is to be no room).
    pub(crate) fn with_spare(
        entries: impl ExactSizeIterator<Item = Entry>,
        spare: usize,
    ) -> Entries {
        let len = entries.len();
        let chunk = if spare == 0 {
            let mut fixed = Fixed {
                entries: Vec::with_capacity(len),
                ends: Vec::with_capacity(len),
            };
            entries.for_each(|entry| {
                fixed.push(entry);
            });
            Chunk::Fixed(Arc::new(fixed))
        } else {
            let mut end = 0;
            let slots = entries
                .map(|entry| {
                    end += entry_record_len(&entry) as u64;
                    OnceLock::from(Slot { entry, end })
                })
                .chain(std::iter::repeat_with(OnceLock::new).take(spare))
                .collect();
            Chunk::Slots(slots)
        };
        if chunk.capacity() == 0 {
            return Entries::new();
        }
        Entries {
            chunk: Some(chunk),
            start: 0,
            end: len,
        }
    }

    /// How many entries the run holds.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// Whether the run holds no entry.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// The entries in order.
    pub fn iter(&self) -> Iter<'_> {
        let inner = match &self.chunk {
            Some(Chunk::Fixed(fixed)) => Inner::Fixed(fixed.entries[self.start..self.end].iter()),
            Some(Chunk::Slots(slots)) => Inner::Slots(slots[self.start..self.end].iter()),
            None => Inner::Fixed([].iter()),
        };
        Iter { inner }
    }

    /// The entry at `position` within the run.
    pub fn get(&self, position: usize) -> Option<&Entry> {
        if position >= self.len() {
            return None;
        }
        let at = self.start + position;
        match &self.chunk {
            Some(Chunk::Fixed(fixed)) => fixed.entries.get(at),
            Some(Chunk::Slots(slots)) => slots.get(at).and_then(slot_entry),
            None => None,
        }
    }

    /// The first entry.
    pub fn first(&self) -> Option<&Entry> {
        self.get(0)
    }

    /// The last entry.
    pub fn last(&self) -> Option<&Entry> {
        self.get(self.len().checked_sub(1)?)
    }

    /// The record bytes of the run's entries: the sum of their [`entry_record_len`], the
    /// bytes they take in an AppendEntries and in the encoded raft state (kept by the
    /// chunk: no entry is sized again).
    pub fn records_len(&self) -> usize {
        let bytes = self.chunk.as_ref().map_or(0, |chunk| {
            // Written slots are a prefix of their chunk, so both sums are known.
            chunk
                .bytes_before(self.end)
                .saturating_sub(chunk.bytes_before(self.start))
        });
        usize::try_from(bytes).unwrap_or(usize::MAX)
    }

    /// How many of the run's first entries have records that take `budget` bytes or
    /// fewer in all (a binary search over the chunk's running sums).
    pub(crate) fn count_within(&self, budget: u64) -> usize {
        let Some(chunk) = &self.chunk else {
            return 0;
        };
        let base = chunk.bytes_before(self.start);
        let fits = |end: u64| end.saturating_sub(base) <= budget;
        match chunk {
            Chunk::Fixed(fixed) => {
                fixed.ends[self.start..self.end].partition_point(|&end| fits(end))
            }
            Chunk::Slots(slots) => slots[self.start..self.end]
                .partition_point(|slot| slot.get().is_some_and(|slot| fits(slot.end))),
        }
    }

    /// The entries, cloned into a `Vec`.
    pub fn to_vec(&self) -> Vec<Entry> {
        self.iter().cloned().collect()
    }

    /// The entries at `range` (positions within the run, clamped to it), sharing the
    /// same chunk.
    #[must_use]
    pub fn slice(&self, range: Range<usize>) -> Entries {
        let end = range.end.min(self.len());
        let start = range.start.min(end);
        Entries {
            chunk: self.chunk.clone(),
            start: self.start + start,
            end: self.start + end,
        }
    }

    /// Drops the first `count` entries (all, if fewer).
    pub fn skip_front(&mut self, count: usize) {
        self.start += count.min(self.len());
    }

    /// Keeps the first `len` entries.
    pub fn truncate(&mut self, len: usize) {
        self.end = self.start + len.min(self.len());
    }

    /// How many more entries fit in place after the run (0 in a fixed chunk; in a chunk
    /// of slots shared with runs past this one, [`Entries::try_push`] finds out).
    pub(crate) fn room(&self) -> usize {
        match &self.chunk {
            Some(Chunk::Slots(slots)) => slots.len() - self.end,
            Some(Chunk::Fixed(_)) | None => 0,
        }
    }

    /// Appends `entry` in place if the chunk's next slot is free (or the run alone holds
    /// its fixed chunk and ends it) and returns its record bytes; gives it back if not.
    pub(crate) fn try_push(&mut self, entry: Entry) -> Result<u64, Entry> {
        let slots = match &mut self.chunk {
            Some(Chunk::Slots(slots)) => slots,
            Some(Chunk::Fixed(fixed)) => {
                return match Arc::get_mut(fixed) {
                    Some(fixed) if fixed.entries.len() == self.end => {
                        let size = fixed.push(entry);
                        self.end += 1;
                        Ok(size)
                    }
                    _ => Err(entry),
                };
            }
            None => return Err(entry),
        };
        let Some(slot) = slots.get(self.end) else {
            return Err(entry);
        };
        let Some(before) = slots_bytes_before(slots, self.end) else {
            return Err(entry);
        };
        let size = entry_record_len(&entry) as u64;
        slot.set(Slot {
            entry,
            end: before + size,
        })
        .map_err(|slot| slot.entry)?;
        self.end += 1;
        Ok(size)
    }

    /// Appends `entry`, moving the run to a larger chunk if the next slot is not free
    /// (moving the entries if nobody else holds the chunk, cloning them if someone does).
    pub fn push(&mut self, entry: Entry) {
        let Err(entry) = self.try_push(entry) else {
            return;
        };
        if self.chunk.is_none() {
            *self = vec![entry].into();
            return;
        }
        let mut old = std::mem::take(self);
        let (start, end) = (old.start, old.end);
        let spare = (old.len() + 1).max(4);
        let unique = match old.chunk.as_mut() {
            Some(Chunk::Slots(slots)) => Arc::get_mut(slots),
            _ => None,
        };
        let moved: Vec<Entry> = match unique {
            Some(slots) => slots[start..end]
                .iter_mut()
                .filter_map(OnceLock::take)
                .map(|slot| slot.entry)
                .collect(),
            None => old.to_vec(),
        };
        *self = Entries::with_spare(moved.into_iter(), spare);
        if let Err(entry) = self.try_push(entry) {
            // Unreachable (a fresh chunk of slots has room); stay correct anyway.
            let mut all = self.to_vec();
            all.push(entry);
            *self = all.into();
        }
    }

    /// Whether `next` continues this run in the same chunk (so the two can be one run).
    pub(crate) fn is_continued_by(&self, next: &Entries) -> bool {
        match (&self.chunk, &next.chunk) {
            (Some(a), Some(b)) => a.same(b) && self.end == next.start,
            _ => false,
        }
    }

    /// Extends this run by `count` entries of its chunk (the caller checked
    /// [`Entries::is_continued_by`]).
    pub(crate) fn extend_by(&mut self, count: usize) {
        self.end += count;
    }
}

impl fmt::Debug for Entries {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq for Entries {
    fn eq(&self, other: &Entries) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl From<Vec<Entry>> for Entries {
    fn from(entries: Vec<Entry>) -> Entries {
        Entries::with_spare(entries.into_iter(), 0)
    }
}

impl FromIterator<Entry> for Entries {
    fn from_iter<I: IntoIterator<Item = Entry>>(entries: I) -> Entries {
        let entries: Vec<Entry> = entries.into_iter().collect();
        entries.into()
    }
}

impl<'a> IntoIterator for &'a Entries {
    type Item = &'a Entry;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// The entries of an [`Entries`], in order.
#[derive(Clone, Debug)]
pub struct Iter<'a> {
    inner: Inner<'a>,
}

#[derive(Clone, Debug)]
enum Inner<'a> {
    Fixed(std::slice::Iter<'a, Entry>),
    Slots(std::slice::Iter<'a, OnceLock<Slot>>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a Entry;

    fn next(&mut self) -> Option<&'a Entry> {
        match &mut self.inner {
            Inner::Fixed(entries) => entries.next(),
            Inner::Slots(slots) => slots.next().and_then(slot_entry),
        }
    }

    fn nth(&mut self, n: usize) -> Option<&'a Entry> {
        match &mut self.inner {
            Inner::Fixed(entries) => entries.nth(n),
            Inner::Slots(slots) => slots.nth(n).and_then(slot_entry),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.inner {
            Inner::Fixed(entries) => entries.size_hint(),
            Inner::Slots(slots) => slots.size_hint(),
        }
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        match &mut self.inner {
            Inner::Fixed(entries) => entries.next_back(),
            Inner::Slots(slots) => slots.next_back().and_then(slot_entry),
        }
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry_record_len;
    use crate::types::{LogIndex, Term};

    fn entry(index: u64) -> Entry {
        Entry::new(
            LogIndex(index),
            Term(1),
            bytes::Bytes::from(vec![index as u8]),
        )
    }

    /// Entries of payloads 0, 7, 14, ... bytes (records of different sizes).
    fn sized(first: u64, count: u64) -> Vec<Entry> {
        (first..first + count)
            .map(|i| {
                Entry::new(
                    LogIndex(i),
                    Term(1 + i / 5),
                    vec![1; (i * 7 % 200) as usize].into(),
                )
            })
            .collect()
    }

    /// Every slice of `run`: its records_len is the sum of its entries' records, and
    /// count_within takes the longest prefix whose records fit.
    fn check_sums(run: &Entries) {
        for start in 0..=run.len() {
            for end in start..=run.len() {
                let part = run.slice(start..end);
                let sizes: Vec<usize> = part.iter().map(entry_record_len).collect();
                assert_eq!(part.records_len(), sizes.iter().sum::<usize>());
                for budget in [0, 1, 50, 120, 400, 5_000] {
                    let mut left = budget;
                    let fit = sizes.iter().take_while(|&&size| {
                        let fits = size <= left;
                        left = left.saturating_sub(size);
                        fits
                    });
                    assert_eq!(
                        part.count_within(budget as u64),
                        fit.count(),
                        "{start}..{end} budget {budget}"
                    );
                }
            }
        }
    }

    #[test]
    fn every_run_knows_its_record_bytes() {
        // A fixed chunk, a chunk of slots filled in place, and one grown by pushes.
        check_sums(&Entries::from(sized(1, 12)));
        let mut slots = Entries::with_spare(sized(1, 3).into_iter(), 9);
        for entry in sized(4, 9) {
            assert!(slots.try_push(entry).is_ok());
        }
        check_sums(&slots);
        let mut grown = Entries::new();
        for entry in sized(1, 20) {
            grown.push(entry);
        }
        check_sums(&grown);
        // A second writer's chunk counts from its own first entry.
        let mut other = slots.slice(0..5);
        other.push(Entry::new(LogIndex(6), Term(9), vec![3; 33].into()));
        check_sums(&other);
        assert_eq!(Entries::new().records_len(), 0);
    }

    #[test]
    fn runs_share_a_chunk_and_a_second_writer_moves_on() {
        let mut run = Entries::with_capacity(4);
        run.push(entry(1));
        run.push(entry(2));
        let mut other = run.clone();
        run.push(entry(3));
        // The clone's next slot is taken: it moves to a chunk of its own.
        other.push(entry(30));
        assert_eq!(
            run.iter().map(|e| e.index().0).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        assert_eq!(other.last().map(|e| e.index().0), Some(30));
        assert!(!run.is_continued_by(&other));
        // Past the capacity the run grows into a fresh chunk.
        run.push(entry(4));
        run.push(entry(5));
        assert_eq!(run.len(), 5);
        assert_eq!(run.slice(1..3), Entries::from(vec![entry(2), entry(3)]));
        let mut tail = run.slice(3..99);
        assert_eq!(tail.len(), 2);
        tail.skip_front(1);
        assert_eq!(tail.first(), Some(&entry(5)));
        tail.truncate(0);
        assert!(tail.is_empty() && tail.first().is_none());
        // A fixed chunk has no room: a push moves the run to slots.
        let mut fixed = Entries::from(vec![entry(1), entry(2)]);
        assert_eq!(fixed.room(), 0);
        let shared = fixed.clone();
        fixed.push(entry(3));
        assert_eq!(fixed.len(), 3);
        assert_eq!(shared.len(), 2);
        assert!(fixed.room() > 0);
        let mut decoded = Entries::new();
        for i in 1..=100 {
            decoded.push(entry(i));
        }
        assert!(decoded.iter().map(|e| e.index().0).eq(1..=100));
    }
}
