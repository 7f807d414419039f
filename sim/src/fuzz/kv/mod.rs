//! Fuzzing the KV service: schedules with clerks (calls on a small key space, clerks
//! started, stopped and cut off) beside the Raft schedules' server faults, run with every
//! checker on plus linearizability and exactly-once; swarm configurations per seed.

pub mod checks;
pub mod exec;
pub mod schedule;
pub mod swarm;

pub use checks::check_exactly_once;
pub use exec::{run_kv_schedule, KvReport, KvSpec, MESSAGE_CAP};
pub use schedule::{parse_kv, render_kv, render_kv_lines, KvStep};
pub use swarm::{run_kv_swarm, KvBugSet, KvSwarmConfig};
