//! A linearizability checker for any history, as porcupine: generic over a [`Model`],
//! Wing & Gong / Lowe's just-in-time search with a memo of (linearized set, state), each
//! partition (e.g. each key) searched on its own, on as many threads as asked, within a
//! budget counted in search steps so that a verdict is the same on every machine.
//!
//! ```
//! use sim::linearizability::{check, Budget, KvInput, KvModel, KvOutput, Operation, Verdict};
//!
//! let history = vec![
//!     Operation::returned(0, KvInput::put("k", "a"), KvOutput::default(), 0, 10),
//!     Operation::returned(1, KvInput::get("k"), KvOutput::new("a"), 5, 20),
//!     Operation::returned(1, KvInput::get("k"), KvOutput::new(""), 25, 30),
//! ];
//! let result = check(&KvModel, &history, Budget::DEFAULT, 1).unwrap();
//! assert_eq!(result.verdict, Verdict::Illegal);
//! ```
//!
//! The pieces: [`model`] (the trait), [`models`] (kv and register), [`history`]
//! (operations and the JSON-lines format), `search` (one partition), [`report`] (text),
//! [`html`] (the view), [`generate`] (lab-style histories for tests and benches).

pub mod generate;
pub mod history;
pub mod html;
pub mod model;
pub mod models;
pub mod report;
mod search;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

pub use history::{
    history_to_json_lines, parse_history, HistoryError, JsonModel, LineError, ModelOperation,
    Operation,
};
pub use html::{render_html, write_html};
pub use model::{Model, Partition};
pub use models::kv::{KvInput, KvModel, KvOp, KvOutput, KvState};
pub use models::register::{RegisterInput, RegisterModel, RegisterOutput, RegisterValue};

use search::{search, LocalOp, Searched};

/// The most search steps spent on one partition before its verdict is `Unknown`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Budget(pub u64);

impl Budget {
    /// Ten million steps per partition: a few seconds at most on a lab history.
    pub const DEFAULT: Budget = Budget(10_000_000);
}

impl Default for Budget {
    fn default() -> Self {
        Budget::DEFAULT
    }
}

/// The verdict on a partition or a whole history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Linearizable.
    Ok,
    /// Not linearizable.
    Illegal,
    /// The budget ran out before the search decided (in a scenario run, a failure).
    Unknown,
}

impl Verdict {
    /// `ok`, `illegal` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Illegal => "illegal",
            Verdict::Unknown => "unknown",
        }
    }
}

/// How the search of one partition ended. Operations are indexes into the history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Linearizable; `order` is one linearization of the partition's checked operations.
    Ok {
        /// The operations in the order they took effect.
        order: Vec<usize>,
    },
    /// Not linearizable.
    Illegal {
        /// The longest linearizable prefix the search found (the first of that length),
        /// in order.
        prefix: Vec<usize>,
        /// The operations that real time allows next after the prefix, none of which the
        /// model accepts there. The first is the one that had to take effect before its
        /// return (the view highlights it).
        unplaceable: Vec<usize>,
        /// The model's description of the state after the prefix.
        state: String,
    },
    /// The budget ran out.
    Unknown,
}

impl Outcome {
    /// The verdict.
    pub fn verdict(&self) -> Verdict {
        match self {
            Outcome::Ok { .. } => Verdict::Ok,
            Outcome::Illegal { .. } => Verdict::Illegal,
            Outcome::Unknown => Verdict::Unknown,
        }
    }
}

/// The verdict on one partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionResult {
    /// The partition's name (for kv, the key).
    pub name: String,
    /// The operations searched (indexes into the history, ascending).
    pub operations: Vec<usize>,
    /// Read-only operations without a known output (never returned), left out.
    pub dropped: Vec<usize>,
    /// Search steps spent.
    pub steps: u64,
    /// How the search ended.
    pub outcome: Outcome,
}

/// The verdict on a history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckResult {
    /// `Illegal` if any partition is, else `Unknown` if any partition is, else `Ok`.
    pub verdict: Verdict,
    /// One result per partition, in the model's partition order.
    pub partitions: Vec<PartitionResult>,
    /// Operations in the history.
    pub operations: usize,
    /// Search steps spent, over all partitions.
    pub steps: u64,
    /// The budget each partition had.
    pub budget: Budget,
}

impl CheckResult {
    /// True if the history is linearizable.
    pub fn is_ok(&self) -> bool {
        self.verdict == Verdict::Ok
    }

