//! Efficiency bounds of a catalog run: elections against the leaders they produced,
//! and messages against what heartbeats and replication need. A correct core meets them
//! with margin on every seed; a core that keeps disrupting leaders or wastes messages
//! does not.
//!
//! Measured over `raftlab run all --seeds 2000` (56,000 runs, before candidates re-asked
//! silent peers): at most 4 × leaders + 14 elections (figure8-unreliable), and at most
//! 3.4 × (n − 1) × (20 per simulated second + 2 per commit) messages
//! (figure8-unreliable); the bounds leave about twice that. An election is a step that
//! raises a node's term and asks for votes, so a candidate's repeated requests within its
//! term count once: since then figure8-unreliable, the hardest, shows at most 1.55 ×
//! leaders over seeds 1..=200, well inside the bound.

use crate::world::World;

/// Elections allowed per leader, and beyond that.
const ELECTIONS_PER_LEADER: u64 = 4;
const EXTRA_ELECTIONS: u64 = 30;
/// Messages allowed per peer, per simulated second and per commit, times this factor.
const MESSAGE_FACTOR: u64 = 8;

/// Checks a finished catalog cluster of `servers` servers.
pub fn check_run(world: &World, servers: usize) -> Result<(), String> {
    let leaders = world.leaders_elected() as u64;
    let elections = world.stats.elections;
    let allowed = ELECTIONS_PER_LEADER * leaders + EXTRA_ELECTIONS;
    if elections > allowed {
        return Err(format!(
            "efficiency bound: {elections} elections for {leaders} leaders (bound {allowed})"
        ));
    }
    let peers = servers.saturating_sub(1).max(1) as u64;
    // A KV world's service is its KV servers, not the tester's applier.
    let commits = (0..servers)
        .filter_map(|i| world.node(i).map(|node| node.commit_index().0))
        .fold(world.applier.max_index(), u64::max);
    let allowed = MESSAGE_FACTOR * peers * (20 * world.now() / 1000 + 2 * commits);
    let messages = world.stats.raft_messages;
    if messages > allowed {
        return Err(format!(
            "efficiency bound: {messages} messages for {commits} commits in {} s (bound {allowed})",
            world.now() / 1000
        ));
    }
    Ok(())
}
