//! kv-core as real processes: KV servers that talk TCP to each other and to clients,
//! each with a write-ahead log on disk, and a client with a load mode.
//!
//! The cores do no I/O; this crate is everything a driver adds, in one place a user can
//! read and copy:
//!
//! - [`server`]: the node process. One core thread owns the [`kv_core::KvServer`] and
//!   the WAL; it steps the server on ticks, peer messages and client requests, writes
//!   the persist actions, commits them with one fdatasync per round, and only then lets
//!   the round's messages and replies leave.
//! - [`wal`]: the write-ahead log: records with length and checksums, group commit,
//!   snapshot files put in place atomically, rotation, recovery that cuts a torn tail
//!   and refuses anything else that is damaged.
//! - [`frame`], [`net`], [`wire`]: length-prefixed frames on TCP, and what clients and
//!   servers put in them.
//! - [`client`]: a [`kv_core::Clerk`] over TCP, the status query, and the load mode
//!   that writes a history `raftlab check` reads.
//! - [`clock`]: the only clock reads (the 10 ms ticker and the load's stopwatch).
//!
//! The binaries are `kv-node` (one server) and `kv-client` (get, put, append, status,
//! load); see the crate's README.
#![forbid(unsafe_code)]

pub mod client;
pub mod clock;
pub mod frame;
pub mod members;
pub mod net;
pub mod server;
pub mod wal;
pub mod wire;
