//! The clients a leader owes an answer: one per log entry it proposed in its current
//! term, keyed by the entry's index, with a second index by client so that a retry of a
//! request already in the log waits for that entry instead of being appended again.

use std::collections::BTreeMap;

use raft_core::{LogIndex, Term};

use crate::types::{ClientAddr, ClientId, Seq};

/// A client waiting for the entry at some index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Waiter {
    /// The term the entry was proposed in: if the applied entry at its index has another
    /// term, it is another entry.
    pub(crate) term: Term,
    pub(crate) client: ClientId,
    pub(crate) seq: Seq,
    /// Where to send the answer (the address of the latest attempt).
    pub(crate) reply_to: ClientAddr,
}

/// The waiting clients of one leader term.
#[derive(Clone, Debug, Default)]
pub(crate) struct Waiting {
    by_index: BTreeMap<LogIndex, Waiter>,
    by_client: BTreeMap<ClientId, (Seq, LogIndex)>,
}

impl Waiting {
    /// Waits for the entry proposed at `index`.
    pub(crate) fn add(&mut self, index: LogIndex, waiter: Waiter) {
        debug_assert!(
            self.term().is_none() || self.term() == Some(waiter.term),
            "waiters of two terms"
        );
        self.by_client.insert(waiter.client, (waiter.seq, index));
        if let Some(replaced) = self.by_index.insert(index, waiter) {
            debug_assert!(false, "two waiters for {index}: {replaced:?}");
        }
    }

    /// If (client, seq) is already waiting for an entry, answer it at `reply_to` from now
    /// on and return true.
    pub(crate) fn redirect(&mut self, client: ClientId, seq: Seq, reply_to: ClientAddr) -> bool {
        let Some(&(waiting_seq, index)) = self.by_client.get(&client) else {
            return false;
        };
        match self.by_index.get_mut(&index) {
            Some(waiter) if waiting_seq == seq => {
                waiter.reply_to = reply_to;
                true
            }
            _ => false,
        }
    }

    /// Whether a client waits for the entry at `index`.
    pub(crate) fn waits_at(&self, index: LogIndex) -> bool {
        self.by_index.contains_key(&index)
    }

    /// Removes and returns the waiters of every index up to `index`, in index order.
    pub(crate) fn take_through(&mut self, index: LogIndex) -> Vec<(LogIndex, Waiter)> {
        let mut taken = Vec::new();
        while let Some(entry) = self.by_index.first_entry() {
            if *entry.key() > index {
                break;
            }
            let (at, waiter) = entry.remove_entry();
            self.forget_client(at, &waiter);
            taken.push((at, waiter));
        }
        taken
    }

    /// Removes and returns every waiter, in index order.
    pub(crate) fn take_all(&mut self) -> Vec<Waiter> {
        self.by_client.clear();
        std::mem::take(&mut self.by_index).into_values().collect()
    }

    /// The term of the waiters, if any wait.
    pub(crate) fn term(&self) -> Option<Term> {
        self.by_index.values().next().map(|waiter| waiter.term)
    }

    /// The lowest index waited for.
    pub(crate) fn first_index(&self) -> Option<LogIndex> {
        self.by_index.keys().next().copied()
    }

    /// How many clients wait.
    pub(crate) fn len(&self) -> usize {
        self.by_index.len()
    }

    fn forget_client(&mut self, index: LogIndex, waiter: &Waiter) {
        if self.by_client.get(&waiter.client) == Some(&(waiter.seq, index)) {
            self.by_client.remove(&waiter.client);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiter(client: u64, seq: u64, addr: u64) -> Waiter {
        Waiter {
            term: Term(2),
            client: ClientId(client),
            seq: Seq(seq),
            reply_to: ClientAddr(addr),
        }
    }

    #[test]
    fn a_retry_is_redirected_to_the_entry_already_waited_for() {
        let mut waiting = Waiting::default();
        waiting.add(LogIndex(5), waiter(1, 1, 10));
        assert!(waiting.redirect(ClientId(1), Seq(1), ClientAddr(11)));
        assert!(!waiting.redirect(ClientId(1), Seq(2), ClientAddr(12)));
        assert!(!waiting.redirect(ClientId(2), Seq(1), ClientAddr(13)));
        let taken = waiting.take_through(LogIndex(5));
        assert_eq!(taken, vec![(LogIndex(5), waiter(1, 1, 11))]);
        assert!(!waiting.redirect(ClientId(1), Seq(1), ClientAddr(11)));
    }

    #[test]
    fn take_through_stops_at_the_index() {
        let mut waiting = Waiting::default();
        for index in [3, 4, 7] {
            waiting.add(LogIndex(index), waiter(index, 1, index));
        }
        let taken: Vec<LogIndex> = waiting
            .take_through(LogIndex(4))
            .into_iter()
            .map(|t| t.0)
            .collect();
        assert_eq!(taken, vec![LogIndex(3), LogIndex(4)]);
        assert_eq!(waiting.first_index(), Some(LogIndex(7)));
        assert_eq!(waiting.len(), 1);
        assert_eq!(waiting.take_all(), vec![waiter(7, 1, 7)]);
        assert_eq!(waiting.len(), 0);
        assert_eq!(waiting.term(), None);
    }

    #[test]
    fn a_newer_call_of_the_same_client_takes_over_the_client_index() {
        let mut waiting = Waiting::default();
        waiting.add(LogIndex(3), waiter(1, 1, 1));
        waiting.add(LogIndex(4), waiter(1, 2, 1));
        assert!(waiting.redirect(ClientId(1), Seq(2), ClientAddr(2)));
        waiting.take_through(LogIndex(3));
        assert!(waiting.redirect(ClientId(1), Seq(2), ClientAddr(3)));
    }
}
