//! A KV server's configuration (limits, snapshots, reads, apply reports), validated
//! once, the check of a request against its limits, and the snapshot policy derived
//! from `max_raft_state`.
//!
//! # The snapshot policy
//!
//! With `max_raft_state = Some(M)`:
//!
//! - **Snapshot at M/2.** At the end of every step, if the node's persisted raft state
//!   ([`raft_core::Node::raft_state_size`]) is at least `M/2` bytes and the server has
//!   applied entries past the last snapshot, the server snapshots everything it applied
//!   and raft drops the covered log, in the same step. After a step the raft state is
//!   therefore below `M/2`, or holds nothing but the small header and entries not yet
//!   committed (which no snapshot may cover).
//! - **Admit up to 3M/2.** A leader appends a request only while its raft state plus the
//!   new entry stays within `3M/2`; past it, the request is answered `WrongLeader` with
//!   no hint (the clerk tries elsewhere and comes back). Only a leader that cannot commit
//!   (cut off in a minority, with clerks still reaching it) gets there: a committing
//!   leader frees space every step.
//! - **Commands up to M/4.** A request whose encoded command is above `M/4` bytes is
//!   refused ([`Refusal::CommandTooLarge`](crate::Refusal::CommandTooLarge)): it could
//!   never be admitted without breaking the bound.
//!
//! A follower's log past its commit index is a prefix of what some leader admitted, so
//! every server's raft state stays at or below `3M/2` plus the header growth of a term
//! change (a few bytes) after every step: within the `2M` the lab's tests demand, with
//! `M/2` to spare. The snapshot itself holds only the map and the duplicate table (one
//! row per client), so a small state gives a small snapshot (one key and one clerk: about
//! 20 bytes).

use crate::proto::{Refusal, Request, MAX_HEAD_BYTES};

/// How Gets are served.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReadMode {
    /// A Get is a log entry like a write, answered when it applies (as the lab does).
    Log,
    /// A Get asks Raft for a read index (`Input::ReadIndex`: the leader's commit index,
    /// confirmed by a round of heartbeats answered by a majority) and is answered once the
    /// state machine has applied that index. Nothing goes through the log. Raft must be
    /// configured with `no_op_on_election`, or a new leader answers Gets only after its
    /// first write commits.
    #[default]
    ReadIndex,
}

/// Why a [`KvConfig`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KvConfigError {
    /// `max_raft_state` leaves no room for the raft header and a command.
    #[error("max_raft_state of {got} bytes is below the minimum of {MIN_MAX_RAFT_STATE}")]
    MaxRaftStateTooSmall {
        /// The configured value.
        got: usize,
    },
}

/// The smallest `max_raft_state` accepted (the raft header alone takes up to 44 bytes).
pub const MIN_MAX_RAFT_STATE: usize = 256;

/// Everything a KV server needs to know that never changes while it runs. Every server
/// of a cluster should share it (limits decide which requests are refused).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KvConfig {
    max_raft_state: Option<usize>,
    max_key_bytes: usize,
    max_value_bytes: usize,
    read_mode: ReadMode,
    report_applied: bool,
    #[cfg(feature = "test-hooks")]
    bugs: crate::bugs::KvBugs,
}

/// The builder for [`KvConfig`]. Defaults: no snapshots, keys up to 4 KiB, values up to
/// 1 MiB, Gets through ReadIndex, an [`Applied`](crate::ServerAction::Applied) report for
/// every index applied.
#[derive(Clone, Debug)]
pub struct KvConfigBuilder(KvConfig);

impl KvConfigBuilder {
    /// Snapshot when the persisted raft state nears `bytes` (see the module docs), or
    /// never with `None`.
    #[must_use]
    pub fn max_raft_state(mut self, bytes: Option<usize>) -> Self {
        self.0.max_raft_state = bytes;
        self
    }

    /// Refuse requests whose key is longer than `bytes`.
    #[must_use]
    pub fn max_key_bytes(mut self, bytes: usize) -> Self {
        self.0.max_key_bytes = bytes;
        self
    }

