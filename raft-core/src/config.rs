//! A node's static configuration, validated once on construction.

use crate::types::NodeId;

/// Why a [`Config`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Node id 0 means "nobody" and cannot be used.
    #[error("node id 0 is reserved")]
    ZeroId,
    /// The own id must be one of the voters.
    #[error("own id {0} is not among the voters")]
    SelfNotVoter(NodeId),
    /// A voter id appears twice.
    #[error("voter {0} is listed twice")]
    DuplicateVoter(NodeId),
    /// The election timeout range is empty or zero.
    #[error("election timeout range [{min}, {max}] ticks is invalid (need 0 < min <= max)")]
    ElectionTimeout {
        /// Lower bound in ticks.
        min: u32,
        /// Upper bound in ticks.
        max: u32,
    },
    /// The heartbeat interval must be positive and shorter than the smallest election timeout.
    #[error("heartbeat interval {heartbeat} ticks must be in 1..{election_min} (below the election timeout)")]
    Heartbeat {
        /// The heartbeat interval in ticks.
        heartbeat: u32,
        /// The smallest election timeout in ticks.
        election_min: u32,
    },
    /// The per-message size limit must allow at least one byte.
    #[error("max message size must be positive")]
    MaxMessageSize,
}

/// Everything a node needs to know that never changes while it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    id: NodeId,
    voters: Vec<NodeId>,
    election_timeout_ticks_min: u32,
    election_timeout_ticks_max: u32,
    heartbeat_interval_ticks: u32,
    max_message_bytes: usize,
    seed: u64,
    pre_vote: bool,
    check_quorum: bool,
    no_op_on_election: bool,
    #[cfg(feature = "test-hooks")]
    bugs: crate::bugs::BugSet,
}

/// The builder for [`Config`]; defaults suit 10 ms ticks: elections after 300–600 ms,
/// heartbeats every 100 ms, messages of at most 1 MiB. [`ConfigBuilder::build`]
/// validates the whole configuration once.
#[derive(Debug, Clone)]
pub struct ConfigBuilder(Config);

impl ConfigBuilder {
    /// Election timeouts are drawn uniformly from `min..=max` ticks.
    #[must_use]
    pub fn election_timeout_ticks(mut self, min: u32, max: u32) -> Self {
        self.0.election_timeout_ticks_min = min;
        self.0.election_timeout_ticks_max = max;
        self
    }

    /// A leader sends a heartbeat to each follower every `ticks` ticks.
    #[must_use]
    pub fn heartbeat_interval_ticks(mut self, ticks: u32) -> Self {
        self.0.heartbeat_interval_ticks = ticks;
        self
    }

    /// The largest message a node sends, in encoded bytes (envelope included). An
    /// AppendEntries carries as many entries as fit, but at least one: an entry too large
    /// to fit alone is sent alone, over the limit, so keep commands a little smaller (88
    /// bytes of header, and each entry's index, term and framing). A snapshot goes in
    /// chunks that fit; a chunk carries at least one byte of the snapshot, so a limit
    /// below about 80 bytes is exceeded by a chunk's own header.
    #[must_use]
    pub fn max_message_bytes(mut self, bytes: usize) -> Self {
        self.0.max_message_bytes = bytes;
        self
    }

