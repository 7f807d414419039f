//! `raftlab fuzz`: swarm seeds on every core with a progress bar, each seed's result
//! printed as soon as it ends; the replays of a fuzz seed or of a written schedule.

use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::planted::Planted;
use crate::fuzz::{
    parse, render_lines, run_schedule, run_swarm_with, ScheduleReport, ScheduleSpec, SwarmConfig,
};

/// What `raftlab fuzz` runs.
#[derive(Args, Debug, Clone)]
pub struct FuzzArgs {
    /// How many seeds.
    #[arg(long, default_value_t = 1000)]
    pub seeds: u64,
    /// The first seed.
    #[arg(long, default_value_t = 1, alias = "seed")]
    pub start: u64,
    /// Worker threads (each run stays deterministic); defaults to the core count.
    #[arg(long)]
    pub jobs: Option<usize>,
    /// One JSON line per seed as it ends, then a summary line.
    #[arg(long)]
    pub json: bool,
    /// Print the trace of every failing seed (after the run).
    #[arg(long)]
    pub trace: bool,
    #[command(flatten)]
    pub planted: Planted,
    /// `--kv`: KV servers and clerks, linearizability and exactly-once on every run.
    #[command(flatten)]
    pub kv: super::fuzz_kv::KvArgs,
}

/// `raftlab schedule`: a written schedule and the cluster it runs on.
#[derive(Args, Debug, Clone)]
pub struct ScheduleArgs {
    /// The steps, separated by `;`.
    pub steps: String,
    /// Cluster size.
    #[arg(long, default_value_t = 5)]
    pub servers: usize,
    /// The world's seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Applied entries between automatic snapshots (0: only `snapshot` steps).
    #[arg(long, default_value_t = 10)]
    pub snapshot_interval: u64,
    /// The chance, per mille, that a message in flight survives its sender's crash.
    #[arg(long, default_value_t = 500)]
    pub survives_crash: u64,
    /// Whether the nodes run pre-vote.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub pre_vote: bool,
    /// Whether the nodes run CheckQuorum.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub check_quorum: bool,
    /// Whether a new leader appends an empty entry of its term at once.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set)]
    pub no_op_on_election: bool,
    /// Payload bytes per AppendEntries.
    #[arg(long, default_value_t = 64 * 1024)]
    pub max_message_bytes: usize,
    #[command(flatten)]
    pub planted: Planted,
    /// `--kv`: also write the view of the client history (one HTML file).
    #[arg(long)]
    pub html: Option<std::path::PathBuf>,
    /// `--kv`: a KV schedule (clerk steps beside the server faults).
    #[command(flatten)]
    pub kv: super::fuzz_kv::KvArgs,
}

/// One seed's outcome, as the workers hand it over.
struct Outcome {
    seed: u64,
    config: SwarmConfig,
    report: ScheduleReport,
    wall_ms: f64,
}

/// Runs the seeds of `args` on its threads, printing each seed's result as it ends.
pub fn fuzz(args: &FuzzArgs) -> ExitCode {
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let bar = ProgressBar::new(args.seeds);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} seeds  {per_sec}  {msg}  eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message("0 failures");
    let next = AtomicUsize::new(0);
    let failed: Mutex<Vec<u64>> = Mutex::new(Vec::new());
    #[allow(clippy::disallowed_methods)] // wall time is reported, never decides
    let wall_started = std::time::Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::Relaxed) as u64;
                if k >= args.seeds {
                    break;
                }
                let outcome = run_seed(args.start + k, &args.planted);
                if !outcome.report.ok {
                    if let Ok(mut failed) = failed.lock() {
                        failed.push(outcome.seed);
                        bar.set_message(format!("{} failures", failed.len()));
                    }
                }
                bar.suspend(|| print_outcome(&outcome, args));
                bar.inc(1);
            });
        }
    });
    bar.finish_and_clear();
    let wall_s = wall_started.elapsed().as_secs_f64();
    let mut failed = failed.into_inner().unwrap_or_default();
    failed.sort_unstable();
    if args.trace {
        for &seed in &failed {
            replay_fuzz(seed, &args.planted);
        }
    }
    print_summary(args, failed.len(), wall_s, jobs);
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn run_seed(seed: u64, planted: &Planted) -> Outcome {
    #[allow(clippy::disallowed_methods)] // wall time is reported, never decides
    let started = std::time::Instant::now();
    let (config, report) = run_swarm_with(seed, false, |spec| planted.plant(&mut spec.setup));
    Outcome {
        seed,
        config,
        report,
        wall_ms: started.elapsed().as_secs_f64() * 1000.0,
    }
}

