//! raftlab's simulator: a seeded discrete-event world that drives `raft-core` nodes
//! through the lab's faults, the checkers that watch every run, and the scenario catalog.
//!
//! One `u64` seed decides everything: labelled ChaCha streams for the network, each
//! node, and the scenario's own choices. Time is simulated (ms); the event queue is
//! ordered by (time, sequence number). Every run leaves a trace whose hash is its
//! fingerprint: the same id and seed give the same hash on every run and machine.
#![forbid(unsafe_code)]

pub mod applier;
pub mod bench;
pub mod checkers;
pub mod cli;
pub mod crash;
pub mod executor;
pub mod fuzz;
pub mod hunt;
pub mod kv;
pub mod limits;
pub mod linearizability;
pub mod network;
pub mod rng;
pub mod runner;
pub mod safety;
pub mod scenarios;
pub mod tester;
pub mod trace;
pub mod world;

pub use runner::{run, run_with, RunReport};
pub use scenarios::{catalog, find, Part, Scenario};
