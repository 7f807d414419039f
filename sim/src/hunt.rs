//! Bug hunts: the first failing seed of the catalog or of the swarm, searched on several
//! threads but always reported as the first in seed order (the answer does not depend on
//! the thread count), and the checker whose message the failure carries.
//!
//! `raftlab mutants` (test-hooks builds) hunts each planted bug of raft-core this way.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::fuzz::{run_swarm_with, ScheduleSpec};
use crate::runner::run_with;
use crate::scenarios::Scenario;
use crate::world::RaftSetup;

/// The first failure a hunt found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// Seeds tried up to and including the failing one (1 = the first seed failed).
    pub seeds: u64,
    /// The failing seed.
    pub seed: u64,
    /// The failing scenario (`fuzz` for the swarm).
    pub id: &'static str,
    /// The failure.
    pub error: String,
}

impl Found {
    /// The checker that fired, read from the failure.
    pub fn checker(&self) -> &'static str {
        checker_of(&self.error)
    }
}

/// The checker (or the kind of test assertion) a failure message comes from.
pub fn checker_of(error: &str) -> &'static str {
    const CHECKERS: [(&str, &str); 22] = [
        ("read freshness", "read freshness"),
        ("commit rule:", "commit rule"),
        ("election restriction", "election restriction"),
        ("get wrong value", "KV value check"),
        ("queries:", "queries"),
        ("linearizab", "linearizability"),
        ("persist before send", "persist-before-send"),
        ("election timer", "election timer"),
        ("fast backup", "fast-backup bound"),
        ("storm cap", "storm cap"),
        ("election safety", "election safety"),
        ("state machine safety", "state machine safety"),
        ("leader completeness", "leader completeness"),
        ("local invariant", "raft-core invariant"),
        ("went backwards", "monotonicity"),
        ("vote changed", "monotonicity"),
        ("commit index=", "applier"),
        ("apply out of order", "applier"),
        ("snapshot", "applier"),
        ("raft state of", "persisted size"),
        ("liveness bound", "liveness bound"),
        ("no command committed", "liveness"),
    ];
    CHECKERS
        .iter()
        .find(|(needle, _)| error.contains(needle))
        .map_or("scenario assertion", |(_, name)| name)
}

/// Runs `work(k)` for k = 0, 1, ... below `count` on `jobs` threads until one returns a
/// failure; returns the failure with the smallest k. Every k below a returned one ran.
fn first_failure<T: Send>(
    count: usize,
    jobs: usize,
    work: impl Fn(usize) -> Option<T> + Sync,
) -> Option<(usize, T)> {
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let found: Mutex<Vec<(usize, T)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    if k >= count {
                        break;
                    }
                    if let Some(failure) = work(k) {
                        stop.store(true, Ordering::Relaxed);
                        if let Ok(mut found) = found.lock() {
                            found.push((k, failure));
                        }
                    }
                }
            });
        }
    });
    let found = found.into_inner().unwrap_or_default();
    found.into_iter().min_by_key(|(k, _)| *k)
}

/// The first failing swarm seed among `start..start + seeds`, with `adjust` applied to
/// every spec (e.g. planting bugs).
pub fn first_swarm_failure(
    start: u64,
    seeds: u64,
    jobs: usize,
    adjust: &(dyn Fn(&mut ScheduleSpec) + Sync),
) -> Option<Found> {
    let count = usize::try_from(seeds).unwrap_or(usize::MAX);
    let (k, (seed, error)) = first_failure(count, jobs, |k| {
        let seed = start + k as u64;
        let (_, report) = run_swarm_with(seed, false, adjust);
        report.error_line().map(|error| (seed, error))
    })?;
    Some(Found {
        seeds: k as u64 + 1,
        seed,
        id: "fuzz",
        error,
    })
}

/// The first failing catalog run among seeds `start..start + seeds` of `scenarios`, in
/// the order seed by seed, each seed through every scenario.
pub fn first_catalog_failure(
    scenarios: &[Scenario],
    start: u64,
    seeds: u64,
    jobs: usize,
    setup: &RaftSetup,
) -> Option<Found> {
    let per_seed = scenarios.len().max(1);
    let count = usize::try_from(seeds).unwrap_or(usize::MAX / per_seed) * scenarios.len();
    let (k, (scenario, seed, error)) = first_failure(count, jobs, |k| {
        let scenario = &scenarios[k % per_seed];
        let seed = start + (k / per_seed) as u64;
        let report = run_with(scenario, seed, false, setup);
        report.error.map(|error| (scenario.id, seed, error))
    })?;
    Some(Found {
        seeds: (k / per_seed) as u64 + 1,
        seed,
        id: scenario,
        error,
    })
}
