//! Quorum math as small pure functions: the index a majority holds, and vote tallies.

use crate::types::LogIndex;

/// Clusters up to this size are counted on the stack, without an allocation.
const SMALL_CLUSTER: usize = 16;

/// The largest index that a majority of voters hold, given every voter's match index.
///
/// With `n` match indexes this is the `(n / 2 + 1)`-th largest. An empty slice gives 0.
pub fn majority_index(match_indexes: &[LogIndex]) -> LogIndex {
    majority_of(match_indexes.iter().copied())
}

/// [`majority_index`] of values given one by one (the leader's hot path: no allocation
/// for clusters of up to 16 voters). Also the highest heartbeat round a majority echoed.
pub(crate) fn majority_of<T: Copy + Ord + Default>(
    match_indexes: impl IntoIterator<Item = T>,
) -> T {
    held_by(match_indexes, |voters| voters / 2 + 1)
}

/// The largest value that at least `quorum(n)` of the `n` given values hold (the default,
/// 0, if there are none, or if the quorum is 0 or more than `n`).
pub(crate) fn held_by<T: Copy + Ord + Default>(
    match_indexes: impl IntoIterator<Item = T>,
    quorum: impl Fn(usize) -> usize,
) -> T {
    let mut small = [T::default(); SMALL_CLUSTER];
    let mut large = Vec::new();
    let mut count = 0;
    for index in match_indexes {
        match small.get_mut(count) {
            Some(slot) => *slot = index,
            None => {
                if large.is_empty() {
                    large.extend_from_slice(&small);
                }
                large.push(index);
            }
        }
        count += 1;
    }
    let scratch = if count <= SMALL_CLUSTER {
        &mut small[..count]
    } else {
        &mut large[..]
    };
    let needed = quorum(count);
    if needed == 0 || needed > count {
        return T::default();
    }
    // Descending order: position k - 1 is the k-th largest.
    scratch.sort_unstable_by(|a, b| b.cmp(a));
    scratch[needed - 1]
}

/// The outcome of an election so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VoteResult {
    /// A majority granted.
    Won,
    /// A majority refused: the election cannot be won.
    Lost,
    /// Neither yet.
    Pending,
}

/// Whether `count` of `voters` voters are a majority.
pub fn is_majority(voters: usize, count: usize) -> bool {
    count > voters / 2
}

/// Tallies `granted` and `refused` votes among `voters` voters.
pub fn tally(voters: usize, granted: usize, refused: usize) -> VoteResult {
    let majority = voters / 2 + 1;
    if granted >= majority {
        VoteResult::Won
    } else if refused >= majority {
        VoteResult::Lost
    } else {
        VoteResult::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The naive oracle: the largest index such that a majority holds at least it.
    fn naive_majority_index(match_indexes: &[u64]) -> u64 {
        let candidates = match_indexes.iter().copied().chain([0]);
        candidates
            .filter(|&c| {
                match_indexes.iter().filter(|&&m| m >= c).count() * 2 > match_indexes.len()
            })
            .max()
            .unwrap_or(0)
    }

    proptest! {
        // A fixed seed: every run draws the same cases (regression file:
        // raft-core/proptest-regressions/quorum.txt).
        #![proptest_config(ProptestConfig {
            rng_algorithm: proptest::test_runner::RngAlgorithm::ChaCha,
            rng_seed: proptest::test_runner::RngSeed::Fixed(0x9a0_4a11),
            ..ProptestConfig::default()
        })]

        #[test]
        fn majority_index_matches_naive_oracle(indexes in proptest::collection::vec(0u64..50, 0..40)) {
            let typed: Vec<LogIndex> = indexes.iter().copied().map(LogIndex).collect();
            prop_assert_eq!(majority_index(&typed).0, naive_majority_index(&indexes));
        }

        #[test]
        fn tally_matches_counting(voters in 1usize..10, granted in 0usize..10, refused in 0usize..10) {
            prop_assume!(granted + refused <= voters);
            let expected = if granted * 2 > voters {
                VoteResult::Won
            } else if refused * 2 > voters {
                VoteResult::Lost
            } else {
                VoteResult::Pending
            };
            prop_assert_eq!(tally(voters, granted, refused), expected);
        }
    }

    #[test]
    fn majority_of_three_is_the_median() {
        let m = |v: &[u64]| majority_index(&v.iter().copied().map(LogIndex).collect::<Vec<_>>()).0;
        assert_eq!(m(&[5, 3, 1]), 3);
        assert_eq!(m(&[5, 5, 1, 1]), 1);
        assert_eq!(m(&[7, 7, 7, 1, 1]), 7);
    }
}
