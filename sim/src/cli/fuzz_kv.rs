//! `raftlab fuzz --kv`: KV swarm seeds on every core with a progress bar and JSON lines
//! as runs end; the replays of a KV fuzz seed (`replay fuzz --kv`, with `--html` for the
//! history view) and of a written KV schedule (`schedule --kv`).

use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::fuzz::kv::{
    render_kv, render_kv_lines, run_kv_schedule, run_kv_swarm, KvBugSet, KvReport, KvSpec,
};

/// The KV options of `schedule --kv` (and the planted bugs of `fuzz --kv`, `replay`).
#[derive(Clone, Debug, Args)]
pub struct KvArgs {
    /// Run KV servers and clerks (`fuzz --kv`, `replay fuzz --kv`, `schedule --kv`).
    #[arg(long)]
    pub kv: bool,
    /// TEST ONLY: plant a KV bug (repeatable; needs `--features sim/test-hooks`).
    #[arg(long = "kv-bug", value_name = "NAME")]
    pub kv_bugs: Vec<String>,
    /// `schedule --kv`: clerk slots.
    #[arg(long, default_value_t = 3)]
    pub clerks: usize,
    /// `schedule --kv`: keys.
    #[arg(long, default_value_t = 3)]
    pub keys: usize,
    /// `schedule --kv`: padding of each value, bytes.
    #[arg(long, default_value_t = 4)]
    pub value_bytes: usize,
    /// `schedule --kv`: Gets through the log instead of ReadIndex.
    #[arg(long)]
    pub log_reads: bool,
    /// `schedule --kv`: the snapshot threshold in bytes (0: no snapshots).
    #[arg(long, default_value_t = 1000)]
    pub max_raft_state: usize,
}

impl KvArgs {
    /// The planted bugs named, or why not.
    pub fn bug_set(&self) -> Result<KvBugSet, String> {
        #[cfg(feature = "test-hooks")]
        {
            let mut set = kv_core::KvBugs::NONE;
            for name in &self.kv_bugs {
                let bug = kv_core::KvBug::parse(name).ok_or_else(|| {
                    let names: Vec<&str> = kv_core::KvBug::ALL.iter().map(|b| b.name()).collect();
                    format!("unknown bug `{name}` (one of {})", names.join(", "))
                })?;
                set = set.with(bug, true);
            }
            Ok(set)
        }
        #[cfg(not(feature = "test-hooks"))]
        match self.kv_bugs.first() {
            Some(_) => Err(
                "planted bugs need a build with `--features sim/test-hooks` (cargo run --release --features sim/test-hooks -- ...)"
                    .into(),
            ),
            None => Ok(()),
        }
    }

    /// The `--kv-bug` flags again, for replay lines.
    fn flags(&self) -> String {
        self.kv_bugs
            .iter()
            .map(|b| format!(" --kv-bug {b}"))
            .collect()
    }

    fn cargo(&self) -> &'static str {
        if self.kv_bugs.is_empty() {
            "cargo run --release"
        } else {
            "cargo run --release --features sim/test-hooks"
        }
    }

    /// The spec of `schedule --kv`.
    pub fn spec(
        &self,
        servers: usize,
        seed: u64,
        steps: &str,
        survives: u64,
    ) -> Result<KvSpec, String> {
        let steps = crate::fuzz::kv::parse_kv(steps)?;
        let mut spec = KvSpec::new(servers, seed, steps);
        spec.clerks = self.clerks.clamp(1, 64);
        spec.keys = self.keys.max(1);
        spec.value_bytes = self.value_bytes;
        spec.read_mode = if self.log_reads {
            kv_core::ReadMode::Log
        } else {
            kv_core::ReadMode::ReadIndex
        };
        spec.max_raft_state = (self.max_raft_state > 0).then_some(self.max_raft_state);
        spec.survives_sender_crash_per_mille = survives.min(1000);
        #[cfg(feature = "test-hooks")]
        {
            spec.bugs = self.bug_set()?;
        }
        #[cfg(not(feature = "test-hooks"))]
        self.bug_set()?;
        Ok(spec)
    }
}

/// Runs `seeds` seeds from `start` on `jobs` threads with a progress bar; `done` sees
/// each result as its run ends. Returns the results in seed order, and the wall time.
pub fn run_seeds<R: Send>(
    start: u64,
    seeds: u64,
    jobs: Option<usize>,
    run: impl Fn(u64) -> R + Sync,
    done: impl Fn(u64, &R, &ProgressBar) + Sync,
) -> (Vec<(u64, R)>, f64) {
    let jobs = jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let bar = ProgressBar::new(seeds);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} seeds  {per_sec}  {msg}  eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message("0 failures");
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(u64, R)>> = Mutex::new(Vec::new());
    #[allow(clippy::disallowed_methods)] // wall time is reported, never decides
    let wall_started = std::time::Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::Relaxed) as u64;
                if k >= seeds {
                    break;
                }
                let seed = start + k;
                let result = run(seed);
                done(seed, &result, &bar);
                if let Ok(mut results) = results.lock() {
                    results.push((seed, result));
                }
                bar.inc(1);
            });
        }
    });
    bar.finish_and_clear();
    let wall_s = wall_started.elapsed().as_secs_f64();
    let mut results = results.into_inner().unwrap_or_default();
    results.sort_by_key(|(seed, _)| *seed);
    (results, wall_s)
}

