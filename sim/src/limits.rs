//! Storm caps: every run is capped in events, messages, bytes and simulated time, in
//! total and per simulated second, so that a run caught in a message storm or a livelock
//! ends quickly with a clear reason instead of running for ever.
//!
//! The defaults sit far above what a correct core does on any seed of the catalog or the
//! swarm (README: "Storm caps" gives the measured peaks), so only a misbehaving core
//! meets them.

use crate::world::Millis;

/// The caps of one world.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Events run in total.
    pub max_events: u64,
    /// Events run at one simulated instant (a loop that never lets time move).
    pub max_events_per_instant: u64,
    /// Messages sent in total.
    pub max_messages: u64,
    /// Messages sent within one simulated second (`[k s, (k + 1) s)`).
    pub max_messages_per_second: u64,
    /// Encoded bytes sent within one simulated second.
    pub max_bytes_per_second: u64,
    /// Simulated time.
    pub max_sim_ms: Millis,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_events: 4_000_000,
            max_events_per_instant: 20_000,
            max_messages: 2_000_000,
            max_messages_per_second: 12_000,
            max_bytes_per_second: 64 << 20,
            max_sim_ms: 600_000,
        }
    }
}

/// What a world has used of its caps so far, and the peaks (for measurement).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Events run.
    pub events: u64,
    /// The most events run at one instant.
    pub peak_events_per_instant: u64,
    /// The most messages sent within one simulated second.
    pub peak_messages_per_second: u64,
    /// The most bytes sent within one simulated second.
    pub peak_bytes_per_second: u64,
    instant: Millis,
    at_instant: u64,
    second: Millis,
    messages_this_second: u64,
    bytes_this_second: u64,
}

impl Usage {
    /// Counts an event at `now`; the reason, if a cap is passed.
    pub fn on_event(&mut self, now: Millis, limits: &Limits) -> Result<(), String> {
        self.events += 1;
        if now != self.instant {
            self.instant = now;
            self.at_instant = 0;
        }
        self.at_instant += 1;
        self.peak_events_per_instant = self.peak_events_per_instant.max(self.at_instant);
        if self.events > limits.max_events {
            return Err(format!(
                "storm cap: more than {} events in one run",
                limits.max_events
            ));
        }
        if self.at_instant > limits.max_events_per_instant {
            return Err(format!(
                "storm cap: more than {} events at one simulated instant (a livelock)",
                limits.max_events_per_instant
            ));
        }
        if now > limits.max_sim_ms {
            return Err(format!(
                "storm cap: the run passed {} s of simulated time",
                limits.max_sim_ms / 1000
            ));
        }
        Ok(())
    }

    /// Counts a message of `bytes` encoded bytes sent at `now`, the `total`-th of the
    /// run; the reason, if a cap is passed.
    pub fn on_message(
        &mut self,
        now: Millis,
        bytes: usize,
        total: u64,
        limits: &Limits,
    ) -> Result<(), String> {
        let second = now / 1000;
        if second != self.second {
            self.second = second;
            self.messages_this_second = 0;
            self.bytes_this_second = 0;
        }
        self.messages_this_second += 1;
        self.bytes_this_second += bytes as u64;
        self.peak_messages_per_second =
            self.peak_messages_per_second.max(self.messages_this_second);
        self.peak_bytes_per_second = self.peak_bytes_per_second.max(self.bytes_this_second);
        if total > limits.max_messages {
            return Err(format!(
                "storm cap: more than {} messages in one run",
                limits.max_messages
            ));
        }
        if self.messages_this_second > limits.max_messages_per_second {
            return Err(format!(
                "storm cap: more than {} messages within simulated second {second} (a message storm)",
                limits.max_messages_per_second
            ));
        }
        if self.bytes_this_second > limits.max_bytes_per_second {
            return Err(format!(
                "storm cap: more than {} MiB sent within simulated second {second}",
                limits.max_bytes_per_second >> 20
            ));
        }
        Ok(())
    }
}