    /// Refuse Puts and Appends whose value is longer than `bytes`.
    #[must_use]
    pub fn max_value_bytes(mut self, bytes: usize) -> Self {
        self.0.max_value_bytes = bytes;
        self
    }

    /// How Gets are served.
    #[must_use]
    pub fn read_mode(mut self, mode: ReadMode) -> Self {
        self.0.read_mode = mode;
        self
    }

    /// Whether the server reports every index it applies as a
    /// [`ServerAction::Applied`](crate::ServerAction::Applied) with the state digest
    /// there (the default: checkers compare the digests across servers). For that it
    /// keeps a running digest, which costs a hash of every written value. Off, it
    /// reports nothing, keeps no running digest, and
    /// [`KvServer::digest`](crate::KvServer::digest) hashes the whole state when asked.
    #[must_use]
    pub fn report_applied(mut self, report: bool) -> Self {
        self.0.report_applied = report;
        self
    }

    /// TEST ONLY: a leader answers Gets from its own applied state at once, without
    /// confirming that it still leads (no ReadIndex round, no log entry), in either read
    /// mode. A leader cut off in a minority then serves stale values: the bug ReadIndex
    /// exists to prevent. Only with the `test-hooks` feature, so that the simulator's
    /// linearizability checker can be shown to catch it.
    #[cfg(feature = "test-hooks")]
    #[must_use]
    pub fn local_reads_bug(self, enabled: bool) -> Self {
        self.bug(crate::KvBug::LocalReads, enabled)
    }

    /// TEST ONLY: switches planted bug `bug` on or off (see [`crate::KvBug`]). Only with
    /// the `test-hooks` feature.
    #[cfg(feature = "test-hooks")]
    #[must_use]
    pub fn bug(mut self, bug: crate::KvBug, enabled: bool) -> Self {
        self.0.bugs = self.0.bugs.with(bug, enabled);
        self
    }

    /// TEST ONLY: the whole set of planted bugs. Only with the `test-hooks` feature.
    #[cfg(feature = "test-hooks")]
    #[must_use]
    pub fn bugs(mut self, bugs: crate::KvBugs) -> Self {
        self.0.bugs = bugs;
        self
    }

    /// Validates and builds the configuration.
    pub fn build(self) -> Result<KvConfig, KvConfigError> {
        match self.0.max_raft_state {
            Some(got) if got < MIN_MAX_RAFT_STATE => {
                Err(KvConfigError::MaxRaftStateTooSmall { got })
            }
            _ => Ok(self.0),
        }
    }
}

impl Default for KvConfig {
    fn default() -> KvConfig {
        KvConfig {
            max_raft_state: None,
            max_key_bytes: 4 << 10,
            max_value_bytes: 1 << 20,
            read_mode: ReadMode::ReadIndex,
            report_applied: true,
            #[cfg(feature = "test-hooks")]
            bugs: crate::bugs::KvBugs::NONE,
        }
    }
}

impl KvConfig {
    /// Starts a configuration from the defaults.
    pub fn builder() -> KvConfigBuilder {
        KvConfigBuilder(KvConfig::default())
    }

    /// The raft state size the server keeps its log near, if it snapshots.
    pub fn max_raft_state(&self) -> Option<usize> {
        self.max_raft_state
    }

    /// The longest key accepted, in bytes.
    pub fn max_key_bytes(&self) -> usize {
        self.max_key_bytes
    }

    /// The longest value accepted, in bytes.
    pub fn max_value_bytes(&self) -> usize {
        self.max_value_bytes
    }

    /// How Gets are served.
    pub fn read_mode(&self) -> ReadMode {
        self.read_mode
    }

    /// Whether the server reports every apply (see [`KvConfigBuilder::report_applied`]).
    pub fn reports_applied(&self) -> bool {
        self.report_applied
    }

