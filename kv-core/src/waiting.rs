//! The clients a leader owes an answer: one per log entry it proposed in its current
//! term, keyed by the entry's index, with a second index by client so that a retry of a
//! request already in the log waits for that entry instead of being appended again.

use std::collections::hash_map::Entry;
use std::collections::VecDeque;

use raft_core::{LogIndex, Term};

use crate::keys::ClientMap;
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
    /// In increasing index order (a leader appends at increasing indices in its term, so
    /// a new waiter almost always goes at the back, and applies take from the front).
    by_index: VecDeque<(LogIndex, Waiter)>,
    /// Only looked up, never iterated.
    by_client: ClientMap<(Seq, LogIndex)>,
}

impl Waiting {
    /// Waits for the entry proposed at `index`.
    pub(crate) fn add(&mut self, index: LogIndex, waiter: Waiter) {
        debug_assert!(
            self.term().is_none() || self.term() == Some(waiter.term),
            "waiters of two terms"
        );
        self.by_client.insert(waiter.client, (waiter.seq, index));
        match self.by_index.back() {
            Some(&(last, _)) if last >= index => {
                let position = self.position(index);
                match self.by_index.get_mut(position) {
                    Some(slot) if slot.0 == index => {
                        debug_assert!(false, "two waiters for {index}: {:?}", slot.1);
                        slot.1 = waiter;
                    }
                    _ => self.by_index.insert(position, (index, waiter)),
                }
            }
            _ => self.by_index.push_back((index, waiter)),
        }
    }

    /// If (client, seq) is already waiting for an entry, answer it at `reply_to` from now
    /// on and return true.
    pub(crate) fn redirect(&mut self, client: ClientId, seq: Seq, reply_to: ClientAddr) -> bool {
        let Some(&(waiting_seq, index)) = self.by_client.get(&client) else {
            return false;
        };
        let position = self.position(index);
        match self.by_index.get_mut(position) {
            Some((at, waiter)) if *at == index && waiting_seq == seq => {
                waiter.reply_to = reply_to;
                true
            }
            _ => false,
        }
    }

    /// Whether a client waits for the entry at `index`.
    pub(crate) fn waits_at(&self, index: LogIndex) -> bool {
        // Entries apply in order and their waiters leave from the front: the front is
        // the one to look at, unless an index was skipped.
        match self.by_index.front() {
            None => return false,
            Some(&(first, _)) if first >= index => return first == index,
            Some(_) => {}
        }
        let position = self.position(index);
        self.by_index
            .get(position)
            .is_some_and(|&(at, _)| at == index)
    }

    /// Removes and returns the waiter of the lowest index, if that index is at most
    /// `index`.
    pub(crate) fn pop_through(&mut self, index: LogIndex) -> Option<(LogIndex, Waiter)> {
        if self.by_index.front()?.0 > index {
            return None;
        }
        let (at, waiter) = self.by_index.pop_front()?;
        self.forget_client(at, &waiter);
        Some((at, waiter))
    }

    /// Removes and returns every waiter, in index order.
    pub(crate) fn take_all(&mut self) -> Vec<Waiter> {
        self.by_client.clear();
        self.by_index.drain(..).map(|(_, waiter)| waiter).collect()
    }

    /// The term of the waiters, if any wait.
    pub(crate) fn term(&self) -> Option<Term> {
        self.by_index.front().map(|(_, waiter)| waiter.term)
    }

    /// The lowest index waited for.
    pub(crate) fn first_index(&self) -> Option<LogIndex> {
        self.by_index.front().map(|&(index, _)| index)
    }

    /// How many clients wait.
    pub(crate) fn len(&self) -> usize {
        self.by_index.len()
    }

    /// Where `index` is or would go in `by_index`.
    fn position(&self, index: LogIndex) -> usize {
        self.by_index.partition_point(|&(at, _)| at < index)
    }

    fn forget_client(&mut self, index: LogIndex, waiter: &Waiter) {
        if let Entry::Occupied(row) = self.by_client.entry(waiter.client) {
            if *row.get() == (waiter.seq, index) {
                row.remove();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take_through(waiting: &mut Waiting, index: LogIndex) -> Vec<(LogIndex, Waiter)> {
        std::iter::from_fn(|| waiting.pop_through(index)).collect()
    }

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
        let taken = take_through(&mut waiting, LogIndex(5));
        assert_eq!(taken, vec![(LogIndex(5), waiter(1, 1, 11))]);
        assert!(!waiting.redirect(ClientId(1), Seq(1), ClientAddr(11)));
    }

    #[test]
    fn take_through_stops_at_the_index() {
        let mut waiting = Waiting::default();
        for index in [3, 4, 7] {
            waiting.add(LogIndex(index), waiter(index, 1, index));
        }
        let taken: Vec<LogIndex> = take_through(&mut waiting, LogIndex(4))
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
        take_through(&mut waiting, LogIndex(3));
        assert!(waiting.redirect(ClientId(1), Seq(2), ClientAddr(3)));
    }

    #[test]
    fn waiters_stay_in_index_order_whatever_the_order_of_adds() {
        let mut waiting = Waiting::default();
        for index in [4, 9, 6, 2] {
            waiting.add(LogIndex(index), waiter(index, 1, index));
        }
        assert!(waiting.waits_at(LogIndex(6)));
        assert!(!waiting.waits_at(LogIndex(5)));
        assert!(waiting.redirect(ClientId(6), Seq(1), ClientAddr(60)));
        let taken: Vec<(LogIndex, ClientAddr)> = take_through(&mut waiting, LogIndex(8))
            .into_iter()
            .map(|(at, waiter)| (at, waiter.reply_to))
            .collect();
        let expected = [(2, 2), (4, 4), (6, 60)].map(|(i, a)| (LogIndex(i), ClientAddr(a)));
        assert_eq!(taken, expected);
        assert_eq!(waiting.first_index(), Some(LogIndex(9)));
    }
}