/// `raftlab fuzz --kv`: runs KV swarm seeds `start..start + seeds`.
pub fn fuzz_kv(start: u64, seeds: u64, jobs: Option<usize>, json: bool, args: &KvArgs) -> ExitCode {
    // The bug set is `()` in builds without test-hooks.
    #[allow(clippy::let_unit_value)]
    let bugs = match args.bug_set() {
        Ok(bugs) => bugs,
        Err(message) => return super::usage_error(&message),
    };
    let failures = AtomicUsize::new(0);
    let (results, wall_s) = run_seeds(
        start,
        seeds,
        jobs,
        |seed| {
            let (config, report) = run_kv_swarm(seed, false, bugs);
            (config.to_string(), report)
        },
        |seed, (config, report), bar| {
            if json {
                let line = serde_json::json!({
                    "seed": seed,
                    "ok": report.report.ok,
                    "config": config,
                    "error": report.report.error_line(),
                    "calls": report.calls.0,
                    "returned": report.calls.1,
                    "sim_ms": report.report.sim_ms,
                    "trace_hash": format!("{:016x}", report.report.trace_hash),
                });
                bar.suspend(|| outln!("{line}"));
            }
            if !report.report.ok {
                let failed = failures.fetch_add(1, Ordering::Relaxed) + 1;
                bar.set_message(format!("{failed} failures"));
            }
        },
    );
    let failed: Vec<&(u64, (String, KvReport))> =
        results.iter().filter(|(_, (_, r))| !r.report.ok).collect();
    let calls: u64 = results.iter().map(|(_, (_, r))| r.calls.0).sum();
    let seeds_per_s = if wall_s > 0.0 {
        seeds as f64 / wall_s
    } else {
        0.0
    };
    for (seed, (config, report)) in &failed {
        eprintln!(
            "FAILED kv fuzz seed {seed}: {}\n  config: {config}\n  replay: {} -- replay fuzz --kv --seed {seed}{} [--html view.html]",
            report.report.error_line().unwrap_or_default(),
            args.cargo(),
            args.flags()
        );
    }
    if json {
        let summary = serde_json::json!({
            "kv": true,
            "seeds": seeds,
            "failures": failed.len(),
            "first_failure": failed.first().map(|(seed, _)| seed),
            "calls": calls,
            "seeds_per_s": (seeds_per_s * 10.0).round() / 10.0,
            "wall_s": (wall_s * 1000.0).round() / 1000.0,
            "start": start,
            "bugs": args.kv_bugs,
        });
        outln!("{summary}");
    } else {
        outln!(
            "fuzz --kv: {seeds} seeds from {start}, {} failures{}, {calls} calls, {wall_s:.1} s wall, {seeds_per_s:.1} seeds/s",
            failed.len(),
            failed
                .first()
                .map(|(seed, _)| format!(" (first at seed {seed})"))
                .unwrap_or_default()
        );
    }
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// `raftlab replay fuzz --kv --seed N`: its configuration, schedule, trace and verdict.
pub fn replay_fuzz_kv(seed: u64, html: Option<&Path>, args: &KvArgs) -> ExitCode {
    // The bug set is `()` in builds without test-hooks.
    #[allow(clippy::let_unit_value)]
    let bugs = match args.bug_set() {
        Ok(bugs) => bugs,
        Err(message) => return super::usage_error(&message),
    };
    let (config, report) = run_kv_swarm(seed, true, bugs);
    outln!("kv fuzz seed {seed}: {config}");
    print_report(&report, &format!("kv fuzz seed {seed}"), html)
}

/// `raftlab schedule --kv "..."`: runs a written KV schedule with its trace.
pub fn replay_kv_schedule(spec: &KvSpec, html: Option<&Path>) -> ExitCode {
    outln!(
        "kv schedule on {} servers, {} clerks, {} keys, seed {}:\n{}",
        spec.servers,
        spec.clerks,
        spec.keys,
        spec.seed,
        render_kv_lines(&spec.steps)
    );
    let report = run_kv_schedule(spec, true);
    print_report(
        &report,
        &format!("kv schedule \"{}\"", render_kv(&spec.steps)),
        html,
    )
}

fn print_report(report: &KvReport, name: &str, html: Option<&Path>) -> ExitCode {
    for line in &report.report.trace {
        outln!("{line}");
    }
    if let Some(path) = html {
        match crate::kv::write_view(path, &report.history, name) {
            Ok(verdict) => outln!("history view ({verdict}): {}", path.display()),
            Err(e) => {
                eprintln!("error: cannot write {}: {e}", path.display());
                return ExitCode::from(2);
            }
        }
    }
    outln!(
        "{name}: {} trace_hash={:016x} sim_ms={} applied={} calls={} returned={}",
        if report.report.ok { "ok" } else { "FAILED" },
        report.report.trace_hash,
        report.report.sim_ms,
        report.report.commits,
        report.calls.0,
        report.calls.1
    );
    match report.report.error_line() {
        Some(error) => {
            outln!("error: {error}");
            ExitCode::from(1)
        }
        None => ExitCode::SUCCESS,
    }
}
