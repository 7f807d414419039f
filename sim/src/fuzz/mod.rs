//! Fuzzing: schedules far beyond the lab's tests, run with every checker on, then healed
//! and checked for liveness; swarm configurations picked per seed.

pub mod exec;
pub mod faults;
pub mod kv;
pub mod liveness;
pub mod schedule;
pub mod shrink;
pub mod swarm;

pub use exec::{run_schedule, Phase, ScheduleReport, ScheduleSpec, LIVENESS_LIMIT_MS};
pub use liveness::{LivenessBounds, LivenessFigures};
pub use schedule::{parse, render, render_lines, Step};
pub use shrink::{minimize, Shrinkable};
pub use swarm::{run_swarm, run_swarm_with, SwarmConfig};
