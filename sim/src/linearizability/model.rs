//! The `Model` trait: what the checker needs to know about the object a history was
//! recorded against (as porcupine's `Model`), and `Partition`, a sub-history that can be
//! checked on its own.

use std::fmt::Debug;
use std::hash::Hash;

use super::history::Operation;

/// A sequential specification of an object: a state machine over its operations.
///
/// The checker asks whether the concurrent history can be ordered so that every
/// operation takes effect at one instant between its call and its return, and every
/// output is what this state machine gives in that order.
///
/// Contract:
/// - `step` is a pure function of its arguments (same arguments, same answer), and
///   `State`'s `Eq` and `Hash` agree. The checker memoizes on (linearized operations,
///   state), so two states that compare equal must behave the same from then on.
/// - Cloning a state should be cheap: the checker keeps one clone per memo entry and one
///   per level of its search. Share big states (`Rc`, a persistent list) rather than
///   copying them; see [`super::KvState`].
/// - `partition` is deterministic and puts every operation index in exactly one
///   partition.
pub trait Model: Sync {
    /// What a client asked for (e.g. put `k` `v`).
    type Input: Debug + Sync;
    /// What the client got back (e.g. the value a get read).
    type Output: Debug + Sync;
    /// The object's state.
    type State: Clone + Eq + Hash;

    /// The state before any operation.
    fn init(&self) -> Self::State;

    /// The state after `input` takes effect in `state`, or `None` if the object cannot
    /// answer `output` there. `output` is `None` when it is unknown (the operation never
    /// returned): the step then says what the operation does if it takes effect at this
    /// point, e.g. a compare-and-swap swaps iff the state matches.
    fn step(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: Option<&Self::Output>,
    ) -> Option<Self::State>;

    /// True if the operation never changes the state (a read). A read-only operation
    /// that never returned tells nothing and is dropped; any other operation that never
    /// returned may still take effect at any later time (its return is +infinity).
    fn is_read_only(&self, input: &Self::Input) -> bool;

    /// True if the operation can only extend the state, in the order [`Model::may_lead_to`]
    /// speaks of (a read, or an append to a text). The search uses it to prune: while
    /// every operation left is monotone, a state that cannot lead to what a pending read
    /// returned is a dead end. The default (false) never prunes.
    fn is_monotone(&self, input: &Self::Input) -> bool {
        let _ = input;
        false
    }

    /// Whether some sequence of monotone operations could take `state` to one where the
    /// read-only operation `input` returns `output`. Must be true whenever that is
    /// possible (false prunes the search); the default is always true.
    fn may_lead_to(&self, state: &Self::State, input: &Self::Input, output: &Self::Output) -> bool {
        let _ = (state, input, output);
        true
    }

    /// Splits a history into sub-histories that can be checked independently (e.g. one
    /// per key), in a deterministic order. The default is one partition of everything.
    fn partition(&self, history: &[Operation<Self::Input, Self::Output>]) -> Vec<Partition> {
        vec![Partition {
            name: "all".to_string(),
            operations: (0..history.len()).collect(),
        }]
    }

    /// A short text for an operation, e.g. `get("k") -> "v"`; `output` is `None` when the
    /// operation never returned.
    fn describe_operation(&self, input: &Self::Input, output: Option<&Self::Output>) -> String;

    /// A text for a state, e.g. the value of a key.
    fn describe_state(&self, state: &Self::State) -> String;
}

/// A sub-history that can be checked on its own: its name (e.g. the key) and the indexes
/// of its operations in the whole history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    /// How the view and the CLI name it, e.g. the key.
    pub name: String,
    /// Indexes into the history, ascending.
    pub operations: Vec<usize>,
}
