//! The `raftlab` command line: run the catalog, list it, run targets under many seeds,
//! replay one seed with its trace.

/// `println!` for the CLI: when stdout is closed (`raftlab replay ... | head`), the
/// program ends quietly instead of panicking.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        if writeln!(out, $($arg)*).is_err() {
            std::process::exit(0);
        }
    }};
}

mod check;
mod fuzz;
mod fuzz_kv;
#[cfg(feature = "test-hooks")]
mod mutants;
mod output;
mod planted;

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use clap::{Parser, Subcommand};

use crate::runner::{run_with, RunReport};
use crate::scenarios::{catalog, find, Part, Scenario};
use crate::world::RaftSetup;
use planted::Planted;

/// raftlab: Raft and the lab's test suite as a deterministic simulation.
#[derive(Debug, Parser)]
#[command(name = "raftlab", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List every scenario: id, part, servers.
    List,
    /// Run scenarios under one or more seeds.
    Run {
        /// Scenario ids, parts (2a, 2b, 2c, 2d, 3a, 3b, x) or `all`; all when omitted.
        targets: Vec<String>,
        /// The first seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// How many seeds to run: seed, seed + 1, ..., seed + seeds − 1.
        #[arg(long, default_value_t = 1)]
        seeds: u64,
        /// Print one JSON object per run, as each run ends, instead of a table.
        #[arg(long)]
        json: bool,
        /// Worker threads (each run stays deterministic); defaults to the core count.
        #[arg(long)]
        jobs: Option<usize>,
        /// Run every seed of a scenario even after one of its seeds failed (by default a
        /// scenario stops at its first failing seed; the others go on).
        #[arg(long)]
        no_fail_fast: bool,
        #[command(flatten)]
        planted: Planted,
        /// How the KV scenarios' servers serve Gets: `read-index` (the default) or `log`
        /// (the lab's way, through the Raft log).
        #[arg(long, value_enum, default_value_t = ReadModeArg::ReadIndex)]
        read_mode: ReadModeArg,
    },
    /// Run one scenario (or `fuzz` for a fuzz seed) under one seed and print its trace.
    Replay {
        /// The scenario id, or `fuzz`.
        id: String,
        /// The seed.
        #[arg(long)]
        seed: u64,
        #[command(flatten)]
        planted: Planted,
        /// KV scenarios: also write the view of the run's client history (one HTML file).
        #[arg(long)]
        html: Option<std::path::PathBuf>,
        /// `replay fuzz --kv`: a KV fuzz seed (and `--bug`s).
        #[command(flatten)]
        kv: fuzz_kv::KvArgs,
    },
    /// Swarm fuzzing: each seed picks a configuration and a schedule, runs a safety phase
    /// then a healed liveness phase, with every checker on.
    Fuzz(fuzz::FuzzArgs),
    /// Run a written schedule, e.g. `raftlab schedule --servers 3 "crash 0; advance 500"`,
    /// and print its trace (the fuzz suite prints shrunk schedules in this form).
    Schedule(fuzz::ScheduleArgs),
    /// Measure replication throughput: nodes in one thread, no faults, batched proposals.
    Bench(crate::bench::BenchArgs),
    /// TEST ONLY (test-hooks builds): plant each raft-core bug in turn and report how
    /// soon the catalog and the swarm catch it.
    #[cfg(feature = "test-hooks")]
    Mutants(mutants::MutantsArgs),
    /// Check a history (JSON lines) for linearizability; exit 0 linearizable, 1 not,
    /// 3 unknown (budget spent), 2 bad input.
    Check(check::CheckArgs),
}

