//! Checkers that watch every step and every send of every run, beside the Raft safety
//! checker (`crate::safety`) and the lab's appliers (`crate::applier`):
//! persist-before-send (`durable`), the election timer rule (`timers`) and fast-backup
//! efficiency (`backup`); and, once a catalog run ends, its efficiency bounds
//! (`efficiency`).

pub mod backup;
pub mod durable;
pub mod efficiency;
pub mod timers;