    /// Whether planted bug `bug` is switched on (the constant false without the
    /// `test-hooks` feature).
    #[inline]
    pub(crate) fn has(&self, bug: crate::bugs::KvBug) -> bool {
        #[cfg(feature = "test-hooks")]
        return self.bugs.has(bug);
        #[cfg(not(feature = "test-hooks"))]
        {
            let _ = bug;
            false
        }
    }

    /// TEST ONLY: the planted bugs switched on. Only with the `test-hooks` feature.
    #[cfg(feature = "test-hooks")]
    pub fn bugs(&self) -> crate::KvBugs {
        self.bugs
    }

    /// The raft state size at which the server snapshots: `max_raft_state / 2`.
    pub fn snapshot_threshold_bytes(&self) -> Option<usize> {
        self.max_raft_state.map(|max| max / 2)
    }

    /// The raft state size a leader admits new entries up to: `3 × max_raft_state / 2`.
    pub fn admission_limit_bytes(&self) -> Option<usize> {
        self.max_raft_state.map(|max| max + max / 2)
    }

    /// The longest encoded command accepted: `max_raft_state / 4`.
    pub fn max_command_bytes(&self) -> Option<usize> {
        self.max_raft_state.map(|max| max / 4)
    }

    /// Whether `request` keeps within the limits (key, value, command), or which it breaks.
    pub(crate) fn check_limits(&self, request: &Request) -> Result<(), Refusal> {
        let key = request.op.key().len();
        if key > self.max_key_bytes() {
            return Err(Refusal::KeyTooLarge {
                bytes: key as u64,
                max: self.max_key_bytes() as u64,
            });
        }
        if let Some(value) = request.op.value() {
            if value.len() > self.max_value_bytes() {
                return Err(Refusal::ValueTooLarge {
                    bytes: value.len() as u64,
                    max: self.max_value_bytes() as u64,
                });
            }
        }
        if let Some(max) = self.max_command_bytes() {
            // Measured only when its texts come near the limit.
            let texts = key + request.op.value().map_or(0, str::len);
            let command = match texts.saturating_add(MAX_HEAD_BYTES) {
                bound if bound <= max => bound,
                _ => request.encoded_len(),
            };
            if command > max {
                return Err(Refusal::CommandTooLarge {
                    bytes: command as u64,
                    max: max as u64,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_follows_max_raft_state() {
        let config = KvConfig::builder()
            .max_raft_state(Some(1000))
            .build()
            .unwrap();
        assert_eq!(config.snapshot_threshold_bytes(), Some(500));
        assert_eq!(config.admission_limit_bytes(), Some(1500));
        assert_eq!(config.max_command_bytes(), Some(250));
        let none = KvConfig::default();
        assert_eq!(none.snapshot_threshold_bytes(), None);
        assert_eq!(none.admission_limit_bytes(), None);
    }

    #[test]
    fn commands_are_refused_from_one_byte_above_a_quarter_of_max_raft_state() {
        use crate::proto::Op;
        use crate::types::{ClientId, Seq};
        let config = KvConfig::builder()
            .max_raft_state(Some(1000))
            .build()
            .unwrap();
        let put = |len: usize| Request {
            client: ClientId(1),
            seq: Seq(1),
            op: Op::Put {
                key: "k".into(),
                value: "v".repeat(len).into(),
            },
        };
        // Heads of 13 bytes here (two-byte lengths): a value of 237 bytes makes 250.
        let largest = put(237);
        assert_eq!(largest.encoded_len(), 250);
        assert_eq!(config.check_limits(&largest), Ok(()));
        assert_eq!(
            config.check_limits(&put(238)),
            Err(Refusal::CommandTooLarge {
                bytes: 251,
                max: 250
            })
        );
        assert_eq!(config.check_limits(&put(10)), Ok(()));
    }

    #[test]
    fn a_tiny_max_raft_state_is_refused() {
        let error = KvConfig::builder().max_raft_state(Some(100)).build();
        assert_eq!(error, Err(KvConfigError::MaxRaftStateTooSmall { got: 100 }));
    }
}