/// Parses the arguments and runs the command; exit code 1 if a run failed, 2 on bad
/// arguments.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match cli.command {
        None => run_command(&catalog(), &RunArgs::default(), &Planted::default()),
        Some(Command::List) => {
            output::print_list(&catalog());
            ExitCode::SUCCESS
        }
        Some(Command::Run {
            targets,
            seed,
            seeds,
            json,
            jobs,
            no_fail_fast,
            planted,
            read_mode,
        }) => match select(&targets) {
            Ok(scenarios) => {
                let mode = read_mode.mode();
                let scenarios: Vec<Scenario> = scenarios
                    .into_iter()
                    .map(|s| s.with_read_mode(mode))
                    .collect();
                let run = RunArgs {
                    seed,
                    seeds,
                    json,
                    jobs,
                    fail_fast: !no_fail_fast,
                };
                run_command(&scenarios, &run, &planted)
            }
            Err(message) => usage_error(&message),
        },
        Some(Command::Replay {
            id, seed, html, kv, ..
        }) if id == "fuzz" && kv.kv => fuzz_kv::replay_fuzz_kv(seed, html.as_deref(), &kv),
        Some(Command::Replay {
            id, seed, planted, ..
        }) if id == "fuzz" => fuzz::replay_fuzz(seed, &planted),
        Some(Command::Replay {
            id,
            seed,
            planted,
            html,
            ..
        }) => match find(&id) {
            Some(scenario) if html.is_some() && scenario.kv.is_none() => usage_error(&format!(
                "`{id}` has no client history (only KV scenarios do)"
            )),
            Some(scenario) => replay(&scenario, seed, &planted, html.as_deref()),
            None => usage_error(&format!("unknown scenario id `{id}` (see `raftlab list`)")),
        },
        Some(Command::Bench(args)) => crate::bench::main(&args),
        Some(Command::Check(args)) => check::main(&args),
        Some(Command::Fuzz(args)) if args.kv.kv => {
            fuzz_kv::fuzz_kv(args.start, args.seeds, args.jobs, args.json, &args.kv)
        }
        Some(Command::Schedule(args)) if args.kv.kv => {
            match args
                .kv
                .spec(args.servers, args.seed, &args.steps, args.survives_crash)
            {
                Ok(_) if !(1..=8).contains(&args.servers) => {
                    usage_error("--servers must be between 1 and 8")
                }
                Ok(spec) => fuzz_kv::replay_kv_schedule(&spec, args.html.as_deref()),
                Err(message) => usage_error(&message),
            }
        }
        Some(Command::Fuzz(args)) => fuzz::fuzz(&args),
        Some(Command::Schedule(args)) => fuzz::schedule(&args),
        #[cfg(feature = "test-hooks")]
        Some(Command::Mutants(args)) => mutants::main(&args),
    }
}

/// How KV servers serve Gets, on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ReadModeArg {
    /// Raft's ReadIndex: a round of heartbeats, no log entry.
    ReadIndex,
    /// Through the Raft log, as the lab does.
    Log,
}

impl ReadModeArg {
    pub fn mode(self) -> kv_core::ReadMode {
        match self {
            ReadModeArg::ReadIndex => kv_core::ReadMode::ReadIndex,
            ReadModeArg::Log => kv_core::ReadMode::Log,
        }
    }

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ReadModeArg::ReadIndex => "read-index",
            ReadModeArg::Log => "log",
        }
    }
}

pub(crate) fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

/// Resolves targets (ids, parts, `all`) to scenarios, in catalog order, without repeats.
pub fn select(targets: &[String]) -> Result<Vec<Scenario>, String> {
    let all = catalog();
    if targets.is_empty() {
        return Ok(all);
    }
    let mut chosen = vec![false; all.len()];
    for target in targets {
        let matched: Vec<usize> = if target.eq_ignore_ascii_case("all") {
            (0..all.len()).collect()
        } else if let Some(part) = Part::parse(target) {
            (0..all.len()).filter(|&i| all[i].part == part).collect()
        } else {
            (0..all.len()).filter(|&i| all[i].id == target).collect()
        };
        if matched.is_empty() {
            return Err(format!(
                "unknown target `{target}`: expected a scenario id, a part (2a, 2b, 2c, 2d, 3a, 3b, x) or `all`"
            ));
        }
        matched.into_iter().for_each(|i| chosen[i] = true);
    }
    Ok(all
        .into_iter()
        .zip(chosen)
        .filter_map(|(s, keep)| keep.then_some(s))
        .collect())
}

/// What `raftlab run` was asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunArgs {
    /// The first seed.
    pub seed: u64,
    /// How many seeds.
    pub seeds: u64,
    /// JSON lines instead of the table.
    pub json: bool,
    /// Worker threads (the core count when `None`).
    pub jobs: Option<usize>,
    /// A scenario stops at its first failing seed.
    pub fail_fast: bool,
}

impl Default for RunArgs {
    /// `cargo run --release`: every scenario once, seed 1.
    fn default() -> RunArgs {
        RunArgs {
            seed: 1,
            seeds: 1,
            json: false,
            jobs: None,
            fail_fast: true,
        }
    }
}

/// What [`run_many`] ran.
#[derive(Debug, Default)]
pub struct Ran {
    /// Every report with its wall ms, in (scenario, seed) order.
    pub results: Vec<(RunReport, f64)>,
    /// Runs not started because their scenario had already failed at a smaller seed.
    pub skipped: usize,
}

