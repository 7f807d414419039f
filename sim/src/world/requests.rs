//! What the tester asks of a server's bare Raft node beside its messages and ticks:
//! proposals (the lab's Start) and ReadIndex reads under contexts of the simulator's own,
//! whose answers the read-freshness checker keeps.

use bytes::Bytes;
use raft_core::Input;

use super::World;

impl World {
    /// Asks server `i`'s bare node for a ReadIndex read under a fresh context, which it
    /// returns (the answer, perhaps many steps later: [`World::read_answer`]).
    pub fn read_index(&mut self, i: usize) -> u64 {
        let context = self.reads.next_context();
        self.step(i, Input::ReadIndex { context });
        context
    }

    /// The answer to a read asked through [`World::read_index`]: `None` while unanswered
    /// (or lost with a crash), `Some(None)` if refused, `Some(Some(index))` if answered.
    pub fn read_answer(&self, context: u64) -> Option<Option<u64>> {
        self.reads.answer(context)
    }

    /// Proposes `command` at server `i`: the lab's Start. Returns (index, term) if the
    /// server is alive and leads.
    pub fn propose(&mut self, i: usize, command: Bytes) -> Option<(u64, u64)> {
        match self.step(i, Input::Propose(command))? {
            Ok(proposed) => Some((proposed.index.0, proposed.term.0)),
            Err(_) => None,
        }
    }
}
