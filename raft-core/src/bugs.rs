//! TEST ONLY (feature `test-hooks`): classic Raft mistakes that can be planted back into
//! the core, one switch each, so that the simulator can be shown to catch every one.
//!
//! Without the feature this module is not compiled, the [`Bug`] type does not exist, and
//! every `planted!` check in the core is the constant `false`: a normal build
//! (`cargo build`, `cargo run`) contains none of the mistakes.

use std::fmt;
use std::str::FromStr;

/// One planted mistake. Each sits in a different place of the protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Bug {
    /// Commit rule (§5.4.2, Figure 8): the leader commits an entry of an earlier term as
    /// soon as a majority holds it.
    Figure8Commit,
    /// Commit rule (quorum): the leader counts `n / 2` holders as a majority.
    MajorityOffByOne,
    /// Election restriction (§5.4.1): a real vote is granted without the up-to-date log
    /// check (pre-vote still checks, which hides the mistake when pre-vote is on).
    VoteWithoutLogCheck,
    /// Vote persistence: the vote reply is sent before the vote is persisted.
    GrantBeforePersist,
    /// Persistence order: a candidate sends RequestVote before its new term and
    /// self-vote are persisted.
    CampaignBeforePersist,
    /// Persistence order: a follower acknowledges entries before persisting them.
    AckBeforePersist,
    /// Log matching (§5.3): the consistency check only asks whether the follower holds
    /// an entry at the previous index, not whether its term matches.
    IgnorePrevTerm,
    /// Log matching: the follower drops its uncommitted entries past the message's last
    /// entry even when they match (a late, older AppendEntries shortens an acknowledged log).
    TruncateMatchingTail,
    /// Follower commit (Figure 2): the follower commits up to the leader's commit index
    /// capped by its own last index, not by the last entry the message vouched for.
    FollowerCommitPastNew,
    /// Snapshots: a follower installs an InstallSnapshot older than its commit index.
    StaleSnapshotInstalled,
    /// Step-down: a leader that sees a higher term in a reply adopts the term but keeps
    /// leading (with its old self-vote).
    StepDownKeepsLeading,
    /// Progress tracking: on a successful reply the leader takes the follower's match
    /// index from what it has sent so far (next index − 1), not from the reply.
    MatchFromNextIndex,
    /// Progress tracking: every successful append reply makes the leader send an
    /// AppendEntries to every follower (a message storm).
    BroadcastOnEveryReply,
    /// Timers (Figure 2): granting a vote does not restart the election timer.
    VoteKeepsTimer,
    /// Fast backup: the follower reports the first index of its conflicting term one too
    /// high.
    BackupHintOffByOne,
    /// Fast backup: the leader retries a rejecting follower from the start of its log
    /// (next index 1, or just past what the follower acknowledged), whatever the
    /// follower's conflicting term says: correct, but it resends entries the follower
    /// holds.
    BackupFromStart,
    /// ReadIndex (thesis §6.4): the leader answers a read at once with its commit
    /// index, without a heartbeat round proving that it still leads.
    ReadWithoutRound,
    /// ReadIndex: a new leader takes its commit index as the read index before an entry
    /// of its own term has committed (it may lag what the previous leader committed).
    ReadBeforeTermCommit,
}

impl Bug {
    /// Every switch, in the order of the switch table.
    pub const ALL: [Bug; 18] = [
        Bug::Figure8Commit,
        Bug::MajorityOffByOne,
        Bug::VoteWithoutLogCheck,
        Bug::GrantBeforePersist,
        Bug::CampaignBeforePersist,
        Bug::AckBeforePersist,
        Bug::IgnorePrevTerm,
        Bug::TruncateMatchingTail,
        Bug::FollowerCommitPastNew,
        Bug::StaleSnapshotInstalled,
        Bug::StepDownKeepsLeading,
        Bug::MatchFromNextIndex,
        Bug::BroadcastOnEveryReply,
        Bug::VoteKeepsTimer,
        Bug::BackupHintOffByOne,
        Bug::BackupFromStart,
        Bug::ReadWithoutRound,
        Bug::ReadBeforeTermCommit,
    ];

