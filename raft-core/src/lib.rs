//! Raft as a pure, deterministic state machine.
//!
//! A [`Node`] is a value. Everything that happens to it is an [`Input`]; everything it
//! wants done comes back from [`Node::step`] as a list of [`Action`]s:
//!
//! - **No I/O.** The crate never touches a clock, a file, a socket, a thread or the OS
//!   random source. Time moves only by [`Input::Tick`]; the driver decides what a tick is
//!   worth (election and heartbeat timeouts are counted in ticks).
//! - **Deterministic.** Election timeouts come from a ChaCha RNG seeded by
//!   [`Config::seed`] (by default derived from the node id, so the nodes of a cluster
//!   draw different timeouts; if you set seeds, give each node its own). The same
//!   configuration and the same inputs give the same actions.
//! - **Actions in order.** A driver carries the actions out in the order returned.
//!   Whatever must be durable before a message leaves ([`Action::Persist`]) comes before
//!   that [`Action::Send`]. Committed entries come as [`Action::Apply`] exactly once and
//!   in index order; a proposal is answered by an [`Action::Proposal`].
//! - **Incremental persistence.** A step persists only what changed: the hard state, the
//!   appended entries, a truncation point, a snapshot. [`PersistedState`] is the image a
//!   disk would hold after applying them in order; [`Node::restore`] restarts from it.
//! - **One reply per request.** Stepping a request message yields at most one reply,
//!   addressed to its sender, in the same step: a request/response runtime can return it
//!   as the call's response.
//! - **No entry on election, by default.** A new leader appends nothing of its own, so
//!   entries of earlier terms commit only when the next command of its term commits
//!   (§5.4.2). With [`ConfigBuilder::no_op_on_election`] it appends an empty entry of its
//!   term at once (applied with empty data: the service skips it).
//! - **Bad input never panics.** Messages from unknown ids, stale terms, impossible
//!   indexes are ignored or answered as Raft says; undecodable bytes give a
//!   [`DecodeError`]; an inconsistent persisted state gives a [`RestoreError`].
//!
//! # What a production embedder adds
//!
//! - **CheckQuorum** ([`ConfigBuilder::check_quorum`], off by default): a leader that has
//!   not heard from a majority within the largest election timeout steps down; a node
//!   that heard from a live leader within the smallest election timeout ignores vote
//!   requests of later terms. Use it with
//!   [`ConfigBuilder::pre_vote`].
//! - **ReadIndex reads** ([`Input::ReadIndex`] answered by [`Action::Read`]): linearizable
//!   reads confirmed by one heartbeat round instead of a log entry. Serve the read once
//!   the service has applied the returned index. Enable
//!   [`ConfigBuilder::no_op_on_election`] so a new leader can answer reads at once.
//! - **Leadership transfer** ([`Input::TransferLeadership`] answered by
//!   [`Action::Transfer`]): the leader catches the target up and sends it a
//!   [`TimeoutNow`]; proposals are refused meanwhile ([`ProposeError::Transferring`]).
//!
//! # Example: three nodes elect a leader and commit a command
//!
//! ```
//! use raft_core::{Action, Apply, Config, Input, Node, NodeId};
//! use std::collections::VecDeque;
//!
//! let ids = [NodeId(1), NodeId(2), NodeId(3)];
//! let mut nodes: Vec<Node> = ids
//!     .iter()
//!     .map(|&id| Node::new(Config::builder(id, ids).build().unwrap()))
//!     .collect();
//! let mut inbox = VecDeque::new();
//! let mut applied = vec![Vec::new(); 3];
//! let mut deliver = |nodes: &mut Vec<Node>, inbox: &mut VecDeque<_>, applied: &mut Vec<Vec<_>>, at: usize, input| {
//!     for action in nodes[at].step(input) {
//!         match action {
//!             Action::Send(message) => inbox.push_back(message),
//!             Action::Apply(Apply::Entries(entries)) => {
//!                 applied[at].extend(entries.iter().map(|entry| entry.data().clone()))
//!             }
//!             _ => {} // a real driver persists here, before sending
//!         }
//!     }
//! };
//! // Tick node 1 until it campaigns, then deliver every message until quiet.
//! while !nodes[0].is_leader() {
//!     deliver(&mut nodes, &mut inbox, &mut applied, 0, Input::Tick);
//!     while let Some(message) = inbox.pop_front() {
//!         let to = (message.to().0 - 1) as usize;
//!         deliver(&mut nodes, &mut inbox, &mut applied, to, Input::Message(message));
//!     }
//! }
//! deliver(&mut nodes, &mut inbox, &mut applied, 0, Input::Propose("x=1".into()));
//! while let Some(message) = inbox.pop_front() {
//!     let to = (message.to().0 - 1) as usize;
//!     deliver(&mut nodes, &mut inbox, &mut applied, to, Input::Message(message));
//! }
//! assert_eq!(applied[0], vec![bytes::Bytes::from("x=1")]);
//! assert_eq!(nodes[0].commit_index().0, 1);
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// Whether the test-only bug `$bug` is planted in `$config`: always `false` without the
/// `test-hooks` feature, where the [`Bug`] type does not even exist.
macro_rules! planted {
    ($config:expr, $bug:ident) => {{
        #[cfg(feature = "test-hooks")]
        let planted = $config.has_bug($crate::bugs::Bug::$bug);
        #[cfg(not(feature = "test-hooks"))]
        let planted = {
            let _ = &$config;
            false
        };
        planted
    }};
}

mod action;
mod append;
mod assembly;
#[cfg(feature = "test-hooks")]
mod bugs;
mod check_quorum;
mod config;
mod election;
mod entries;
mod log;
mod message;
mod node;
mod persist;
mod progress;
pub mod quorum;
mod read_index;
mod replication;
mod snapshot;
mod transfer;
mod types;

pub use action::{
    Action, Apply, Input, ProposeError, Proposed, ReadError, SnapshotError, TransferError,
};
#[cfg(feature = "test-hooks")]
pub use bugs::{Bug, BugSet};
pub use config::{Config, ConfigBuilder, ConfigError};
pub use entries::{Entries, Iter as EntriesIter};
pub use message::{
    AppendEntries, AppendEntriesReply, Body, DecodeError, Entry, InstallSnapshot,
    InstallSnapshotReply, Message, RequestVote, RequestVoteReply, TimeoutNow,
};
pub use node::{Node, RestoreError, RoleKind};
pub use persist::{entry_record_len, PersistAction, PersistError, PersistedState, StateError};
pub use progress::{
    InFlight, Progress, ProgressMode, MAX_APPENDS_IN_FLIGHT, SNAPSHOT_PATIENCE_HEARTBEATS,
};
pub use types::{LogIndex, NodeId, Term};

/// The `bytes` crate, re-exported for payloads.
pub use bytes;
