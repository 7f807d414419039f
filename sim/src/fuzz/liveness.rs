//! What a healed cluster does in the fuzz liveness phase, and the bounds a correct core
//! meets with margin on every seed: how soon after healing a leader takes the command
//! and every server applies it, how many elections that takes, and how many messages.
//!
//! The bounds scale with the setup (timeouts in ticks, the tick length, the cluster
//! size); README ("Liveness and efficiency bounds") gives the measured distributions
//! they were set from.

use crate::world::{Millis, RaftSetup, World};

/// The counters of a world when the cluster was healed.
#[derive(Clone, Copy, Debug)]
pub struct Mark {
    at: Millis,
    elections: u64,
    leaders: usize,
    messages: u64,
}

impl Mark {
    /// The world's counters now.
    pub fn new(world: &World) -> Mark {
        Mark {
            at: world.now(),
            elections: world.stats.elections,
            leaders: world.leaders_elected(),
            messages: world.stats.messages_sent,
        }
    }
}

/// The liveness phase of one run, measured from the heal.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LivenessFigures {
    /// Until a leader took the command, ms.
    pub heal_to_leader_ms: Millis,
    /// Until every server applied it, ms.
    pub heal_to_commit_ms: Millis,
    /// Elections started.
    pub elections: u64,
    /// New leaders (terms with a leader).
    pub leaders: u64,
    /// Messages sent.
    pub messages: u64,
}

impl LivenessFigures {
    /// The figures from `mark` (the heal) to now, the command taken at `taken_at`.
    pub fn since(mark: &Mark, world: &World, taken_at: Millis) -> LivenessFigures {
        LivenessFigures {
            heal_to_leader_ms: taken_at - mark.at,
            heal_to_commit_ms: world.now() - mark.at,
            elections: world.stats.elections - mark.elections,
            leaders: (world.leaders_elected() - mark.leaders) as u64,
            messages: world.stats.messages_sent - mark.messages,
        }
    }

    /// Elections per new leader (all of them if no new leader was needed).
    pub fn elections_per_leader(&self) -> f64 {
        self.elections as f64 / self.leaders.max(1) as f64
    }
}

/// The bounds of the liveness phase for one setup and cluster size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LivenessBounds {
    /// Heal to a leader taking the command, ms.
    pub heal_to_leader_ms: Millis,
    /// Heal to every server applying it, ms.
    pub heal_to_commit_ms: Millis,
    /// Elections started.
    pub elections: u64,
    /// Messages sent.
    pub messages: u64,
}

impl LivenessBounds {
    /// The bounds for `servers` servers set up as `setup`.
    ///
    /// Over 30,000 swarm seeds a correct core took at most 6.3 largest election
    /// timeouts to a leader and 6.6 to the commit, 11 elections, and 94 messages per
    /// peer; the bounds leave about twice that.
    pub fn new(setup: &RaftSetup, servers: usize) -> LivenessBounds {
        let election_max_ms = u64::from(setup.election_ticks.1) * setup.tick_ms;
        let peers = servers.saturating_sub(1).max(1) as u64;
        LivenessBounds {
            heal_to_leader_ms: 12 * election_max_ms,
            heal_to_commit_ms: 16 * election_max_ms,
            elections: 25,
            messages: 250 * peers,
        }
    }

    /// The first bound `figures` break, as a failure message.
    pub fn check(&self, figures: &LivenessFigures) -> Result<(), String> {
        let over = |what: &str, got: u64, bound: u64| {
            Err(format!(
                "liveness bound: {what} {got} after healing (bound {bound})"
            ))
        };
        if figures.heal_to_leader_ms > self.heal_to_leader_ms {
            return over(
                "a leader took the command in ms",
                figures.heal_to_leader_ms,
                self.heal_to_leader_ms,
            );
        }
        if figures.heal_to_commit_ms > self.heal_to_commit_ms {
            return over(
                "every server applied it in ms",
                figures.heal_to_commit_ms,
                self.heal_to_commit_ms,
            );
        }
        if figures.elections > self.elections {
            return over("elections", figures.elections, self.elections);
        }
        if figures.messages > self.messages {
            return over("messages", figures.messages, self.messages);
        }
        Ok(())
    }
}