fn print_outcome(outcome: &Outcome, args: &FuzzArgs) {
    let report = &outcome.report;
    if args.json {
        let line = serde_json::json!({
            "seed": outcome.seed,
            "ok": report.ok,
            "error": report.error_line(),
            "trace_hash": format!("{:016x}", report.trace_hash),
            "sim_ms": report.sim_ms,
            "commits": report.commits,
            "liveness": report.liveness.map(|l| serde_json::json!({
                "heal_to_leader_ms": l.heal_to_leader_ms,
                "heal_to_commit_ms": l.heal_to_commit_ms,
                "elections": l.elections,
                "leaders": l.leaders,
                "messages": l.messages,
            })),
            "events": report.usage.events,
            "peak_messages_per_s": report.usage.peak_messages_per_second,
            "peak_bytes_per_s": report.usage.peak_bytes_per_second,
            "peak_events_per_instant": report.usage.peak_events_per_instant,
            "servers": outcome.config.servers,
            "election_max_ms": u64::from(outcome.config.election_ticks.1) * 10,
            "wall_ms": (outcome.wall_ms * 1000.0).round() / 1000.0,
            "config": outcome.config.to_string(),
        });
        outln!("{line}");
    } else if let Some(error) = report.error_line() {
        let replay = args
            .planted
            .replay_command(&format!("replay fuzz --seed {}", outcome.seed));
        outln!(
            "FAILED fuzz seed {}: {error}\n  config: {}\n  replay: {replay}",
            outcome.seed,
            outcome.config
        );
    }
}

fn print_summary(args: &FuzzArgs, failures: usize, wall_s: f64, jobs: usize) {
    let seeds_per_s = if wall_s > 0.0 {
        args.seeds as f64 / wall_s
    } else {
        0.0
    };
    if args.json {
        let summary = serde_json::json!({
            "seeds": args.seeds,
            "failures": failures,
            "seeds_per_s": (seeds_per_s * 10.0).round() / 10.0,
            "wall_s": (wall_s * 1000.0).round() / 1000.0,
            "start": args.start,
        });
        outln!("{summary}");
    } else {
        outln!(
            "fuzz: {} seeds from {}, {failures} failures, {wall_s:.1} s wall, {seeds_per_s:.1} seeds/s on {jobs} threads",
            args.seeds,
            args.start
        );
    }
}

/// Replays fuzz seed `seed`: its configuration, schedule and trace.
pub fn replay_fuzz(seed: u64, planted: &Planted) -> ExitCode {
    let (config, report) = run_swarm_with(seed, true, |spec| planted.plant(&mut spec.setup));
    outln!("fuzz seed {seed}: {config}");
    print_report(&report, &format!("fuzz seed {seed}"))
}

/// `raftlab schedule`: runs a written schedule (`crash 1; advance 300; ...`) with its trace.
pub fn schedule(args: &ScheduleArgs) -> ExitCode {
    let steps = match parse(&args.steps) {
        Ok(steps) => steps,
        Err(message) => return super::usage_error(&message),
    };
    if !(1..=8).contains(&args.servers) {
        return super::usage_error("--servers must be between 1 and 8");
    }
    let mut spec = ScheduleSpec::new(args.servers, args.seed, steps);
    spec.snapshot_interval = args.snapshot_interval;
    spec.survives_sender_crash_per_mille = args.survives_crash.min(1000);
    spec.setup.pre_vote = args.pre_vote;
    spec.setup.check_quorum = args.check_quorum;
    spec.setup.no_op_on_election = args.no_op_on_election;
    spec.setup.max_message_bytes = args.max_message_bytes.max(1);
    args.planted.plant(&mut spec.setup);
    outln!(
        "schedule on {} servers, seed {}:\n{}",
        spec.servers,
        spec.seed,
        render_lines(&spec.steps)
    );
    let report = run_schedule(&spec, true);
    print_report(&report, "schedule")
}

fn print_report(report: &ScheduleReport, name: &str) -> ExitCode {
    for line in &report.trace {
        outln!("{line}");
    }
    outln!(
        "{name}: {} trace_hash={:016x} sim_ms={} commits={}",
        if report.ok { "ok" } else { "FAILED" },
        report.trace_hash,
        report.sim_ms,
        report.commits
    );
    match report.error_line() {
        Some(error) => {
            outln!("error: {error}");
            ExitCode::from(1)
        }
        None => ExitCode::SUCCESS,
    }
}
