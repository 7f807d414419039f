//! Gets served through Raft's ReadIndex ([`crate::ReadMode::ReadIndex`]): the reads a
//! server asked Raft to confirm, and those confirmed at an index the state machine has
//! not reached yet.
//!
//! A Get is answered with the state at an applied index at least its read index: that
//! state holds every write committed before the read was asked (Raft confirmed this
//! server still led after the read arrived) and only committed writes, so the answer is
//! linearizable whatever role the server has by then.

use std::collections::BTreeMap;

use raft_core::LogIndex;

use crate::types::{ClientAddr, ClientId, Seq};

/// A Get waiting for Raft's confirmation or for the state machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ReadWaiter {
    pub(crate) client: ClientId,
    pub(crate) seq: Seq,
    pub(crate) key: String,
    /// Where to send the answer (the address of the latest attempt).
    pub(crate) reply_to: ClientAddr,
}

/// The reads of one server.
#[derive(Clone, Debug, Default)]
pub(crate) struct Reads {
    next_context: u64,
    /// Asked, not yet confirmed, by context.
    asked: BTreeMap<u64, ReadWaiter>,
    /// Confirmed at a read index, by (index, context).
    confirmed: BTreeMap<(LogIndex, u64), ReadWaiter>,
    /// The read each client has in flight (one call at a time per clerk).
    by_client: BTreeMap<ClientId, (Seq, u64)>,
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
        let waiter = self.asked.get_mut(&context).or_else(|| {
            self.confirmed
                .iter_mut()
                .find(|((_, c), _)| *c == context)
                .map(|(_, waiter)| waiter)
        });
        match waiter {
            Some(waiter) => {
                waiter.reply_to = reply_to;
                true
            }
            None => false,
        }
    }

    /// Records a read to ask Raft about; returns its context.
    pub(crate) fn ask(&mut self, waiter: ReadWaiter) -> u64 {
        let context = self.next_context;
        self.next_context += 1;
        self.by_client.insert(waiter.client, (waiter.seq, context));
        self.asked.insert(context, waiter);
        context
    }

    /// Raft confirmed read `context` at `index`.
    pub(crate) fn confirm(&mut self, context: u64, index: LogIndex) {
        if let Some(waiter) = self.asked.remove(&context) {
            self.confirmed.insert((index, context), waiter);
        }
    }

    /// Raft refused read `context` (this server does not lead): it is forgotten.
    pub(crate) fn refuse(&mut self, context: u64) -> Option<ReadWaiter> {
        let waiter = self.asked.remove(&context)?;
        self.forget(&waiter, context);
        Some(waiter)
    }

    /// Removes and returns the confirmed read of the lowest index, if that index is at
    /// most `applied`.
    pub(crate) fn pop_ready(&mut self, applied: LogIndex) -> Option<ReadWaiter> {
        let entry = self.confirmed.first_entry()?;
        if entry.key().0 > applied {
            return None;
        }
        let ((_, context), waiter) = entry.remove_entry();
        self.forget(&waiter, context);
        Some(waiter)
    }

    /// Every read, asked or confirmed (the server halted).
    pub(crate) fn take_all(&mut self) -> Vec<ReadWaiter> {
        self.by_client.clear();
        let asked = std::mem::take(&mut self.asked).into_values();
        let confirmed = std::mem::take(&mut self.confirmed).into_values();
        asked.chain(confirmed).collect()
    }

    /// How many reads wait.
    pub(crate) fn len(&self) -> usize {
        self.asked.len() + self.confirmed.len()
    }

    fn forget(&mut self, waiter: &ReadWaiter, context: u64) {
        if self.by_client.get(&waiter.client) == Some(&(waiter.seq, context)) {
            self.by_client.remove(&waiter.client);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take_ready(reads: &mut Reads, applied: LogIndex) -> Vec<ReadWaiter> {
        std::iter::from_fn(|| reads.pop_ready(applied)).collect()
    }

    fn waiter(client: u64, seq: u64) -> ReadWaiter {
        ReadWaiter {
            client: ClientId(client),
            seq: Seq(seq),
            key: "k".into(),
            reply_to: ClientAddr(client),
        }
    }

    #[test]
    fn confirmed_reads_wait_for_their_index() {
        let mut reads = Reads::default();
        let a = reads.ask(waiter(1, 1));
        let b = reads.ask(waiter(2, 1));
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
        let a = reads.ask(waiter(1, 3));
        assert_eq!(reads.refuse(a), Some(waiter(1, 3)));
        assert!(!reads.redirect(ClientId(1), Seq(3), ClientAddr(2)));
        assert_eq!(reads.refuse(a), None);
    }
}
