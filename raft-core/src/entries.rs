//! Runs of log entries shared by the log, the persist actions, the messages and the
//! applies: handing a run of 256 entries on costs one refcount, not one per entry.
//!
//! An [`Entries`] is a range of slots in a shared, fixed-capacity chunk. A slot is
//! written once ([`OnceLock`]), so whoever holds a range sees entries that never change,
//! while whoever holds the range that ends at the chunk's first free slot may go on
//! filling the slots after it: a leader's proposals of one round, or of many one-by-one
//! proposals, land in one chunk and leave as one run. A second writer (a clone of the
//! node, or a follower holding the leader's run in the same process) finds the slot taken
//! and starts a chunk of its own, so a range only ever covers entries its holder agreed to.

use std::fmt;
use std::ops::Range;
use std::sync::{Arc, OnceLock};

use crate::message::Entry;

/// The shared slots runs are cut from.
type Chunk = Arc<[OnceLock<Entry>]>;

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
        if capacity == 0 {
            return Entries::new();
        }
        Entries {
            chunk: Some((0..capacity).map(|_| OnceLock::new()).collect()),
            start: 0,
            end: 0,
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

    fn slots(&self) -> &[OnceLock<Entry>] {
        match &self.chunk {
            Some(chunk) => &chunk[self.start..self.end],
            None => &[],
        }
    }

    /// The entries in order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            slots: self.slots().iter(),
        }
    }

    /// The entry at `position` within the run.
    pub fn get(&self, position: usize) -> Option<&Entry> {
        self.slots().get(position).and_then(OnceLock::get)
    }

    /// The first entry.
    pub fn first(&self) -> Option<&Entry> {
        self.slots().first().and_then(OnceLock::get)
    }

    /// The last entry.
    pub fn last(&self) -> Option<&Entry> {
        self.slots().last().and_then(OnceLock::get)
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

    /// How many more entries fit in place after the run (0 if its chunk is full, or
    /// shared with runs past it; then [`Entries::try_push`] finds out).
    pub(crate) fn room(&self) -> usize {
        self.chunk
            .as_ref()
            .map_or(0, |chunk| chunk.len() - self.end)
    }

    /// Appends `entry` in place if the chunk's next slot is free; gives it back if not.
    pub(crate) fn try_push(&mut self, entry: Entry) -> Result<(), Entry> {
        let Some(slot) = self.chunk.as_ref().and_then(|chunk| chunk.get(self.end)) else {
            return Err(entry);
        };
        slot.set(entry)?;
        self.end += 1;
        Ok(())
    }

    /// Appends `entry`, moving the run to a larger chunk if the next slot is not free
    /// (moving the entries if nobody else holds the chunk, cloning them if someone does).
    pub fn push(&mut self, entry: Entry) {
        let Err(entry) = self.try_push(entry) else {
            return;
        };
        let mut grown = Entries::with_capacity((2 * self.len()).max(4));
        let mut old = std::mem::take(self);
        let (start, end) = (old.start, old.end);
        if let Some(slots) = old.chunk.as_mut().and_then(Arc::get_mut) {
            for slot in &mut slots[start..end] {
                if let Some(entry) = slot.take() {
                    grown.push_into_room(entry);
                }
            }
        } else {
            for entry in old.iter() {
                grown.push_into_room(entry.clone());
            }
        }
        grown.push_into_room(entry);
        *self = grown;
    }

    /// Appends into a chunk this run alone holds and that has room.
    fn push_into_room(&mut self, entry: Entry) {
        if let Err(entry) = self.try_push(entry) {
            // Unreachable by construction (fresh chunk with room); stay correct anyway.
            self.push(entry);
        }
    }

    /// Whether `next` continues this run in the same chunk (so the two can be one run).
    pub(crate) fn is_continued_by(&self, next: &Entries) -> bool {
        match (&self.chunk, &next.chunk) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b) && self.end == next.start,
            _ => false,
        }
    }

    /// Extends this run by `count` slots of its chunk (the caller checked
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
        entries.into_iter().collect()
    }
}

impl FromIterator<Entry> for Entries {
    fn from_iter<I: IntoIterator<Item = Entry>>(entries: I) -> Entries {
        let chunk: Chunk = entries.into_iter().map(OnceLock::from).collect();
        if chunk.is_empty() {
            return Entries::new();
        }
        Entries {
            end: chunk.len(),
            chunk: Some(chunk),
            start: 0,
        }
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
    slots: std::slice::Iter<'a, OnceLock<Entry>>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a Entry;

    fn next(&mut self) -> Option<&'a Entry> {
        self.slots.next().and_then(OnceLock::get)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.slots.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.slots.next_back().and_then(OnceLock::get)
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{LogIndex, Term};

    fn entry(index: u64) -> Entry {
        Entry::new(
            LogIndex(index),
            Term(1),
            bytes::Bytes::from(vec![index as u8]),
        )
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
    }
}
