//! Fuzzing schedules: the steps a fuzzer may take against a cluster, and their readable
//! text form (`crash 2; advance 300; propose-all`), which parses back for replays.

use std::fmt;
use std::str::FromStr;

use crate::crash::StepKind;

/// One step of a schedule. Server numbers are taken modulo the cluster size, so a
/// schedule stays valid whatever the size and however it is shrunk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Offer a command to server `i` (ignored unless it leads).
    Propose(usize),
    /// Offer a command to every live server (whoever leads takes it).
    ProposeAll,
    /// Let this many ms of simulated time pass.
    Advance(u64),
    /// Crash server `i` (volatile state lost, persister kept).
    Crash(usize),
    /// Crash whoever leads (the live leader of the highest term), if anyone does.
    CrashLeader,
    /// Partition whoever leads away from everyone else, if anyone does.
    IsolateLeader,
    /// Restart server `i` from its persister (a live server is crashed first).
    Restart(usize),
    /// Crash server `server` during its next step, after only `keep` of that step's
    /// actions were carried out.
    CrashMidStep {
        /// The server.
        server: usize,
        /// Actions carried out before the crash.
        keep: usize,
    },
    /// Split the servers in two: those whose bit is set in the mask, and the rest.
    Partition(u8),
    /// Cut the one-way link `from -> to`.
    Cut {
        /// Sender side.
        from: usize,
        /// Receiver side.
        to: usize,
    },
    /// Remove every partition and cut.
    Heal,
    /// Change the network: loss per mille (requests and replies), extra delay up to
    /// `delay_ms`, and long reordering of replies.
    Network {
        /// Loss of each message, per mille (0 means a reliable network).
        loss_per_mille: u16,
        /// Extra delay bound, ms.
        delay_ms: u16,
        /// Long reordering of replies.
        reorder: bool,
    },
    /// Faults on top of the network: the share of requests held back long, and the
    /// chances that a message is duplicated or that an old one is replayed (per mille).
    Faults {
        /// Requests held back as long as reordered replies, per mille.
        hold_per_mille: u16,
        /// Messages delivered twice, per mille.
        duplicate_per_mille: u16,
        /// Sends that also replay an old message, per mille.
        replay_per_mille: u16,
    },
    /// From now on every step of `kind` crashes with chance `per_mille` / 1000, after a
    /// prefix of its actions (0 disarms).
    CrashPoints {
        /// The kind of step aimed at.
        kind: StepKind,
        /// The chance per step, per mille.
        per_mille: u16,
    },
    /// Server `i`'s service snapshots everything it applied.
    Snapshot(usize),
    /// Ask server `i` for a ReadIndex read (bare nodes only; refused unless it leads).
    Read(usize),
    /// Ask every live server for a ReadIndex read (bare nodes only): whoever leads, and
    /// any deposed leader that still thinks it does, must answer fresh or refuse.
    ReadAll,
    /// Ask whoever leads to hand its leadership to server `i`.
    Transfer(usize),
    /// The lab's Figure 8 round: offer a command to every live server, wait `pause_ms`,
    /// crash the last one that accepted; if fewer than a majority are up, restart server
    /// `restart` (if it is down).
    Figure8Round {
        /// The pause, ms.
        pause_ms: u64,
        /// The server to bring back when too few are up.
        restart: usize,
    },
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Propose(i) => write!(f, "propose {i}"),
            Step::ProposeAll => write!(f, "propose-all"),
            Step::Advance(ms) => write!(f, "advance {ms}"),
            Step::Crash(i) => write!(f, "crash {i}"),
            Step::CrashLeader => write!(f, "crash-leader"),
            Step::IsolateLeader => write!(f, "isolate-leader"),
            Step::Restart(i) => write!(f, "restart {i}"),
            Step::CrashMidStep { server, keep } => write!(f, "crash-mid {server} {keep}"),
            Step::Partition(mask) => write!(f, "partition {mask:#b}"),
            Step::Cut { from, to } => write!(f, "cut {from} {to}"),
            Step::Heal => write!(f, "heal"),
            Step::Network {
                loss_per_mille,
                delay_ms,
                reorder,
            } => write!(
                f,
                "net {loss_per_mille} {delay_ms} {}",
                if *reorder { "reorder" } else { "ordered" }
            ),
            Step::Faults {
                hold_per_mille,
                duplicate_per_mille,
                replay_per_mille,
            } => write!(
                f,
                "faults {hold_per_mille} {duplicate_per_mille} {replay_per_mille}"
            ),
            Step::CrashPoints { kind, per_mille } => write!(f, "crash-points {kind} {per_mille}"),
            Step::Snapshot(i) => write!(f, "snapshot {i}"),
            Step::Read(i) => write!(f, "read {i}"),
            Step::ReadAll => write!(f, "read-all"),
            Step::Transfer(i) => write!(f, "transfer {i}"),
            Step::Figure8Round { pause_ms, restart } => write!(f, "figure8 {pause_ms} {restart}"),
        }
    }
}