    /// The switch's name on the command line, e.g. `figure8-commit`.
    pub fn name(self) -> &'static str {
        match self {
            Bug::Figure8Commit => "figure8-commit",
            Bug::MajorityOffByOne => "majority-off-by-one",
            Bug::VoteWithoutLogCheck => "vote-without-log-check",
            Bug::GrantBeforePersist => "grant-before-persist",
            Bug::CampaignBeforePersist => "campaign-before-persist",
            Bug::AckBeforePersist => "ack-before-persist",
            Bug::IgnorePrevTerm => "ignore-prev-term",
            Bug::TruncateMatchingTail => "truncate-matching-tail",
            Bug::FollowerCommitPastNew => "follower-commit-past-new",
            Bug::StaleSnapshotInstalled => "stale-snapshot-installed",
            Bug::StepDownKeepsLeading => "step-down-keeps-leading",
            Bug::MatchFromNextIndex => "match-from-next-index",
            Bug::BroadcastOnEveryReply => "broadcast-on-every-reply",
            Bug::VoteKeepsTimer => "vote-keeps-timer",
            Bug::BackupHintOffByOne => "backup-hint-off-by-one",
            Bug::BackupFromStart => "backup-from-start",
            Bug::ReadWithoutRound => "read-without-round",
            Bug::ReadBeforeTermCommit => "read-before-term-commit",
        }
    }

    /// Where in the protocol the mistake sits.
    pub fn place(self) -> &'static str {
        match self {
            Bug::Figure8Commit | Bug::MajorityOffByOne => "commit rule",
            Bug::VoteWithoutLogCheck => "election",
            Bug::GrantBeforePersist => "vote persistence",
            Bug::CampaignBeforePersist | Bug::AckBeforePersist => "persistence order",
            Bug::IgnorePrevTerm | Bug::TruncateMatchingTail => "log matching",
            Bug::FollowerCommitPastNew => "follower commit",
            Bug::StaleSnapshotInstalled => "snapshots",
            Bug::StepDownKeepsLeading => "step-down",
            Bug::MatchFromNextIndex | Bug::BroadcastOnEveryReply => "progress tracking",
            Bug::VoteKeepsTimer => "timers",
            Bug::BackupHintOffByOne | Bug::BackupFromStart => "fast backup",
            Bug::ReadWithoutRound | Bug::ReadBeforeTermCommit => "reads",
        }
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl fmt::Display for Bug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

impl FromStr for Bug {
    type Err = String;

    fn from_str(name: &str) -> Result<Bug, String> {
        Bug::ALL
            .into_iter()
            .find(|bug| bug.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Bug::ALL.iter().map(|bug| bug.name()).collect();
                format!("unknown bug `{name}` (one of: {})", names.join(", "))
            })
    }
}

/// A set of planted bugs (empty by default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct BugSet(u32);

impl BugSet {
    /// No bug.
    pub const NONE: BugSet = BugSet(0);

    /// The set holding only `bug`.
    pub fn of(bug: Bug) -> BugSet {
        BugSet(bug.bit())
    }

    /// This set with `bug` added.
    #[must_use]
    pub fn with(self, bug: Bug) -> BugSet {
        BugSet(self.0 | bug.bit())
    }

    /// Whether `bug` is in the set.
    pub fn contains(self, bug: Bug) -> bool {
        self.0 & bug.bit() != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The bugs in the set, in [`Bug::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Bug> {
        Bug::ALL.into_iter().filter(move |bug| self.contains(*bug))
    }
}

impl FromIterator<Bug> for BugSet {
    fn from_iter<I: IntoIterator<Item = Bug>>(bugs: I) -> BugSet {
        bugs.into_iter().fold(BugSet::NONE, BugSet::with)
    }
}

impl fmt::Display for BugSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(Bug::name).collect();
        f.write_str(&names.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sets_hold_what_was_added() {
        for bug in Bug::ALL {
            assert_eq!(bug.name().parse::<Bug>(), Ok(bug));
            assert!(BugSet::of(bug).contains(bug));
        }
        let set: BugSet = [Bug::VoteKeepsTimer, Bug::Figure8Commit]
            .into_iter()
            .collect();
        assert_eq!(set.to_string(), "figure8-commit,vote-keeps-timer");
        assert!(!set.contains(Bug::AckBeforePersist));
        assert!("no-such-bug".parse::<Bug>().is_err());
    }
}
