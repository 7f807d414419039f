//! The search of one partition: Wing & Gong's linearization with Lowe's just-in-time
//! refinement and memo, as porcupine does it.
//!
//! Every operation gives two entries, its call and its return (+infinity if it never
//! returned), in one doubly linked list sorted by time; at equal times calls come first,
//! so intervals that touch are concurrent. Walking the list from its head, the search
//! tries each call it meets: if the model accepts the operation in the current state
//! and the pair (set of linearized operations, new state) is not in the memo, the
//! operation is linearized and lifted out of the list (its call and its return), and the
//! walk starts again at the head. Reaching a return entry means that operation should
//! have been linearized by now: the search backtracks, undoing the last linearization
//! and trying the calls after it. An empty list is a linearization; backtracking with
//! nothing to undo proves there is none.
//!
//! One refinement over porcupine: each configuration is tried in two passes over its
//! window (the calls before the first return), reads first. A read that the current
//! state answers is taken without branching: in any linearization from here it could be
//! moved to now (it changes no state, and real time lets it go first), so if the
//! configuration after it fails, the one before it fails too, and the search backtracks
//! past it. Other operations are tried in list order. The verdict is exactly the one of
//! the plain search (tests compare it with brute force); only the work differs.
//!
//! A step is one try of an operation (one call of the model's step function) or one
//! backtrack. The budget is counted in steps, so a verdict never depends on the machine;
//! a partition never spends more steps than its budget.

use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasherDefault, Hash, Hasher};

use super::model::Model;

/// One operation of a partition, as the search sees it.
pub(crate) struct LocalOp<'h, I, O> {
    pub input: &'h I,
    /// `None` if unknown: the model's step decides what the operation would do.
    pub output: Option<&'h O>,
    pub call: u64,
    /// `None` for +infinity.
    pub return_time: Option<u64>,
}

/// How a partition's search ended; operations are indexes into its `LocalOp`s.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Searched {
    /// Every operation linearized, in this order.
    Linearizable { order: Vec<usize> },
    /// No linearization: the longest linearizable prefix found (the first found of
    /// that length), and the operations that could come next by real time but that the
    /// model refuses after it; the first of them is the one whose return forced the
    /// search back.
    Illegal {
        prefix: Vec<usize>,
        unplaceable: Vec<usize>,
    },
    /// The budget ran out first.
    Unknown,
}

