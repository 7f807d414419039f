//! Gets served through Raft's ReadIndex ([`crate::ReadMode::ReadIndex`]): the reads a
//! server asked Raft to confirm, and those confirmed at an index the state machine has
//! not reached yet.
//!
//! A Get is answered with the state at an applied index at least its read index: that
//! state holds every write committed before the read was asked (Raft confirmed this
//! server still led after the read arrived) and only committed writes, so the answer is
//! linearizable whatever role the server has by then.
//!
//! The Gets of one batch of requests are *gathered* and asked as one read (one context):
//! every one of them arrived before the read was asked, so the read index Raft confirms
//! for the group serves each of them.

use std::collections::hash_map::Entry;
use std::collections::BTreeMap;
use std::sync::Arc;

use raft_core::LogIndex;

use crate::keys::ClientMap;
use crate::types::{ClientAddr, ClientId, Seq};

/// A Get waiting for Raft's confirmation or for the state machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ReadWaiter {
    pub(crate) client: ClientId,
    pub(crate) seq: Seq,
    pub(crate) key: Arc<str>,
    /// Where to send the answer (the address of the latest attempt).
    pub(crate) reply_to: ClientAddr,
}

/// The reads of one server.
#[derive(Clone, Debug, Default)]
pub(crate) struct Reads {
    /// The context the gathered reads will be asked with.
    next_context: u64,
    /// Gathered from the batch being taken, not asked yet (empty between steps).
    gathering: Vec<ReadWaiter>,
    /// Asked, not yet confirmed, by context.
    asked: BTreeMap<u64, Vec<ReadWaiter>>,
    /// Confirmed at a read index, by (index, context).
    confirmed: BTreeMap<(LogIndex, u64), Vec<ReadWaiter>>,
    /// The read each client has in flight (one call at a time per clerk), by context.
    /// Only looked up, never iterated.
    by_client: ClientMap<(Seq, u64)>,
    /// How many reads wait, in all three places.
    count: usize,
}

impl Reads {
    /// If (client, seq) already waits, answer it at `reply_to` from now on and return true.
    pub(crate) fn redirect(&mut self, client: ClientId, seq: Seq, reply_to: ClientAddr) -> bool {
        let Some(&(waiting_seq, context)) = self.by_client.get(&client) else {
            return false;
        };
        if waiting_seq != seq {
            return false;
        }
        let group = if context == self.next_context {
            Some(&mut self.gathering)
        } else {
            self.asked.get_mut(&context).or_else(|| {
                self.confirmed
                    .iter_mut()
                    .find(|((_, c), _)| *c == context)
                    .map(|(_, group)| group)
            })
        };
        let waiter = group.and_then(|group| {
            group
                .iter_mut()
                .find(|waiter| waiter.client == client && waiter.seq == seq)
        });
        match waiter {
            Some(waiter) => {
                waiter.reply_to = reply_to;
                true
            }
            None => false,
        }
    }

    /// Makes room for `reads` more reads to gather (the Gets of a batch of requests).
    pub(crate) fn reserve(&mut self, reads: usize) {
        self.gathering.reserve(reads);
    }

    /// Adds a read to those [`Reads::ask_gathered`] asks together.
    pub(crate) fn gather(&mut self, waiter: ReadWaiter) {
        self.by_client
            .insert(waiter.client, (waiter.seq, self.next_context));
        self.gathering.push(waiter);
        self.count += 1;
    }

    /// Records the gathered reads as asked; returns the context to ask Raft with, if any
    /// read was gathered.
    pub(crate) fn ask_gathered(&mut self) -> Option<u64> {
        if self.gathering.is_empty() {
            return None;
        }
        let context = self.next_context;
        self.next_context += 1;
        self.asked
            .insert(context, std::mem::take(&mut self.gathering));
        Some(context)
    }

    /// Raft confirmed read `context` at `index`.
    pub(crate) fn confirm(&mut self, context: u64, index: LogIndex) {
        if let Some(group) = self.asked.remove(&context) {
            self.confirmed.insert((index, context), group);
        }
    }

    /// Raft refused read `context` (this server does not lead): its reads are forgotten.
    pub(crate) fn refuse(&mut self, context: u64) -> Vec<ReadWaiter> {
        let group = self.asked.remove(&context).unwrap_or_default();
        self.forget(&group, context);
        group
    }

