//! Quorum math as small pure functions: the index a majority holds, and vote tallies.

use crate::types::LogIndex;

/// The largest index that a majority of voters hold, given every voter's match index.
///
/// With `n` match indexes this is the `(n / 2 + 1)`-th largest. An empty slice gives 0.
pub fn majority_index(match_indexes: &[LogIndex]) -> LogIndex {
    if match_indexes.is_empty() {
        return LogIndex::ZERO;
    }
    let mut sorted = match_indexes.to_vec();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    sorted[match_indexes.len() / 2]
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
        #[test]
        fn majority_index_matches_naive_oracle(indexes in proptest::collection::vec(0u64..50, 0..9)) {
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