    /// The seed of the node's election-timeout RNG. Nodes of one cluster must not share a
    /// seed, or they draw the same timeouts and keep splitting the vote: give each node its
    /// own (the default, derived from the node id, already differs per node).
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.0.seed = seed;
        self
    }

    /// Pre-vote (thesis §9.6): a node whose election timer runs out first asks whether it
    /// could win, without raising its term; only with a majority's yes does it campaign.
    /// A node that heard from a leader within the minimum election timeout says no. This
    /// keeps a node with a stale log, or one rejoining from a partition, from disrupting
    /// the cluster. Off by default, as in etcd-io/raft and tikv/raft-rs.
    #[must_use]
    pub fn pre_vote(mut self, enabled: bool) -> Self {
        self.0.pre_vote = enabled;
        self
    }

    /// CheckQuorum (thesis §6.2 and §9.6, as etcd-io/raft's `CheckQuorum`): a leader that
    /// has not heard from a majority (itself included) within the largest election
    /// timeout steps down, so that a leader cut off from the cluster stops taking
    /// proposals and reads; and a node that heard from a live leader within the smallest
    /// election timeout (or leads) ignores vote and pre-vote requests of a later term,
    /// without adopting that term, so a node coming back from a partition cannot depose a
    /// healthy leader. The campaign of a leadership transfer's target is exempt. Use it
    /// with [`pre_vote`](Self::pre_vote): a node that raised its term in a partition
    /// (possible only without pre-vote) still deposes the leader once it answers the
    /// leader's AppendEntries with its higher term, as it must to ever rejoin. Off by
    /// default, as in etcd-io/raft.
    #[must_use]
    pub fn check_quorum(mut self, enabled: bool) -> Self {
        self.0.check_quorum = enabled;
        self
    }

    /// A new leader appends an empty entry of its term at once (thesis §6.4), so that the
    /// entries of earlier terms in its log commit, and it learns its commit index, within
    /// one round trip, without waiting for the next proposal. ReadIndex reads wait for
    /// such a commit. The service sees the entry applied with empty data and skips it.
    /// Off by default (the lab's tests expect commands at exact indexes).
    #[must_use]
    pub fn no_op_on_election(mut self, enabled: bool) -> Self {
        self.0.no_op_on_election = enabled;
        self
    }

    /// TEST ONLY: plants the classic mistakes in `bugs` (see [`crate::Bug`]), e.g. the
    /// bug of Figure 8 of the Raft paper. Exists only with the `test-hooks` feature, so
    /// that the simulator can be shown to find and shrink each of them.
    #[cfg(feature = "test-hooks")]
    #[must_use]
    pub fn bugs(mut self, bugs: crate::bugs::BugSet) -> Self {
        self.0.bugs = bugs;
        self
    }

    /// Validates and builds the configuration.
    pub fn build(self) -> Result<Config, ConfigError> {
        let mut config = self.0;
        if config.id == NodeId::NONE || config.voters.contains(&NodeId::NONE) {
            return Err(ConfigError::ZeroId);
        }
        config.voters.sort();
        if let Some(pair) = config.voters.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(ConfigError::DuplicateVoter(pair[0]));
        }
        if !config.voters.contains(&config.id) {
            return Err(ConfigError::SelfNotVoter(config.id));
        }
        let (min, max) = (
            config.election_timeout_ticks_min,
            config.election_timeout_ticks_max,
        );
        if min == 0 || min > max {
            return Err(ConfigError::ElectionTimeout { min, max });
        }
        let heartbeat = config.heartbeat_interval_ticks;
        if heartbeat == 0 || heartbeat >= min {
            return Err(ConfigError::Heartbeat {
                heartbeat,
                election_min: min,
            });
        }
        if config.max_message_bytes == 0 {
            return Err(ConfigError::MaxMessageSize);
        }
        Ok(config)
    }
}
impl Config {
    /// Starts a configuration for node `id` in a cluster of `voters` (which must include `id`).
    pub fn builder(id: NodeId, voters: impl IntoIterator<Item = NodeId>) -> ConfigBuilder {
        ConfigBuilder(Config {
            id,
            voters: voters.into_iter().collect(),
            election_timeout_ticks_min: 30,
            election_timeout_ticks_max: 60,
            heartbeat_interval_ticks: 10,
            max_message_bytes: 1 << 20,
            seed: default_seed(id),
            pre_vote: false,
            check_quorum: false,
            no_op_on_election: false,
            #[cfg(feature = "test-hooks")]
            bugs: crate::bugs::BugSet::NONE,
        })
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// All voters, this node included, in ascending order.
    pub fn voters(&self) -> &[NodeId] {
        &self.voters
    }

    /// The voters other than this node, in ascending order.
    pub fn peers(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.voters.iter().copied().filter(move |&v| v != self.id)
    }

    /// Whether `id` is a voter of this cluster.
    pub fn is_voter(&self, id: NodeId) -> bool {
        self.voters.binary_search(&id).is_ok()
    }

    /// The smallest election timeout, in ticks.
    pub fn election_timeout_ticks_min(&self) -> u32 {
        self.election_timeout_ticks_min
    }

    /// The largest election timeout, in ticks.
    pub fn election_timeout_ticks_max(&self) -> u32 {
        self.election_timeout_ticks_max
    }

    /// The heartbeat interval, in ticks.
    pub fn heartbeat_interval_ticks(&self) -> u32 {
        self.heartbeat_interval_ticks
    }

    /// The largest message a node sends, in encoded bytes (see
    /// [`ConfigBuilder::max_message_bytes`] for the two exceptions).
    pub fn max_message_bytes(&self) -> usize {
        self.max_message_bytes
    }

    /// The seed of the election-timeout RNG: the one given to [`ConfigBuilder::seed`], or
    /// by default one derived from the node id (so that nodes of one cluster differ).
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Whether elections start with a pre-vote round.
    pub fn pre_vote(&self) -> bool {
        self.pre_vote
    }

    /// Whether CheckQuorum is on: leaders step down without a majority's answers within
    /// the largest election timeout, and nodes hearing from a leader ignore votes.
    pub fn check_quorum(&self) -> bool {
        self.check_quorum
    }

    /// Whether a new leader appends an empty entry of its term at once.
    pub fn no_op_on_election(&self) -> bool {
        self.no_op_on_election
    }

    /// TEST ONLY: the planted bugs.
    #[cfg(feature = "test-hooks")]
    pub fn planted_bugs(&self) -> crate::bugs::BugSet {
        self.bugs
    }

    /// TEST ONLY: whether `bug` is planted (read through `planted!`).
    #[cfg(feature = "test-hooks")]
    pub(crate) fn has_bug(&self, bug: crate::bugs::Bug) -> bool {
        self.bugs.contains(bug)
    }
}

/// The default RNG seed of node `id`: its id through SplitMix64's finalizer, so that
/// neighbouring ids give unrelated streams and no two nodes of a cluster share a seed.
fn default_seed(id: NodeId) -> u64 {
    let mut z = id.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_of_one_cluster_get_different_default_seeds() {
        let ids: Vec<NodeId> = (1..=7).map(NodeId).collect();
        let mut seeds: Vec<u64> = ids
            .iter()
            .map(|&id| {
                Config::builder(id, ids.iter().copied())
                    .build()
                    .unwrap()
                    .seed()
            })
            .collect();
        seeds.sort_unstable();
        seeds.dedup();
        assert_eq!(seeds.len(), ids.len());
    }

    #[test]
    fn an_explicit_seed_is_kept() {
        let config = Config::builder(NodeId(2), [NodeId(1), NodeId(2)])
            .seed(42)
            .build()
            .unwrap();
        assert_eq!(config.seed(), 42);
    }
}
