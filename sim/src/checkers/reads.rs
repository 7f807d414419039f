//! Read freshness (ReadIndex, thesis §6.4): the index a read is answered with is at
//! least every index known committed anywhere when the read was asked, it is committed
//! on the node that answers, and that node still leads in the term the read was asked
//! in; every read is answered at most once.
//!
//! "Known committed anywhere" is the high-water mark of every node's commit index after
//! every step of the run (crashed incarnations included: what they knew was committed
//! stays committed). A leader that answers without confirming it still leads, or before
//! an entry of its own term has committed, answers with an index below that mark as
//! soon as another leader (or the previous one) has committed more.

use std::collections::{BTreeMap, VecDeque};

use raft_core::{LogIndex, Node, ReadError, Term};

/// A read asked and not yet answered.
#[derive(Clone, Copy, Debug)]
struct Asked {
    /// The asked node's term then.
    term: Term,
    /// The highest index known committed anywhere then.
    known_committed: u64,
}

/// The read-freshness checker of one run.
#[derive(Clone, Debug, Default)]
pub struct ReadChecker {
    /// The highest commit index any node has reported so far.
    known_committed: u64,
    /// Unanswered reads by (server, context), oldest first (a context may be reused).
    pending: BTreeMap<(usize, u64), VecDeque<Asked>>,
    /// The next context [`ReadChecker::next_context`] hands out.
    next_context: u64,
    /// The answers to reads asked through [`ReadChecker::next_context`]: the read index,
    /// or `None` for a refusal.
    answers: BTreeMap<u64, Option<u64>>,
}

impl ReadChecker {
    /// A fresh context for a read the simulator asks itself (its answer is kept for
    /// [`ReadChecker::answer`]).
    pub fn next_context(&mut self) -> u64 {
        self.next_context += 1;
        self.answers.insert(self.next_context, None);
        self.next_context
    }

    /// The answer to a read asked through [`ReadChecker::next_context`]: `None` while
    /// unanswered, `Some(None)` if refused, `Some(Some(index))` if answered.
    pub fn answer(&self, context: u64) -> Option<Option<u64>> {
        if self.pending.keys().any(|&(_, c)| c == context) {
            return None;
        }
        self.answers.get(&context).copied()
    }

    /// The highest index known committed anywhere so far.
    pub fn known_committed(&self) -> u64 {
        self.known_committed
    }

    /// After every step: `commit` is a node's commit index.
    pub fn observe_commit(&mut self, commit: LogIndex) {
        self.known_committed = self.known_committed.max(commit.0);
    }

    /// Server `server`, in term `term`, is asked for a read with `context`.
    pub fn on_ask(&mut self, server: usize, context: u64, term: Term) {
        let asked = Asked {
            term,
            known_committed: self.known_committed,
        };
        self.pending
            .entry((server, context))
            .or_default()
            .push_back(asked);
    }

    /// Server `server` crashed: its unanswered reads are gone with it.
    pub fn on_crash(&mut self, server: usize) {
        self.pending.retain(|&(s, _), _| s != server);
    }

    /// Server `server` answered the read `context` with `outcome`; `node` is its node
    /// after the step that answered.
    pub fn on_answer(
        &mut self,
        server: usize,
        context: u64,
        outcome: Result<LogIndex, ReadError>,
        node: &Node,
    ) -> Result<(), String> {
        let key = (server, context);
        let Some(asked) = self.pending.get_mut(&key).and_then(VecDeque::pop_front) else {
            return Err(format!(
                "read freshness: server {server} answered read {context}, which it was not \
                 asked (or answered it twice)"
            ));
        };
        if self.pending.get(&key).is_some_and(VecDeque::is_empty) {
            self.pending.remove(&key);
        }
        if let Some(answer) = self.answers.get_mut(&context) {
            *answer = outcome.ok().map(|index| index.0);
        }
        let Ok(index) = outcome else {
            return Ok(());
        };
        if index.0 < asked.known_committed {
            return Err(format!(
                "read freshness: server {server} answered read {context} with index {}, \
                 but index {} was known committed when the read was asked",
                index.0, asked.known_committed
            ));
        }
        if index > node.commit_index() {
            return Err(format!(
                "read freshness: server {server} answered read {context} with index {}, \
                 past its commit index {}",
                index.0,
                node.commit_index()
            ));
        }
        if !node.is_leader() || node.term() != asked.term {
            return Err(format!(
                "read freshness: server {server} answered read {context} (asked in term {}) \
                 while {} in term {}",
                asked.term,
                if node.is_leader() {
                    "leading"
                } else {
                    "not leading"
                },
                node.term()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use raft_core::{Config, Input, NodeId};

    /// A one-node cluster that has elected itself.
    fn leader() -> Node {
        let config = Config::builder(NodeId(1), [NodeId(1)])
            .pre_vote(false)
            .seed(1)
            .build()
            .unwrap();
        let mut node = Node::new(config);
        while !node.is_leader() {
            node.step(Input::Tick);
        }
        node
    }

    #[test]
    fn a_read_below_what_was_known_committed_is_stale() {
        let node = leader();
        let mut reads = ReadChecker::default();
        reads.observe_commit(LogIndex(7));
        let context = reads.next_context();
        reads.on_ask(0, context, node.term());
        let answer = reads.on_answer(0, context, Ok(LogIndex(0)), &node);
        let error = answer.unwrap_err();
        assert!(
            error.contains("read freshness") && error.contains("7"),
            "{error}"
        );
        assert_eq!(reads.answer(context), Some(Some(0)));
    }

    #[test]
    fn a_fresh_answer_passes_once_and_only_once() {
        let node = leader();
        let mut reads = ReadChecker::default();
        let context = reads.next_context();
        reads.on_ask(0, context, node.term());
        assert_eq!(reads.answer(context), None, "unanswered");
        assert_eq!(reads.on_answer(0, context, Ok(LogIndex(0)), &node), Ok(()));
        assert_eq!(reads.answer(context), Some(Some(0)));
        let twice = reads.on_answer(0, context, Ok(LogIndex(0)), &node);
        assert!(twice.unwrap_err().contains("answered it twice"));
    }

    #[test]
    fn an_answer_past_the_commit_index_or_from_another_term_is_refused() {
        let node = leader();
        let mut reads = ReadChecker::default();
        reads.on_ask(0, 1, node.term());
        let past = reads.on_answer(0, 1, Ok(LogIndex(5)), &node);
        assert!(past.unwrap_err().contains("past its commit index"));
        reads.on_ask(0, 2, Term(node.term().0 + 1));
        let other_term = reads.on_answer(0, 2, Ok(LogIndex(0)), &node);
        assert!(other_term.unwrap_err().contains("asked in term"));
    }

    #[test]
    fn refusals_pass_and_a_crash_forgets_the_pending_reads() {
        let node = leader();
        let mut reads = ReadChecker::default();
        reads.on_ask(0, 1, node.term());
        let refused = Err(ReadError::NotLeader { leader_hint: None });
        assert_eq!(reads.on_answer(0, 1, refused, &node), Ok(()));
        reads.on_ask(1, 2, node.term());
        reads.on_crash(1);
        assert!(reads.on_answer(1, 2, Ok(LogIndex(0)), &node).is_err());
    }
}