    /// The partitions whose verdict is `verdict`.
    pub fn partitions_with(&self, verdict: Verdict) -> impl Iterator<Item = &PartitionResult> {
        self.partitions
            .iter()
            .filter(move |p| p.outcome.verdict() == verdict)
    }
}

/// Checks `history` against `model`: each partition is searched on its own with at most
/// `budget` steps, on `jobs` threads (0 counts as 1). The result, step counts included,
/// is the same for any number of threads and on every machine.
///
/// Read-only operations without a known output are dropped; any other operation that
/// never returned may take effect at any time after its call. The only error is an
/// operation that returns before its call.
pub fn check<M: Model>(
    model: &M,
    history: &[ModelOperation<M>],
    budget: Budget,
    jobs: usize,
) -> Result<CheckResult, HistoryError> {
    for (index, operation) in history.iter().enumerate() {
        if let Some(return_time) = operation.return_time {
            if return_time < operation.call {
                return Err(HistoryError::ReturnBeforeCall {
                    index,
                    call: operation.call,
                    return_time,
                });
            }
        }
    }
    let partitions = model.partition(history);
    // Largest first, so that one big partition does not start last; results keep the
    // model's order.
    let mut work: Vec<usize> = (0..partitions.len()).collect();
    work.sort_by_key(|&i| std::cmp::Reverse(partitions[i].operations.len()));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<PartitionResult>>> = Mutex::new(vec![None; partitions.len()]);
    let worker = || {
        while let Some(&index) = work.get(next.fetch_add(1, Ordering::Relaxed)) {
            let result = check_partition(model, history, &partitions[index], budget);
            if let Ok(mut results) = results.lock() {
                results[index] = Some(result);
            }
        }
    };
    let threads = jobs.clamp(1, partitions.len().max(1));
    if threads == 1 {
        worker();
    } else {
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(worker);
            }
        });
    }
    let partitions: Vec<PartitionResult> = results
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .into_iter()
        .flatten()
        .collect();
    let any = |verdict| partitions.iter().any(|p| p.outcome.verdict() == verdict);
    let verdict = if any(Verdict::Illegal) {
        Verdict::Illegal
    } else if any(Verdict::Unknown) {
        Verdict::Unknown
    } else {
        Verdict::Ok
    };
    Ok(CheckResult {
        verdict,
        steps: partitions.iter().map(|p| p.steps).sum(),
        partitions,
        operations: history.len(),
        budget,
    })
}

fn check_partition<M: Model>(
    model: &M,
    history: &[ModelOperation<M>],
    partition: &Partition,
    budget: Budget,
) -> PartitionResult {
    let (dropped, operations): (Vec<usize>, Vec<usize>) = partition
        .operations
        .iter()
        .copied()
        .filter(|&i| i < history.len())
        .partition(|&i| {
            let operation = &history[i];
            operation.known_output().is_none() && model.is_read_only(&operation.input)
        });
    let local: Vec<LocalOp<'_, M::Input, M::Output>> = operations
        .iter()
        .map(|&i| {
            let operation = &history[i];
            LocalOp {
                input: &operation.input,
                output: operation.known_output(),
                call: operation.call,
                return_time: operation.return_time,
            }
        })
        .collect();
    let (searched, steps) = search(model, &local, budget.0);
    let to_history = |ops: Vec<usize>| ops.into_iter().map(|op| operations[op]).collect();
    let outcome = match searched {
        Searched::Linearizable { order } => Outcome::Ok {
            order: to_history(order),
        },
        Searched::Illegal {
            prefix,
            unplaceable,
        } => {
            let prefix: Vec<usize> = to_history(prefix);
            let state = states_along(model, history, &prefix).last().map_or_else(
                || model.describe_state(&model.init()),
                |s| model.describe_state(s),
            );
            Outcome::Illegal {
                prefix,
                unplaceable: to_history(unplaceable),
                state,
            }
        }
        Searched::Unknown => Outcome::Unknown,
    };
    PartitionResult {
        name: partition.name.clone(),
        operations,
        dropped,
        steps,
        outcome,
    }
}

/// The states after each operation of `order` (history indexes), from the initial
/// state; it stops early where the model refuses an operation.
pub fn states_along<M: Model>(
    model: &M,
    history: &[ModelOperation<M>],
    order: &[usize],
) -> Vec<M::State> {
    let mut states: Vec<M::State> = Vec::with_capacity(order.len());
    let mut state = model.init();
    for &index in order {
        let operation = &history[index];
        match model.step(&state, &operation.input, operation.known_output()) {
            Some(next) => {
                states.push(next.clone());
                state = next;
            }
            None => break,
        }
    }
    states
}
