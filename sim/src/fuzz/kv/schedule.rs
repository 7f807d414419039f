//! KV fuzzing schedules: the Raft schedules' server faults plus clerk steps (start and
//! stop clerks, Get/Put/Append on a small key space, cut and restore a clerk's links),
//! and their text form (`start 2; put 2 0; crash-leader; advance 300; get 1 0`), which
//! parses back for replays.

use std::fmt;
use std::str::FromStr;

use crate::fuzz::{schedule, Shrinkable, Step};

/// One step of a KV schedule. Clerk and key numbers are taken modulo the run's clerk
/// slots and key space, server numbers modulo the cluster size, so a schedule stays valid
/// whatever the configuration and however it is shrunk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvStep {
    /// A server fault or a wait of the Raft schedules (not their proposals, snapshots or
    /// Figure 8 rounds: KV servers take their own snapshots).
    Server(Step),
    /// Clerk slot `c` gets a fresh clerk linked to every server (a running one is stopped
    /// first: its call in flight stays open for ever).
    Start(usize),
    /// The clerk of slot `c` stops (its call in flight stays open for ever).
    Stop(usize),
    /// The clerk of slot `clerk` calls Get(key) (if it runs and has no call in flight).
    Get {
        /// The clerk slot.
        clerk: usize,
        /// The key.
        key: usize,
    },
    /// The clerk calls Put(key, a fresh value).
    Put {
        /// The clerk slot.
        clerk: usize,
        /// The key.
        key: usize,
    },
    /// The clerk calls Append(key, a fresh value).
    Append {
        /// The clerk slot.
        clerk: usize,
        /// The key.
        key: usize,
    },
    /// The clerk's link to `server` goes down.
    ClerkCut {
        /// The clerk slot.
        clerk: usize,
        /// The server.
        server: usize,
    },
    /// Every running clerk's links come back up.
    ClerkHeal,
}

impl KvStep {
    /// Whether a Raft schedule step is a KV step too.
    fn takes(step: &Step) -> bool {
        !matches!(
            step,
            Step::Propose(_)
                | Step::ProposeAll
                | Step::Snapshot(_)
                | Step::Read(_)
                | Step::ReadAll
                | Step::Figure8Round { .. }
        )
    }
}

impl Shrinkable for KvStep {
    fn wait_ms(&self) -> Option<u64> {
        match self {
            KvStep::Server(step) => step.wait_ms(),
            _ => None,
        }
    }

    fn with_wait(&self, ms: u64) -> Self {
        KvStep::Server(Step::Advance(ms))
    }
}

impl fmt::Display for KvStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KvStep::Server(step) => step.fmt(f),
            KvStep::Start(c) => write!(f, "start {c}"),
            KvStep::Stop(c) => write!(f, "stop {c}"),
            KvStep::Get { clerk, key } => write!(f, "get {clerk} {key}"),
            KvStep::Put { clerk, key } => write!(f, "put {clerk} {key}"),
            KvStep::Append { clerk, key } => write!(f, "append {clerk} {key}"),
            KvStep::ClerkCut { clerk, server } => write!(f, "clerk-cut {clerk} {server}"),
            KvStep::ClerkHeal => write!(f, "clerk-heal"),
        }
    }
}

impl FromStr for KvStep {
    type Err = String;

    fn from_str(text: &str) -> Result<KvStep, String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let number = |i: usize| -> Result<usize, String> {
            words
                .get(i)
                .ok_or_else(|| format!("`{text}`: missing a number"))?
                .parse()
                .map_err(|_| format!("`{text}`: `{}` is not a number", words[i]))
        };
        let pair = || -> Result<(usize, usize), String> {
            if words.len() != 3 {
                return Err(format!("`{text}`: expected two numbers"));
            }
            Ok((number(1)?, number(2)?))
        };
        let one = || -> Result<usize, String> {
            if words.len() != 2 {
                return Err(format!("`{text}`: expected one number"));
            }
            number(1)
        };
        match words.first().copied() {
            Some("start") => Ok(KvStep::Start(one()?)),
            Some("stop") => Ok(KvStep::Stop(one()?)),
            Some("get") => pair().map(|(clerk, key)| KvStep::Get { clerk, key }),
            Some("put") => pair().map(|(clerk, key)| KvStep::Put { clerk, key }),
            Some("append") => pair().map(|(clerk, key)| KvStep::Append { clerk, key }),
            Some("clerk-cut") => pair().map(|(clerk, server)| KvStep::ClerkCut { clerk, server }),
            Some("clerk-heal") if words.len() == 1 => Ok(KvStep::ClerkHeal),
            _ => {
                let step: Step = text.parse()?;
                if KvStep::takes(&step) {
                    Ok(KvStep::Server(step))
                } else {
                    Err(format!(
                        "`{text}` is not a KV step (KV servers take no proposals, snapshots or Figure 8 rounds)"
                    ))
                }
            }
        }
    }
}

/// Renders a KV schedule as `step; step; ...`.
pub fn render_kv(steps: &[KvStep]) -> String {
    schedule::render_steps(steps)
}

/// Renders a KV schedule one numbered step per line.
pub fn render_kv_lines(steps: &[KvStep]) -> String {
    schedule::render_numbered(steps)
}

/// Parses `step; step; ...` (empty parts are skipped).
pub fn parse_kv(text: &str) -> Result<Vec<KvStep>, String> {
    schedule::parse_steps(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips() {
        let steps = vec![
            KvStep::Start(3),
            KvStep::Stop(1),
            KvStep::Get { clerk: 2, key: 0 },
            KvStep::Put { clerk: 0, key: 4 },
            KvStep::Append { clerk: 19, key: 1 },
            KvStep::ClerkCut {
                clerk: 1,
                server: 6,
            },
            KvStep::ClerkHeal,
            KvStep::Server(Step::Advance(250)),
            KvStep::Server(Step::Crash(2)),
            KvStep::Server(Step::CrashLeader),
            KvStep::Server(Step::IsolateLeader),
            KvStep::Server(Step::Restart(2)),
            KvStep::Server(Step::CrashMidStep { server: 1, keep: 3 }),
            KvStep::Server(Step::Partition(0b110)),
            KvStep::Server(Step::Cut { from: 4, to: 0 }),
            KvStep::Server(Step::Heal),
            KvStep::Server(Step::Network {
                loss_per_mille: 200,
                delay_ms: 30,
                reorder: true,
            }),
        ];
        assert_eq!(parse_kv(&render_kv(&steps)).unwrap(), steps);
        assert!(parse_kv("propose-all").is_err());
        assert!(parse_kv("snapshot 1").is_err());
        assert!(parse_kv("get 1").is_err());
        assert!(parse_kv("put x 1").is_err());
        assert!(parse_kv("clerk-heal 2").is_err());
    }
}
