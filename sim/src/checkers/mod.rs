//! Checkers that watch every step and every send of every run, beside the Raft safety
//! checker (`crate::safety`) and the lab's appliers (`crate::applier`):
//! persist-before-send (`durable`), the election rules (`election`: timers, terms,
//! votes, pre-vote), fast backup and what AppendEntries carry (`backup`), the node's
//! queries (`queries`), read freshness (`reads`: ReadIndex answers), the typed message
//! surface (`surface`) and the commit rule (`commit`: what a node commits is durable on
//! a majority); and, once a catalog run ends, its efficiency bounds (`efficiency`).

pub mod backup;
pub mod commit;
pub mod durable;
pub mod efficiency;
pub mod election;
pub mod queries;
pub mod reads;
pub mod surface;