/// Searches one partition within `budget` steps; returns the outcome and the steps.
///
/// The search prunes dead ends (see [`Prune`]), which finds the verdict fast but cuts
/// the longest linearizable prefix short. So an `Illegal` verdict is searched again
/// without pruning, within the steps left, for the diagnosis the view shows (the longest
/// prefix, the operation that cannot follow it); if that runs out, the pruned search's
/// diagnosis stands.
pub(crate) fn search<M: Model>(
    model: &M,
    ops: &[LocalOp<'_, M::Input, M::Output>],
    budget: u64,
) -> (Searched, u64) {
    let (searched, steps) = search_with(model, ops, budget, true);
    if !matches!(searched, Searched::Illegal { .. }) {
        return (searched, steps);
    }
    let (unpruned, more) = search_with(model, ops, budget.saturating_sub(steps), false);
    match unpruned {
        Searched::Illegal { .. } => (unpruned, steps + more),
        _ => (searched, steps + more),
    }
}

fn search_with<M: Model>(
    model: &M,
    ops: &[LocalOp<'_, M::Input, M::Output>],
    budget: u64,
    prune: bool,
) -> (Searched, u64) {
    let read_only: Vec<bool> = ops.iter().map(|op| model.is_read_only(op.input)).collect();
    let mut search = Search {
        prune: Prune::new(model, ops, &read_only, prune),
        list: EntryList::new(ops),
        bits: bit_numbering(ops),
        linearized: Linearized::new(ops.len()),
        memo: Memo::default(),
        calls: Vec::new(),
        longest: Vec::new(),
        state: model.init(),
    };
    let mut steps = 0u64;
    let mut entry = search.list.first();
    // Each configuration is searched in two passes over its window (the calls before
    // the first return): first its reads, then its other operations.
    let mut reads_done = false;
    while search.list.first() != NIL {
        let node = search.list.nodes[entry];
        if node.partner == NIL {
            // The end of the window.
            if !reads_done {
                reads_done = true;
                entry = search.list.first();
                continue;
            }
            if steps >= budget {
                return (Searched::Unknown, steps);
            }
            steps += 1;
            match search.backtrack() {
                Some(next) => entry = next,
                None => return (illegal(ops, search.longest), steps),
            }
            continue;
        }
        let read = read_only[node.op];
        if read == reads_done {
            entry = node.next;
            continue;
        }
        if steps >= budget {
            return (Searched::Unknown, steps);
        }
        steps += 1;
        let op = &ops[node.op];
        let Some(next) = model.step(&search.state, op.input, op.output) else {
            entry = node.next;
            continue;
        };
        if search.prune.dead_end(model, ops, node.op, &next) {
            entry = node.next;
            continue;
        }
        if search.linearize(entry, next, read) {
            entry = search.list.first();
            reads_done = false;
        } else if read {
            // This configuration with the read taken was explored and failed, so this
            // configuration fails too.
            if steps >= budget {
                return (Searched::Unknown, steps);
            }
            steps += 1;
            match search.backtrack() {
                Some(next) => entry = next,
                None => return (illegal(ops, search.longest), steps),
            }
            reads_done = true;
        } else {
            entry = node.next;
        }
    }
    let order = search
        .calls
        .iter()
        .map(|choice| search.list.nodes[choice.call].op)
        .collect();
    (Searched::Linearizable { order }, steps)
}

/// The verdict when no choice is left: the longest prefix and what cannot follow it.
fn illegal<I, O>(ops: &[LocalOp<'_, I, O>], prefix: Vec<usize>) -> Searched {
    let unplaceable = unplaceable_after(ops, &prefix);
    Searched::Illegal {
        prefix,
        unplaceable,
    }
}

/// One linearization choice on the search's stack.
struct Choice<S> {
    /// The call entry of the operation linearized.
    call: usize,
    /// The state before it.
    previous: S,
    /// A read taken because it matched: if the configuration after it fails, so does
    /// the one before it (a read that can take effect now can be moved to now in any
    /// linearization), and no other choice there needs a try.
    forced: bool,
}

struct Search<S> {
    prune: Prune,
    list: EntryList,
    bits: Vec<usize>,
    linearized: Linearized,
    memo: Memo<S>,
    calls: Vec<Choice<S>>,
    longest: Vec<usize>,
    state: S,
}

impl<S: Clone + Eq + Hash> Search<S> {
    /// Linearizes the operation of `call` with the state `next` after it, unless that
    /// configuration is in the memo; true if it was linearized.
    fn linearize(&mut self, call: usize, next: S, forced: bool) -> bool {
        let bit = self.bits[self.list.nodes[call].op];
        self.linearized.set(bit);
        if !self.memo.insert_if_new(&self.linearized, &next) {
            self.linearized.clear(bit);
            return false;
        }
        self.prune.take(self.list.nodes[call].op);
        let previous = std::mem::replace(&mut self.state, next);
        self.calls.push(Choice {
            call,
            previous,
            forced,
        });
        self.list.lift(call);
        true
    }

    /// Undoes choices up to and including the last one that was not forced; returns the
    /// entry after it, where the search goes on, or `None` if no choice is left.
    fn backtrack(&mut self) -> Option<usize> {
        if self.calls.len() > self.longest.len() {
            let nodes = &self.list.nodes;
            self.longest = self.calls.iter().map(|c| nodes[c.call].op).collect();
        }
        loop {
            let choice = self.calls.pop()?;
            self.state = choice.previous;
            self.linearized
                .clear(self.bits[self.list.nodes[choice.call].op]);
            self.list.unlift(choice.call);
            self.prune.give_back(self.list.nodes[choice.call].op);
            if !choice.forced {
                return Some(self.list.nodes[choice.call].next);
            }
        }
    }
}

/// The pruning of dead ends (see [`Model::is_monotone`]): while every operation left is
/// monotone, a state that cannot lead to the output of the pending read with the earliest
/// return is a dead end, whatever order the rest takes.
struct Prune {
    enabled: bool,
    /// Per operation: not monotone.
    resets: Vec<bool>,
    /// Operations left that are not monotone.
    resets_left: usize,
    /// The reads left with a known output, by (return time, operation).
    witnesses: BTreeSet<(u64, usize)>,
    /// Per operation: its key in `witnesses`, if it is a witness.
    witness_key: Vec<Option<(u64, usize)>>,
}

impl Prune {
    fn new<M: Model>(
        model: &M,
        ops: &[LocalOp<'_, M::Input, M::Output>],
        read_only: &[bool],
        enabled: bool,
    ) -> Prune {
        let resets: Vec<bool> = ops.iter().map(|op| !model.is_monotone(op.input)).collect();
        let witness_key: Vec<Option<(u64, usize)>> = ops
            .iter()
            .enumerate()
            .map(|(i, op)| match (read_only[i], op.output, op.return_time) {
                (true, Some(_), Some(ret)) => Some((ret, i)),
                _ => None,
            })
            .collect();
        Prune {
            enabled,
            resets_left: resets.iter().filter(|&&r| r).count(),
            resets,
            witnesses: witness_key.iter().flatten().copied().collect(),
            witness_key,
        }
    }

    /// Whether taking operation `op` into state `next` leaves no way to finish.
    fn dead_end<M: Model>(
        &self,
        model: &M,
        ops: &[LocalOp<'_, M::Input, M::Output>],
        op: usize,
        next: &M::State,
    ) -> bool {
        let resets_after = self.resets_left - usize::from(self.resets[op]);
        if !self.enabled || resets_after > 0 {
            return false;
        }
        let Some(&(_, witness)) = self.witnesses.iter().find(|&&(_, w)| w != op) else {
            return false;
        };
        let read = &ops[witness];
        read.output
            .is_some_and(|output| !model.may_lead_to(next, read.input, output))
    }

    fn take(&mut self, op: usize) {
        self.resets_left -= usize::from(self.resets[op]);
        if let Some(key) = self.witness_key[op] {
            self.witnesses.remove(&key);
        }
    }

    fn give_back(&mut self, op: usize) {
        self.resets_left += usize::from(self.resets[op]);
        if let Some(key) = self.witness_key[op] {
            self.witnesses.insert(key);
        }
    }
}

/// The operations that could be linearized right after `prefix` by real time: the calls
/// that precede the first return of the operations left. The operation of that return
/// comes first.
fn unplaceable_after<I, O>(ops: &[LocalOp<'_, I, O>], prefix: &[usize]) -> Vec<usize> {
    let mut list = EntryList::new(ops);
    for &op in prefix {
        list.lift(list.call_of[op]);
    }
    let mut candidates = Vec::new();
    let mut entry = list.first();
    while entry != NIL && list.nodes[entry].partner != NIL {
        candidates.push(list.nodes[entry].op);
        entry = list.nodes[entry].next;
    }
    if entry != NIL {
        let blocking = list.nodes[entry].op;
        candidates.retain(|&op| op != blocking);
        candidates.insert(0, blocking);
    }
    candidates
}

const NIL: usize = usize::MAX;
const HEAD: usize = 0;

#[derive(Clone, Copy, Debug)]
struct Node {
    prev: usize,
    next: usize,
    op: usize,
    /// For a call, the node of its return; `NIL` for a return.
    partner: usize,
}

/// The call and return entries in time order, as a linked list in an arena; node 0 is
/// the head.
struct EntryList {
    nodes: Vec<Node>,
    /// The call node of every operation.
    call_of: Vec<usize>,
}

impl EntryList {
    fn new<I, O>(ops: &[LocalOp<'_, I, O>]) -> EntryList {
        // (time, 0 for a call and 1 for a return, op): calls first at equal times.
        let mut events: Vec<(u64, u8, usize)> = Vec::with_capacity(2 * ops.len());
        for (index, op) in ops.iter().enumerate() {
            events.push((op.call, 0, index));
            events.push((op.return_time.unwrap_or(u64::MAX), 1, index));
        }
        events.sort_unstable();
        let count = events.len();
        let mut nodes = Vec::with_capacity(count + 1);
        nodes.push(Node {
            prev: NIL,
            next: if count == 0 { NIL } else { 1 },
            op: NIL,
            partner: NIL,
        });
        let mut call_of = vec![NIL; ops.len()];
        let mut return_of = vec![NIL; ops.len()];
        for (position, &(_, kind, op)) in events.iter().enumerate() {
            let node = position + 1;
            if kind == 0 {
                call_of[op] = node;
            } else {
                return_of[op] = node;
            }
            nodes.push(Node {
                prev: node - 1,
                next: if node == count { NIL } else { node + 1 },
                op,
                partner: NIL,
            });
        }
        for (op, &call) in call_of.iter().enumerate() {
            nodes[call].partner = return_of[op];
        }
        EntryList { nodes, call_of }
    }

    fn first(&self) -> usize {
        self.nodes[HEAD].next
    }

    fn unlink(&mut self, node: usize) {
        let Node { prev, next, .. } = self.nodes[node];
        self.nodes[prev].next = next;
        if next != NIL {
            self.nodes[next].prev = prev;
        }
    }

    fn relink(&mut self, node: usize) {
        let Node { prev, next, .. } = self.nodes[node];
        self.nodes[prev].next = node;
        if next != NIL {
            self.nodes[next].prev = node;
        }
    }

    /// Takes a call and its return out of the list; they keep their links for `unlift`.
    fn lift(&mut self, call: usize) {
        self.unlink(call);
        self.unlink(self.nodes[call].partner);
    }

    /// Puts back what the last `lift` took out.
    fn unlift(&mut self, call: usize) {
        self.relink(self.nodes[call].partner);
        self.relink(call);
    }
}

/// The bit of each operation in the linearized set. Operations are numbered by return
/// time (one that never returned by its call), so that the operations linearized early
/// in the search have low bits: the set is then all ones below a window and zeros above
/// it, and the memo keeps only the window.
fn bit_numbering<I, O>(ops: &[LocalOp<'_, I, O>]) -> Vec<usize> {
    let mut by_deadline: Vec<(u64, u64, usize)> = ops
        .iter()
        .enumerate()
        .map(|(index, op)| (op.return_time.unwrap_or(op.call), op.call, index))
        .collect();
    by_deadline.sort_unstable();
    let mut bits = vec![0; ops.len()];
    for (bit, &(_, _, op)) in by_deadline.iter().enumerate() {
        bits[op] = bit;
    }
    bits
}

/// The set of linearized operations, with a Zobrist hash kept as bits change.
struct Linearized {
    words: Vec<u64>,
    hash: u64,
}

/// A fixed pseudo-random key per bit (splitmix64), the same on every machine.
fn zobrist(bit: usize) -> u64 {
    let mut z = (bit as u64)
        .wrapping_add(1)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Linearized {
    fn new(len: usize) -> Linearized {
        Linearized {
            words: vec![0; len.div_ceil(64)],
            hash: 0,
        }
    }

    fn set(&mut self, bit: usize) {
        debug_assert_eq!(self.words[bit / 64] & (1 << (bit % 64)), 0);
        self.words[bit / 64] |= 1 << (bit % 64);
        self.hash ^= zobrist(bit);
    }

    fn clear(&mut self, bit: usize) {
        debug_assert_ne!(self.words[bit / 64] & (1 << (bit % 64)), 0);
        self.words[bit / 64] &= !(1 << (bit % 64));
        self.hash ^= zobrist(bit);
    }
}

/// The memo of (linearized set, state) pairs already explored. Each entry keeps its set
/// trimmed to the words between its all-ones prefix and its zero suffix.
struct Memo<S> {
    heads: HashMap<u64, usize, BuildHasherDefault<KeyHasher>>,
    entries: Vec<MemoEntry<S>>,
}

impl<S> Default for Memo<S> {
    fn default() -> Self {
        Memo {
            heads: HashMap::default(),
            entries: Vec::new(),
        }
    }
}

struct MemoEntry<S> {
    /// The next entry with the same key, or `NIL`.
    next: usize,
    /// Words below this one are all ones.
    low_word: usize,
    /// The words from `low_word` on; the ones after them are zero.
    window: Box<[u64]>,
    state: S,
}

impl<S> MemoEntry<S> {
    fn same_set(&self, words: &[u64]) -> bool {
        let high = self.low_word + self.window.len();
        high <= words.len()
            && words[..self.low_word].iter().all(|&w| w == u64::MAX)
            && words[self.low_word..high] == *self.window
            && words[high..].iter().all(|&w| w == 0)
    }
}

impl<S: Eq + Hash + Clone> Memo<S> {
    /// Records (set, state) and returns true, or returns false if it was there.
    fn insert_if_new(&mut self, set: &Linearized, state: &S) -> bool {
        let mut hasher = KeyHasher::default();
        state.hash(&mut hasher);
        let key = set.hash ^ hasher.finish().rotate_left(17);
        let head = self.heads.get(&key).copied().unwrap_or(NIL);
        let mut at = head;
        while at != NIL {
            let entry = &self.entries[at];
            if entry.same_set(&set.words) && entry.state == *state {
                return false;
            }
            at = entry.next;
        }
        let low_word = set.words.iter().take_while(|&&w| w == u64::MAX).count();
        let high = set.words.iter().rposition(|&w| w != 0).map_or(0, |i| i + 1);
        self.entries.push(MemoEntry {
            next: head,
            low_word,
            window: set.words[low_word..high.max(low_word)].into(),
            state: state.clone(),
        });
        self.heads.insert(key, self.entries.len() - 1);
        true
    }
}

/// A hasher for memo keys: a `u64` key passes through; other writes (a state's `Hash`)
/// are mixed in.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = (self.0.rotate_left(5) ^ value).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn write_usize(&mut self, value: usize) {
        self.write_u64(value as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lift_and_unlift_restore_the_list() {
        let ops: Vec<LocalOp<'_, (), ()>> = [(0, Some(5)), (1, Some(3)), (2, None)]
            .into_iter()
            .map(|(call, return_time)| LocalOp {
                input: &(),
                output: None,
                call,
                return_time,
            })
            .collect();
        let mut list = EntryList::new(&ops);
        let walk = |list: &EntryList| {
            let mut seen = Vec::new();
            let mut at = list.first();
            while at != NIL {
                seen.push((list.nodes[at].op, list.nodes[at].partner != NIL));
                at = list.nodes[at].next;
            }
            seen
        };
        let before = walk(&list);
        assert_eq!(
            before,
            [
                (0, true),
                (1, true),
                (2, true),
                (1, false),
                (0, false),
                (2, false)
            ]
        );
        let (a, b) = (list.call_of[1], list.call_of[0]);
        list.lift(a);
        list.lift(b);
        assert_eq!(walk(&list), [(2, true), (2, false)]);
        list.unlift(b);
        list.unlift(a);
        assert_eq!(walk(&list), before);
    }

    #[test]
    fn the_memo_tells_sets_and_states_apart() {
        let mut memo: Memo<u8> = Memo::default();
        let mut set = Linearized::new(130);
        for bit in 0..70 {
            set.set(bit);
        }
        set.set(100);
        assert!(memo.insert_if_new(&set, &1));
        assert!(!memo.insert_if_new(&set, &1));
        assert!(memo.insert_if_new(&set, &2));
        set.set(129);
        assert!(memo.insert_if_new(&set, &1));
        set.clear(129);
        set.clear(3);
        assert!(memo.insert_if_new(&set, &1));
        set.set(3);
        assert!(!memo.insert_if_new(&set, &2));
    }
}
