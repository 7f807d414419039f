//! The `--bug NAME` flag of test-hooks builds: the raft-core bugs a command plants in
//! every node. A normal build has no such flag and plants nothing.

use clap::Args;

use crate::world::RaftSetup;

/// The bugs a command plants (always none outside test-hooks builds).
#[derive(Args, Debug, Clone, Default)]
pub struct Planted {
    /// TEST ONLY: plant this raft-core bug in every node (repeatable; `raftlab mutants
    /// --list` names them).
    #[cfg(feature = "test-hooks")]
    #[arg(long = "bug", value_name = "NAME")]
    bugs: Vec<raft_core::Bug>,
}

impl Planted {
    /// Plants the bugs in `setup`.
    pub fn plant(&self, setup: &mut RaftSetup) {
        #[cfg(feature = "test-hooks")]
        {
            setup.bugs = self.bugs.iter().copied().collect();
        }
        #[cfg(not(feature = "test-hooks"))]
        let _ = setup;
    }

    /// The command that replays a run with the same bugs: `cargo run --release [--features
    /// sim/test-hooks] -- ARGS [--bug NAME ...]`.
    pub fn replay_command(&self, args: &str) -> String {
        #[cfg(feature = "test-hooks")]
        if !self.bugs.is_empty() {
            let flags: String = self
                .bugs
                .iter()
                .map(|bug| format!(" --bug {bug}"))
                .collect();
            return format!("cargo run --release --features sim/test-hooks -- {args}{flags}");
        }
        format!("cargo run --release -- {args}")
    }
}
