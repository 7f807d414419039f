//! `raftlab fuzz`: swarm seeds on every core with a progress bar, and the replays of a
//! fuzz seed or of a written schedule.

use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};

use crate::fuzz::{
    render_lines, run_schedule, run_swarm, ScheduleReport, ScheduleSpec, SwarmConfig,
};

/// One failing seed.
struct Failure {
    seed: u64,
    config: SwarmConfig,
    error: String,
    trace_hash: u64,
}

/// Runs seeds `start..start + seeds` on `jobs` threads.
pub fn fuzz(start: u64, seeds: u64, jobs: Option<usize>, json: bool, show_trace: bool) -> ExitCode {
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
    let failures: Mutex<Vec<Failure>> = Mutex::new(Vec::new());
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
                let (config, report) = run_swarm(seed, false);
                if let Some(error) = report.error_line() {
                    if let Ok(mut failures) = failures.lock() {
                        failures.push(Failure {
                            seed,
                            config,
                            error,
                            trace_hash: report.trace_hash,
                        });
                        bar.set_message(format!("{} failures", failures.len()));
                    }
                }
                bar.inc(1);
            });
        }
    });
    bar.finish_and_clear();
    let wall_s = wall_started.elapsed().as_secs_f64();
    let mut failures = failures.into_inner().unwrap_or_default();
    failures.sort_by_key(|f| f.seed);
    let seeds_per_s = if wall_s > 0.0 {
        seeds as f64 / wall_s
    } else {
        0.0
    };
    for failure in &failures {
        if json {
            let line = serde_json::json!({
                "seed": failure.seed,
                "ok": false,
                "config": failure.config.to_string(),
                "error": failure.error,
                "trace_hash": format!("{:016x}", failure.trace_hash),
            });
            outln!("{line}");
        } else {
            outln!(
                "FAILED fuzz seed {}: {}\n  config: {}\n  replay: cargo run --release -- replay fuzz --seed {}",
                failure.seed, failure.error, failure.config, failure.seed
            );
        }
        if show_trace {
            replay_fuzz(failure.seed);
        }
    }
    if json {
        let summary = serde_json::json!({
            "seeds": seeds,
            "failures": failures.len(),
            "seeds_per_s": (seeds_per_s * 10.0).round() / 10.0,
            "wall_s": (wall_s * 1000.0).round() / 1000.0,
            "start": start,
        });
        outln!("{summary}");
    } else {
        outln!(
            "fuzz: {seeds} seeds from {start}, {} failures, {wall_s:.1} s wall, {seeds_per_s:.1} seeds/s on {jobs} threads",
            failures.len()
        );
    }
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Replays fuzz seed `seed`: its configuration, schedule and trace.
pub fn replay_fuzz(seed: u64) -> ExitCode {
    let (config, report) = run_swarm(seed, true);
    outln!("fuzz seed {seed}: {config}");
    print_report(&report, &format!("fuzz seed {seed}"))
}

/// Runs a written schedule (`crash 1; advance 300; ...`) with its trace.
pub fn replay_schedule(spec: &ScheduleSpec) -> ExitCode {
    outln!(
        "schedule on {} servers, seed {}:\n{}",
        spec.servers,
        spec.seed,
        render_lines(&spec.steps)
    );
    let report = run_schedule(spec, true);
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
