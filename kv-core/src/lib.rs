//! A linearizable, exactly-once key/value service on Raft, as two pure state machines:
//! the server ([`KvServer`]) and its client ([`Clerk`]).
//!
//! Both are values. Everything that happens to them is an input; everything they want
//! done comes back from `step` as a list of actions:
//!
//! - **No I/O.** No clock, file, socket, thread or OS randomness. Time moves only by
//!   `Tick` inputs (Raft's timers and the clerk's retry timeout count ticks).
//! - **Deterministic.** The same configuration and the same inputs give the same actions.
//!   The state is kept in ordered maps; nothing decides by iterating a hash map.
//! - **Actions in order.** [`KvServer::step`] returns Raft's [`ServerAction::Persist`] and
//!   [`ServerAction::Send`] actions in Raft's order (whatever must be durable before a
//!   message leaves comes before it), and [`ServerAction::Reply`]s to clients after the
//!   applies they report. A driver that carries them out in order is correct.
//! - **Linearizable, exactly once.** Put and Append go through the Raft log; Gets are
//!   served through Raft's ReadIndex by default (a leader confirms it still leads with one
//!   round of heartbeats, then answers once it has applied the commit index it had when
//!   the read arrived), or through the log as the lab does ([`ReadMode`]). ReadIndex needs an
//!   entry of the leader's term committed: turn on Raft's `no_op_on_election`, or the
//!   server appends an empty entry itself when the first read of a term arrives. Each request
//!   carries (client id, seq); the duplicate table (the highest seq applied per client)
//!   is part of the replicated state and of the snapshot, so a retry is never applied
//!   twice, across leader changes, restarts and snapshot installs. A retried Put or
//!   Append is answered `Ok` without being applied again; a retried Get reads again at
//!   its own position in the log (still linearizable: the call is still open).
//! - **Answers at once.** A server that does not lead answers `WrongLeader` with its
//!   leader hint. A leader answers when the entry applies; if another entry takes that
//!   index, or the server's term moves on or it stops leading, its waiting clients get
//!   `WrongLeader` in that same step, so they retry elsewhere.
//! - **Snapshots.** With `max_raft_state = Some(M)` the server snapshots the map and the
//!   duplicate table when the raft state reaches `M/2`, keeping the persisted raft state
//!   within `2M` (see [`config`] for the policy and the bound).
//!   [`KvServer::restore`] restarts from a [`raft_core::PersistedState`].
//! - **Bad input never panics.** Undecodable request or reply bytes give a
//!   [`DecodeError`]; requests over a limit get a typed [`Refusal`]; log entries that are
//!   empty or do not decode apply as no-ops; a corrupt persisted snapshot is a
//!   [`KvRestoreError`]; a corrupt installed snapshot halts the server with a
//!   [`KvFatalError`].
//! - **A state digest.** [`KvServer::digest`] (and every [`ServerAction::Applied`]) gives
//!   a fingerprint of the state at the applied index, updated incrementally, the same
//!   whether the state was replayed or restored: checkers compare it across servers. A
//!   server configured with `report_applied(false)` ([`KvConfigBuilder::report_applied`])
//!   reports no applies and keeps no running digest; its `digest()` hashes the state.
//!
//! Keys and values are UTF-8 strings.
//!
//! # What a driver does
//!
//! - Servers: feed `Tick`s, Raft messages from peers and decoded client requests (with an
//!   address of your choosing). Carry out the actions in order: apply each
//!   `Persist` to durable storage (a [`raft_core::PersistedState`] is the image), then
//!   send what follows; deliver `Reply { to, reply }` to the client at `to`.
//! - Clerks: feed `Call`s, `Tick`s and the replies of servers (with the sender's id).
//!   Deliver `Send { to, request }` to server `to`; a `Done` ends a call.
//!
//! # Example: three servers and a clerk, a Put and a Get
//!
//! ```
//! use kv_core::{
//!     Clerk, ClerkAction, ClerkConfig, ClerkInput, ClientAddr, ClientId, KvConfig, KvServer,
//!     Op, ServerAction, ServerInput,
//! };
//! use raft_core::{Config, NodeId};
//! use std::collections::VecDeque;
//!
//! enum Event {
//!     Server(usize, ServerInput),
//!     Clerk(ClerkInput),
//! }
//! let ids = [NodeId(1), NodeId(2), NodeId(3)];
//! let position = |id: NodeId| (id.0 - 1) as usize;
//! let mut servers: Vec<KvServer> = ids
//!     .iter()
//!     .map(|&id| {
//!         let raft = Config::builder(id, ids).seed(id.0).build().unwrap();
//!         KvServer::new(KvConfig::default(), raft)
//!     })
//!     .collect();
//! let mut clerk = Clerk::new(ClerkConfig::builder(ClientId(7), ids).build().unwrap());
//! let mut events = VecDeque::new();
//! let mut results = Vec::new();
//! // Deliver every event, and the events they cause, until none is left.
//! let mut run = |servers: &mut Vec<KvServer>, clerk: &mut Clerk, events: &mut VecDeque<Event>| {
//!     while let Some(event) = events.pop_front() {
//!         match event {
//!             Event::Server(at, input) => {
//!                 for action in servers[at].step(input) {
//!                     match action {
//!                         ServerAction::Send(message) => {
//!                             let to = position(message.to());
//!                             events.push_back(Event::Server(to, ServerInput::Raft(message)));
//!                         }
//!                         ServerAction::Reply { reply, .. } => {
//!                             let from = ids[at];
//!                             events.push_back(Event::Clerk(ClerkInput::Reply { from, reply }));
//!                         }
//!                         _ => {} // a real driver persists here, before sending
//!                     }
//!                 }
//!             }
//!             Event::Clerk(input) => {
//!                 for action in clerk.step(input) {
//!                     match action {
//!                         ClerkAction::Send { to, request } => {
//!                             let input = ServerInput::Request { from: ClientAddr(7), request };
//!                             events.push_back(Event::Server(position(to), input));
//!                         }
//!                         ClerkAction::Done(completion) => results.push(completion.result),
//!                     }
//!                 }
//!             }
//!         }
//!     }
//! };
//! // Tick server 1 until it leads; then a Put and a Get (the Get waits for the Put).
//! while !servers[0].node().is_leader() {
//!     events.push_back(Event::Server(0, ServerInput::Tick));
//!     run(&mut servers, &mut clerk, &mut events);
//! }
//! let put = Op::Put { key: "k".into(), value: "v".into() };
//! events.push_back(Event::Clerk(ClerkInput::Call(put)));
//! events.push_back(Event::Clerk(ClerkInput::Call(Op::Get { key: "k".into() })));
//! run(&mut servers, &mut clerk, &mut events);
//! assert_eq!(results, vec![Ok(None), Ok(Some("v".to_string()))]);
//! assert_eq!(servers[0].applied_value("k"), Some("v"));
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod adapter;
mod bugs;
mod clerk;
mod command;
pub mod config;
mod digest;
mod encoding;
mod error;
mod keys;
mod proto;
mod reads;
mod server;
mod snapshot;
mod state;
mod types;
mod waiting;

#[cfg(feature = "test-hooks")]
pub use bugs::{KvBug, KvBugs};
pub use clerk::{
    Clerk, ClerkAction, ClerkConfig, ClerkConfigBuilder, ClerkConfigError, ClerkInput, Completion,
};
pub use config::{KvConfig, KvConfigBuilder, KvConfigError, ReadMode, MIN_MAX_RAFT_STATE};
pub use error::{KvFatalError, KvRestoreError};
pub use proto::{DecodeError, Op, OpKind, Outcome, Refusal, Reply, Request};
pub use server::{Applied, AppliedSource, KvServer, ServerAction, ServerInput};
pub use snapshot::{SnapshotDecodeError, SNAPSHOT_FORMAT_VERSION};
pub use types::{ClientAddr, ClientId, Seq, StateDigest};