    /// Removes and returns the confirmed reads of the lowest index, if that index is at
    /// most `applied`.
    pub(crate) fn pop_ready(&mut self, applied: LogIndex) -> Option<Vec<ReadWaiter>> {
        let entry = self.confirmed.first_entry()?;
        if entry.key().0 > applied {
            return None;
        }
        let ((_, context), group) = entry.remove_entry();
        self.forget(&group, context);
        Some(group)
    }

    /// Every read, asked or confirmed (the server halted).
    pub(crate) fn take_all(&mut self) -> Vec<ReadWaiter> {
        self.by_client.clear();
        self.count = 0;
        let gathered = std::mem::take(&mut self.gathering);
        let asked = std::mem::take(&mut self.asked).into_values().flatten();
        let confirmed = std::mem::take(&mut self.confirmed).into_values().flatten();
        asked.chain(confirmed).chain(gathered).collect()
    }

    /// How many reads wait.
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    fn forget(&mut self, group: &[ReadWaiter], context: u64) {
        self.count -= group.len();
        for waiter in group {
            if let Entry::Occupied(row) = self.by_client.entry(waiter.client) {
                if *row.get() == (waiter.seq, context) {
                    row.remove();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take_ready(reads: &mut Reads, applied: LogIndex) -> Vec<ReadWaiter> {
        std::iter::from_fn(|| reads.pop_ready(applied))
            .flatten()
            .collect()
    }

    fn waiter(client: u64, seq: u64) -> ReadWaiter {
        ReadWaiter {
            client: ClientId(client),
            seq: Seq(seq),
            key: "k".into(),
            reply_to: ClientAddr(client),
        }
    }

    fn ask(reads: &mut Reads, waiters: &[ReadWaiter]) -> u64 {
        for waiter in waiters {
            reads.gather(waiter.clone());
        }
        reads.ask_gathered().expect("gathered")
    }

    #[test]
    fn confirmed_reads_wait_for_their_index() {
        let mut reads = Reads::default();
        let a = ask(&mut reads, &[waiter(1, 1)]);
        let b = ask(&mut reads, &[waiter(2, 1)]);
        reads.confirm(b, LogIndex(7));
        reads.confirm(a, LogIndex(5));
        assert!(take_ready(&mut reads, LogIndex(4)).is_empty());
        assert_eq!(take_ready(&mut reads, LogIndex(6)), vec![waiter(1, 1)]);
        assert!(reads.redirect(ClientId(2), Seq(1), ClientAddr(9)));
        let ready = take_ready(&mut reads, LogIndex(7));
        assert_eq!(ready.len(), 1);
        assert_eq!(ready[0].reply_to, ClientAddr(9));
        assert_eq!(reads.len(), 0);
    }

    #[test]
    fn a_refused_read_is_forgotten() {
        let mut reads = Reads::default();
        let a = ask(&mut reads, &[waiter(1, 3)]);
        assert_eq!(reads.refuse(a), vec![waiter(1, 3)]);
        assert!(!reads.redirect(ClientId(1), Seq(3), ClientAddr(2)));
        assert_eq!(reads.refuse(a), vec![]);
        assert_eq!(reads.len(), 0);
    }

    #[test]
    fn gathered_reads_are_asked_and_answered_together() {
        let mut reads = Reads::default();
        assert_eq!(reads.ask_gathered(), None);
        reads.gather(waiter(1, 1));
        reads.gather(waiter(2, 4));
        // A retry within the same batch is answered where it came from last.
        assert!(reads.redirect(ClientId(2), Seq(4), ClientAddr(20)));
        assert!(!reads.redirect(ClientId(2), Seq(5), ClientAddr(21)));
        assert_eq!(reads.len(), 2);
        let context = reads.ask_gathered().expect("gathered");
        assert!(reads.redirect(ClientId(1), Seq(1), ClientAddr(10)));
        reads.confirm(context, LogIndex(3));
        let ready = take_ready(&mut reads, LogIndex(3));
        let to: Vec<ClientAddr> = ready.iter().map(|w| w.reply_to).collect();
        assert_eq!(to, vec![ClientAddr(10), ClientAddr(20)]);
        assert_eq!(reads.len(), 0);
        assert!(!reads.redirect(ClientId(1), Seq(1), ClientAddr(10)));
    }

    #[test]
    fn take_all_returns_every_read() {
        let mut reads = Reads::default();
        let a = ask(&mut reads, &[waiter(1, 1), waiter(2, 1)]);
        ask(&mut reads, &[waiter(3, 1)]);
        reads.confirm(a, LogIndex(9));
        reads.gather(waiter(4, 1));
        assert_eq!(reads.take_all().len(), 4);
        assert_eq!(reads.len(), 0);
    }
}