/// Renders a schedule as `step; step; ...`.
pub fn render(steps: &[Step]) -> String {
    render_steps(steps)
}

/// Renders a schedule one numbered step per line.
pub fn render_lines(steps: &[Step]) -> String {
    render_numbered(steps)
}

/// Renders steps of any kind of schedule as `step; step; ...`.
pub(crate) fn render_steps<T: fmt::Display>(steps: &[T]) -> String {
    steps
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Renders steps of any kind of schedule one numbered step per line.
pub(crate) fn render_numbered<T: fmt::Display>(steps: &[T]) -> String {
    steps
        .iter()
        .enumerate()
        .map(|(i, step)| format!("  {:>3}. {step}\n", i + 1))
        .collect()
}

impl FromStr for Step {
    type Err = String;

    fn from_str(text: &str) -> Result<Step, String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let number = |at: usize| -> Result<u64, String> {
            let word = words
                .get(at)
                .ok_or_else(|| format!("`{text}`: missing a number"))?;
            let parsed = match word.strip_prefix("0b") {
                Some(binary) => u64::from_str_radix(binary, 2),
                None => word.parse(),
            };
            parsed.map_err(|_| format!("`{text}`: `{word}` is not a number"))
        };
        let server = |at: usize| number(at).map(|n| n as usize);
        let per_mille = |at: usize| number(at).map(|n| n.min(1000) as u16);
        let step = match words.first().copied() {
            Some("propose") => Step::Propose(server(1)?),
            Some("propose-all") => Step::ProposeAll,
            Some("advance") => Step::Advance(number(1)?),
            Some("crash") => Step::Crash(server(1)?),
            Some("crash-leader") => Step::CrashLeader,
            Some("isolate-leader") => Step::IsolateLeader,
            Some("restart") => Step::Restart(server(1)?),
            Some("crash-mid") => Step::CrashMidStep {
                server: server(1)?,
                keep: server(2)?,
            },
            Some("partition") => Step::Partition(
                u8::try_from(number(1)?).map_err(|_| format!("`{text}`: mask too large"))?,
            ),
            Some("cut") => Step::Cut {
                from: server(1)?,
                to: server(2)?,
            },
            Some("heal") => Step::Heal,
            Some("net") => Step::Network {
                loss_per_mille: u16::try_from(number(1)?.min(1000)).unwrap_or(1000),
                delay_ms: u16::try_from(number(2)?)
                    .map_err(|_| format!("`{text}`: delay too large"))?,
                reorder: words.get(3) == Some(&"reorder"),
            },
            Some("faults") => Step::Faults {
                hold_per_mille: per_mille(1)?,
                duplicate_per_mille: per_mille(2)?,
                replay_per_mille: per_mille(3)?,
            },
            Some("crash-points") => Step::CrashPoints {
                kind: words
                    .get(1)
                    .ok_or_else(|| format!("`{text}`: missing a step kind"))?
                    .parse()?,
                per_mille: per_mille(2)?,
            },
            Some("snapshot") => Step::Snapshot(server(1)?),
            Some("read") => Step::Read(server(1)?),
            Some("read-all") => Step::ReadAll,
            Some("transfer") => Step::Transfer(server(1)?),
            Some("figure8") => Step::Figure8Round {
                pause_ms: number(1)?,
                restart: server(2)?,
            },
            _ => return Err(format!("`{text}` is not a step")),
        };
        Ok(step)
    }
}

/// Parses `step; step; ...` (the form [`render`] writes).
pub fn parse(text: &str) -> Result<Vec<Step>, String> {
    parse_steps(text)
}

/// Parses steps of any kind of schedule from `step; step; ...` (steps may also stand on
/// lines of their own; empty parts are skipped).
pub(crate) fn parse_steps<T: FromStr<Err = String>>(text: &str) -> Result<Vec<T>, String> {
    text.split([';', '\n'])
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(str::parse)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips() {
        let steps = vec![
            Step::Propose(2),
            Step::ProposeAll,
            Step::Advance(120),
            Step::Crash(1),
            Step::CrashLeader,
            Step::IsolateLeader,
            Step::Restart(1),
            Step::CrashMidStep { server: 3, keep: 2 },
            Step::Partition(0b101),
            Step::Cut { from: 0, to: 4 },
            Step::Heal,
            Step::Network {
                loss_per_mille: 100,
                delay_ms: 26,
                reorder: true,
            },
            Step::Faults {
                hold_per_mille: 50,
                duplicate_per_mille: 20,
                replay_per_mille: 10,
            },
            Step::CrashPoints {
                kind: StepKind::Campaign,
                per_mille: 300,
            },
            Step::Snapshot(0),
            Step::Read(2),
            Step::ReadAll,
            Step::Transfer(1),
            Step::Figure8Round {
                pause_ms: 12,
                restart: 3,
            },
        ];
        assert_eq!(parse(&render(&steps)).unwrap(), steps);
        assert!(parse("jump 3").is_err());
        assert!(parse("crash x").is_err());
    }
}
