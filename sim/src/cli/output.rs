//! How the CLI prints: the lab-style table, JSON lines, the scenario list.

use crate::runner::RunReport;
use crate::scenarios::Scenario;

/// The width of the id column (the longest id in the catalog).
const WIDTH: usize = 54;

/// Prints `id part servers` for every scenario.
pub fn print_list(scenarios: &[Scenario]) {
    outln!("{:<WIDTH$} {:<4} {:<8} title", "id", "part", "servers");
    for s in scenarios {
        let servers: Vec<String> = s.servers.iter().map(ToString::to_string).collect();
        outln!(
            "{:<WIDTH$} {:<4} {:<8} {}",
            s.id,
            s.part,
            servers.join(","),
            s.title
        );
    }
}

/// One JSON object for one run.
pub fn json_line(report: &RunReport, wall_ms: f64) -> String {
    serde_json::json!({
        "id": report.id,
        "part": report.part,
        "seed": report.seed,
        "ok": report.ok,
        "trace_hash": format!("{:016x}", report.trace_hash),
        "sim_ms": report.sim_ms,
        "peers": report.peers,
        "rpcs": report.rpcs,
        "bytes": report.bytes,
        "commits": report.commits,
        "max_raft_state": report.max_raft_state,
        "elections": report.elections,
        "leaders": report.leaders,
        "messages": report.messages,
        "peak_messages_per_s": report.peak_messages_per_s,
        "events": report.events,
        "max_snapshot": report.max_snapshot,
        "max_message": report.max_message,
        "snapshot_chunks": report.snapshot_chunks,
        "ops": report.ops,
        "linearizability_steps": report.linearizability_steps,
        "wall_ms": (wall_ms * 1000.0).round() / 1000.0,
        "error": report.error,
    })
    .to_string()
}

/// The lab tester's table (one row per scenario, summed over the seeds it ran; the
/// results in scenario order, as [`super::run_many`] returns them), then totals.
pub fn print_table(results: &[(RunReport, f64)], wall_s: f64) {
    outln!(
        "{:<WIDTH$} {:>4} {:>6} {:>9} {:>5} {:>8} {:>11} {:>7} {:>7} {:>9}  result",
        "id",
        "part",
        "seeds",
        "sim s",
        "peers",
        "rpcs",
        "bytes",
        "commits",
        "ops",
        "wall ms"
    );
    let mut total_sim_ms = 0;
    // The results come in scenario order, so each scenario's runs lie together.
    for chunk in results.chunk_by(|a, b| a.0.id == b.0.id) {
        let first = &chunk[0].0;
        let sum = |f: fn(&RunReport) -> u64| chunk.iter().map(|(r, _)| f(r)).sum::<u64>();
        let sim_ms = sum(|r| r.sim_ms);
        total_sim_ms += sim_ms;
        let wall_ms: f64 = chunk.iter().map(|(_, w)| w).sum();
        let failed = chunk.iter().filter(|(r, _)| !r.ok).count();
        let first_failure = chunk
            .iter()
            .filter(|(r, _)| !r.ok)
            .map(|(r, _)| r.seed)
            .min();
        let result = match first_failure {
            None => "ok".to_string(),
            Some(seed) => format!("{failed} FAILED (first at seed {seed})"),
        };
        outln!(
            "{:<WIDTH$} {:>4} {:>6} {:>9.1} {:>5} {:>8} {:>11} {:>7} {:>7} {:>9.1}  {result}",
            first.id,
            first.part,
            chunk.len(),
            sim_ms as f64 / 1000.0,
            first.peers,
            sum(|r| r.rpcs),
            sum(|r| r.bytes),
            sum(|r| r.commits),
            sum(|r| r.ops),
            wall_ms
        );
    }
    let sim_s = total_sim_ms as f64 / 1000.0;
    outln!(
        "total: {} runs, {sim_s:.1} s simulated in {wall_s:.2} s wall ({:.0}x real time)",
        results.len(),
        if wall_s > 0.0 { sim_s / wall_s } else { 0.0 }
    );
}
