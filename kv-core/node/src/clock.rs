//! The only places that read the clock: the ticker, a thread that emits a tick every
//! [`TICK`] of wall time, and the [`Stopwatch`] the client's load mode measures with.
//! Everything else counts ticks (the cores' timers, the clerk's retries, a call's
//! timeout), so no decision of a node depends on reading time.

use std::thread;
use std::time::{Duration, Instant};

/// The wall time one tick stands for (raft-core's and kv-core's defaults assume 10 ms).
pub const TICK: Duration = Duration::from_millis(10);

/// Falling further behind than this (a stopped process, an overloaded machine) restarts
/// the schedule instead of firing the missed ticks in a burst.
const MAX_LAG: Duration = Duration::from_millis(200);

/// Wall time since a start, for the load mode's history and latencies (measurements,
/// and the load's own end; nothing the cores decide).
#[derive(Clone, Copy, Debug)]
pub struct Stopwatch(Instant);

impl Stopwatch {
    /// Starts now.
    #[allow(clippy::disallowed_methods)] // a measurement
    pub fn start() -> Stopwatch {
        Stopwatch(Instant::now())
    }

    /// Time since the start.
    pub fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }

    /// Microseconds since the start.
    pub fn micros(&self) -> u64 {
        u64::try_from(self.elapsed().as_micros()).unwrap_or(u64::MAX)
    }
}

/// Starts a thread that calls `emit` every [`TICK`] until it returns false.
pub fn spawn_ticker(
    name: &str,
    mut emit: impl FnMut() -> bool + Send + 'static,
) -> std::io::Result<thread::JoinHandle<()>> {
    thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            // The only clock reads of the node: they pace the ticks and decide nothing else.
            #[allow(clippy::disallowed_methods)]
            let now = Instant::now;
            let mut next = now() + TICK;
            loop {
                let current = now();
                if next > current {
                    thread::sleep(next - current);
                } else if current - next > MAX_LAG {
                    next = current;
                }
                if !emit() {
                    return;
                }
                next += TICK;
            }
        })
}