/// Runs every (scenario, seed) pair on `jobs` threads with the nodes set up as `setup`
/// says, calling `on_done` with each report (and its wall ms) as soon as its run ends;
/// the results come back in order. With `fail_fast`, a run is not started once its
/// scenario failed at a smaller seed, so every seed below a scenario's first failure ran
/// and that first failure is the same whatever the thread count (a storm-inducing bug
/// costs a scenario one failing run, not hundreds).
pub fn run_many(
    scenarios: &[Scenario],
    run: &RunArgs,
    setup: &RaftSetup,
    on_done: impl Fn(&RunReport, f64) + Sync,
) -> Ran {
    let (first_seed, seeds) = (run.seed, run.seeds);
    let work: Vec<(usize, u64)> = (0..scenarios.len())
        .flat_map(|s| (0..seeds).map(move |k| (s, first_seed + k)))
        .collect();
    let jobs = run
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, work.len().max(1));
    let next = AtomicUsize::new(0);
    let skipped = AtomicUsize::new(0);
    let first_failed: Vec<AtomicU64> = scenarios.iter().map(|_| AtomicU64::new(u64::MAX)).collect();
    let results: Mutex<Vec<Option<(RunReport, f64)>>> = Mutex::new(vec![None; work.len()]);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(s, seed)) = work.get(i) else {
                    break;
                };
                if run.fail_fast && first_failed[s].load(Ordering::Relaxed) < seed {
                    skipped.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                #[allow(clippy::disallowed_methods)] // wall time is reported, never decides
                let wall_started = std::time::Instant::now();
                let report = run_with(&scenarios[s], seed, false, setup);
                let wall_ms = wall_started.elapsed().as_secs_f64() * 1000.0;
                if !report.ok {
                    first_failed[s].fetch_min(seed, Ordering::Relaxed);
                }
                on_done(&report, wall_ms);
                if let Ok(mut results) = results.lock() {
                    results[i] = Some((report, wall_ms));
                }
            });
        }
    });
    Ran {
        results: results
            .into_inner()
            .unwrap_or_default()
            .into_iter()
            .flatten()
            .collect(),
        skipped: skipped.into_inner(),
    }
}

fn run_command(scenarios: &[Scenario], run: &RunArgs, planted: &Planted) -> ExitCode {
    if run.seeds == 0 {
        return usage_error("--seeds must be at least 1");
    }
    let mut setup = RaftSetup::default();
    planted.plant(&mut setup);
    #[allow(clippy::disallowed_methods)] // wall time is reported, never decides
    let wall_started = std::time::Instant::now();
    let total = scenarios.len() as u64 * run.seeds;
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} runs  {per_sec}  {msg}  eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let failures = AtomicUsize::new(0);
    let on_done = |report: &RunReport, wall_ms: f64| {
        bar.inc(1);
        if !report.ok {
            let failed = failures.fetch_add(1, Ordering::Relaxed) + 1;
            bar.set_message(format!("{failed} failed"));
        }
        bar.suspend(|| print_run(report, wall_ms, run.json, planted));
    };
    let ran = run_many(scenarios, run, &setup, on_done);
    bar.finish_and_clear();
    let wall_s = wall_started.elapsed().as_secs_f64();
    let results = &ran.results;
    let failed = results.iter().filter(|(r, _)| !r.ok).count();
    if !run.json {
        output::print_table(results, wall_s);
    }
    if failed > 0 {
        let ids = results
            .chunk_by(|a, b| a.0.id == b.0.id)
            .filter(|runs| runs.iter().any(|(r, _)| !r.ok))
            .count();
        eprintln!(
            "{failed} of {} runs failed ({ids} scenarios)",
            results.len()
        );
        if ran.skipped > 0 {
            eprintln!(
                "{} runs not started: a failed scenario stops at its first failing seed (--no-fail-fast runs every seed)",
                ran.skipped
            );
        }
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// One run's JSON line (with `json`) and, for a failure, its error and replay command.
fn print_run(report: &RunReport, wall_ms: f64, json: bool, planted: &Planted) {
    if json {
        outln!("{}", output::json_line(report, wall_ms));
    }
    if !report.ok {
        let replay =
            planted.replay_command(&format!("replay {} --seed {}", report.id, report.seed));
        eprintln!(
            "FAILED {} seed {}: {}\n  replay: {replay}",
            report.id,
            report.seed,
            report.error.as_deref().unwrap_or("?"),
        );
    }
}

fn replay(
    scenario: &Scenario,
    seed: u64,
    planted: &Planted,
    html: Option<&std::path::Path>,
) -> ExitCode {
    let mut setup = RaftSetup::default();
    planted.plant(&mut setup);
    let report = run_with(scenario, seed, true, &setup);
    for line in &report.trace {
        outln!("{line}");
    }
    if let Some(path) = html {
        let title = format!("{} seed {seed}", report.id);
        match crate::kv::write_view(path, &report.kv_history, &title) {
            Ok(verdict) => outln!("history view ({verdict}): {}", path.display()),
            Err(e) => {
                eprintln!("error: cannot write {}: {e}", path.display());
                return ExitCode::from(2);
            }
        }
    }
    outln!(
        "{} seed {}: {} trace_hash={:016x} sim_ms={} rpcs={} bytes={} commits={}",
        report.id,
        report.seed,
        if report.ok { "ok" } else { "FAILED" },
        report.trace_hash,
        report.sim_ms,
        report.rpcs,
        report.bytes,
        report.commits
    );
    if let Some(error) = &report.error {
        outln!("error: {error}");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
