//! Step-level minimization of a failing schedule, after proptest's own shrinking: drop
//! any single step, shorten any wait, and merge two waits in a row, as long as the
//! schedule still fails. The result
//! is 1-minimal: removing any one step makes the failure go away.

use super::schedule::Step;

/// A step of some kind of schedule, as the shrinker sees it: a wait can be shortened.
pub trait Shrinkable: Clone {
    /// The ms this step waits, if it is a wait.
    fn wait_ms(&self) -> Option<u64>;
    /// The same wait, `ms` long.
    fn with_wait(&self, ms: u64) -> Self;
}

impl Shrinkable for Step {
    fn wait_ms(&self) -> Option<u64> {
        match self {
            Step::Advance(ms) => Some(*ms),
            _ => None,
        }
    }

    fn with_wait(&self, ms: u64) -> Self {
        Step::Advance(ms)
    }
}

/// Reduces `steps` while `fails` keeps saying the reduced schedule still fails.
pub fn minimize<S: Shrinkable>(steps: Vec<S>, mut fails: impl FnMut(&[S]) -> bool) -> Vec<S> {
    let mut current = steps;
    loop {
        let mut changed = false;
        let mut i = 0;
        while i < current.len() {
            let mut candidate = current.clone();
            candidate.remove(i);
            if fails(&candidate) {
                current = candidate;
                changed = true;
            } else {
                i += 1;
            }
        }
        for i in 0..current.len() {
            let Some(ms) = current[i].wait_ms() else {
                continue;
            };
            for shorter in [0, ms / 4, ms / 2] {
                if shorter >= ms {
                    continue;
                }
                let mut candidate = current.clone();
                candidate[i] = current[i].with_wait(shorter);
                if fails(&candidate) {
                    current = candidate;
                    changed = true;
                    break;
                }
            }
        }
        let mut i = 0;
        while i + 1 < current.len() {
            if let (Some(a), Some(b)) = (current[i].wait_ms(), current[i + 1].wait_ms()) {
                let mut candidate = current.clone();
                candidate[i] = current[i].with_wait(a + b);
                candidate.remove(i + 1);
                if fails(&candidate) {
                    current = candidate;
                    changed = true;
                    continue;
                }
            }
            i += 1;
        }
        if !changed {
            return current;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_what_the_failure_needs() {
        let steps = vec![
            Step::Heal,
            Step::Crash(1),
            Step::Advance(800),
            Step::ProposeAll,
            Step::Crash(2),
        ];
        // "Fails" whenever server 1 and then server 2 crash, with at least 100 ms between.
        let fails = |s: &[Step]| {
            let one = s.iter().position(|x| *x == Step::Crash(1));
            let two = s.iter().position(|x| *x == Step::Crash(2));
            let waited: u64 = s
                .iter()
                .map(|x| if let Step::Advance(ms) = x { *ms } else { 0 })
                .sum();
            matches!((one, two), (Some(a), Some(b)) if a < b) && waited >= 100
        };
        let minimal = minimize(steps, fails);
        assert_eq!(
            minimal,
            vec![Step::Crash(1), Step::Advance(100), Step::Crash(2)]
        );
    }
}
