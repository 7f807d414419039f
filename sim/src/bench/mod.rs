//! `raftlab bench`: replication throughput of `raft-core` with nothing else in the way.
//!
//! The nodes run in one thread without faults ([`cluster`]). Node 1 is ticked until it
//! leads; after that nothing ticks while proposals come in. Each round the leader gets
//! `--batch` proposals as one `Input::ProposeBatch` (with `--one-by-one`, as that many
//! `Input::Propose` in a row; with `--latency`, one `Input::Propose` once the previous
//! one committed on the leader, for the time per entry), and the run ends once every node's
//! service has applied every entry, checked in order. Followers learn a commit index
//! from the next AppendEntries, so once the last batch is in and the cluster is quiet,
//! the leader alone is ticked until its heartbeat carries the final commit index. Wall
//! time is measured around that load only, and only reported: it never decides anything.

mod cluster;
mod disk;
pub mod kv;
mod payload;

use std::process::ExitCode;

use clap::Args;

use cluster::Cluster;
pub use cluster::{Counters, Feed};

/// Ticks node 1 may take to win its first election.
const MAX_ELECTION_TICKS: u32 = 10_000;
/// With `--compact`, each service snapshots every this many applied entries.
const SNAPSHOT_EVERY: u64 = 10_000;
/// Rounds without a new apply anywhere, once every entry was proposed, before giving up.
const MAX_IDLE_ROUNDS: u64 = 1_000;

/// The parameters of one bench run.
#[derive(Clone, Debug, PartialEq, Eq, Args)]
pub struct BenchArgs {
    /// Nodes in the cluster.
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    /// Entries to commit and apply on every node.
    #[arg(long, default_value_t = 1_000_000)]
    pub entries: u64,
    /// Payload bytes per entry.
    #[arg(long, default_value_t = 64)]
    pub payload: usize,
    /// Proposals the leader gets per round (one ProposeBatch).
    #[arg(long, default_value_t = 256)]
    pub batch: usize,
    /// Give the leader each round's proposals as one `Input::Propose` each, in a row.
    #[arg(long, conflicts_with = "latency")]
    pub one_by_one: bool,
    /// Batch-1 latency: propose one entry, wait until the leader commits it, propose
    /// the next (`--batch` is ignored).
    #[arg(long)]
    pub latency: bool,
    /// Snapshot every 10,000 applied entries, so that memory stays bounded.
    #[arg(long)]
    pub compact: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Bench the KV service instead: `--nodes` servers and `--clients` clerks.
    #[arg(long)]
    pub kv: bool,
    /// KV: clerks, each calling its next operation as soon as the last one is done.
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    /// KV: operations to complete.
    #[arg(long, default_value_t = 1_000_000)]
    pub ops: u64,
    /// KV: distinct keys.
    #[arg(long, default_value_t = 1_000)]
    pub keys: u64,
    /// KV: bytes per written value.
    #[arg(long, default_value_t = 64)]
    pub value_bytes: usize,
    /// KV: the operations (half puts and half gets, appends only, or gets only).
    #[arg(long, value_enum, default_value_t = kv::Workload::Mixed)]
    pub workload: kv::Workload,
    /// KV: how the servers serve Gets.
    #[arg(long, value_enum, default_value_t = crate::cli::ReadModeArg::ReadIndex)]
    pub read_mode: crate::cli::ReadModeArg,
    /// KV: the servers' max_raft_state in bytes (0: no snapshots).
    #[arg(long, default_value_t = 1 << 20)]
    pub max_raft_state: usize,
    /// KV: the servers report every apply with its state digest, as in the simulator
    /// (by default they report none and keep no running digest).
    #[arg(long)]
    pub report_applied: bool,
}

/// The figures of one bench run.
#[derive(Clone, Debug, PartialEq)]
pub struct BenchReport {
    /// The parameters.
    pub args: BenchArgs,
    /// Wall seconds from the first proposal to the last apply.
    pub wall_s: f64,
    /// What the cluster counted after the election.
    pub counters: Counters,
    /// The process's peak resident memory, where the OS tells it.
    pub peak_rss_mib: Option<f64>,
}

impl BenchReport {
    /// Committed entries per wall second.
    pub fn entries_per_s(&self) -> f64 {
        self.args.entries as f64 / self.wall_s.max(f64::MIN_POSITIVE)
    }

    /// Wall microseconds per committed entry.
    pub fn us_per_entry(&self) -> f64 {
        self.wall_s * 1e6 / self.args.entries as f64
    }

    /// Messages routed per committed entry.
    pub fn messages_per_entry(&self) -> f64 {
        self.counters.messages as f64 / self.args.entries as f64
    }

    /// Bytes each node persisted per committed entry.
    pub fn persisted_bytes_per_entry(&self) -> f64 {
        self.counters.persisted_bytes as f64 / (self.args.entries * self.args.nodes as u64) as f64
    }
}

/// Runs `raftlab bench`; exit code 1 if the run broke a check, 2 on bad arguments.
pub fn main(args: &BenchArgs) -> ExitCode {
    if args.kv {
        return kv_main(args);
    }
    if args.nodes == 0 || args.nodes > 64 || args.entries == 0 || args.batch == 0 {
        eprintln!("error: bench needs 1..=64 nodes, at least 1 entry and a batch of at least 1");
        return ExitCode::from(2);
    }
    match run(args) {
        Ok(report) if args.json => {
            println!("{}", json(&report));
            ExitCode::SUCCESS
        }
        Ok(report) => {
            print_text(&report);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench FAILED: {e}");
            ExitCode::from(1)
        }
    }
}

/// Elects a leader, then proposes and applies `args.entries` entries.
pub fn run(args: &BenchArgs) -> Result<BenchReport, String> {
    let snapshot_every = args.compact.then_some(SNAPSHOT_EVERY);
    let mut cluster = Cluster::new(args.nodes, args.payload, snapshot_every)?;
    let leader = cluster.elect_first(MAX_ELECTION_TICKS)?;
    #[allow(clippy::disallowed_methods)] // wall time is reported, never decides
    let wall_started = std::time::Instant::now();
    cluster.replicate(
        leader,
        args.entries,
        (args.batch, feed(args)),
        MAX_IDLE_ROUNDS,
    )?;
    let wall_s = wall_started.elapsed().as_secs_f64();
    Ok(BenchReport {
        args: args.clone(),
        wall_s,
        counters: cluster.counters.clone(),
        peak_rss_mib: peak_rss_mib(),
    })
}

/// How the bench feeds the leader, from the flags.
pub fn feed(args: &BenchArgs) -> Feed {
    match (args.one_by_one, args.latency) {
        (_, true) => Feed::Latency,
        (true, false) => Feed::OneByOne,
        (false, false) => Feed::Batched,
    }
}

fn feed_name(feed: Feed) -> &'static str {
    match feed {
        Feed::Batched => "batched",
        Feed::OneByOne => "one-by-one",
        Feed::Latency => "latency",
    }
}

/// The peak resident set (VmHWM) of this process in MiB; Linux only, `None` elsewhere.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn round_to(value: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (value * scale).round() / scale
}

/// The report as one JSON object.
pub fn json(report: &BenchReport) -> String {
    let args = &report.args;
    let counters = &report.counters;
    serde_json::json!({
        "nodes": args.nodes,
        "entries": args.entries,
        "payload": args.payload,
        "batch": args.batch,
        "feed": feed_name(feed(args)),
        "compact": args.compact,
        "entries_per_s": report.entries_per_s().round(),
        "wall_s": round_to(report.wall_s, 6),
        "us_per_entry": round_to(report.us_per_entry(), 4),
        "messages": counters.messages,
        "messages_per_entry": round_to(report.messages_per_entry(), 4),
        "bytes": counters.bytes,
        "persisted_bytes": counters.persisted_bytes,
        "persisted_bytes_per_entry": round_to(report.persisted_bytes_per_entry(), 2),
        "peak_rss_mib": report.peak_rss_mib.map(|mib| round_to(mib, 1)),
        "rounds": counters.rounds,
        "snapshots": counters.snapshots,
        "ticks": counters.ticks,
    })
    .to_string()
}

fn print_text(report: &BenchReport) {
    let args = &report.args;
    let counters = &report.counters;
    println!(
        "bench: {} nodes, {} entries of {} bytes, batch {} ({}), compaction {}",
        args.nodes,
        args.entries,
        args.payload,
        args.batch,
        feed_name(feed(args)),
        if args.compact { "on" } else { "off" }
    );
    println!("  entries/s                {:.0}", report.entries_per_s());
    println!("  wall                     {:.3} s", report.wall_s);
    println!("  per entry                {:.3} us", report.us_per_entry());
    println!(
        "  messages routed          {} ({:.4} per entry)",
        counters.messages,
        report.messages_per_entry()
    );
    println!("  bytes routed             {}", counters.bytes);
    println!(
        "  persisted per entry      {:.1} bytes per node (payload {} + {:.1})",
        report.persisted_bytes_per_entry(),
        args.payload,
        report.persisted_bytes_per_entry() - args.payload as f64
    );
    match report.peak_rss_mib {
        Some(mib) => println!("  peak resident memory     {mib:.1} MiB"),
        None => println!("  peak resident memory     unknown on this OS"),
    }
    println!(
        "  rounds                   {} ({} snapshots, {} ticks at the end)",
        counters.rounds, counters.snapshots, counters.ticks
    );
}

/// The KV bench's parameters from the command line.
fn kv_params(args: &BenchArgs) -> kv::KvBenchParams {
    kv::KvBenchParams {
        servers: args.nodes,
        clients: args.clients,
        ops: args.ops,
        keys: args.keys,
        value_bytes: args.value_bytes,
        workload: args.workload,
        read_mode: args.read_mode.mode(),
        max_raft_state: (args.max_raft_state > 0).then_some(args.max_raft_state),
        report_applied: args.report_applied,
    }
}

/// Elects server 1, then runs the KV load; returns the wall seconds of the load.
pub fn run_kv(params: &kv::KvBenchParams) -> Result<(kv::KvCounters, f64), String> {
    let mut cluster = kv::KvCluster::new(params)?;
    cluster.elect_first(MAX_ELECTION_TICKS)?;
    #[allow(clippy::disallowed_methods)] // wall time is reported, never decides
    let wall_started = std::time::Instant::now();
    cluster.run_load(MAX_IDLE_ROUNDS)?;
    Ok((
        cluster.counters.clone(),
        wall_started.elapsed().as_secs_f64(),
    ))
}

fn kv_main(args: &BenchArgs) -> ExitCode {
    if args.nodes == 0 || args.nodes > 64 || args.clients == 0 || args.ops == 0 {
        eprintln!("error: bench --kv needs 1..=64 servers, at least 1 client and 1 op");
        return ExitCode::from(2);
    }
    let params = kv_params(args);
    let (counters, wall_s) = match run_kv(&params) {
        Ok(done) => done,
        Err(e) => {
            eprintln!("bench FAILED: {e}");
            return ExitCode::from(1);
        }
    };
    let ops = counters.ops.max(1) as f64;
    let per_op = |n: u64| round_to(n as f64 / ops, 2);
    let report = serde_json::json!({
        "kv": true,
        "servers": params.servers,
        "clients": params.clients,
        "ops": counters.ops,
        "workload": format!("{:?}", params.workload).to_lowercase(),
        "read_mode": args.read_mode.name(),
        "keys": params.keys,
        "value_bytes": params.value_bytes,
        "max_raft_state": params.max_raft_state,
        "report_applied": params.report_applied,
        "ops_per_s": (counters.ops as f64 / wall_s.max(f64::MIN_POSITIVE)).round(),
        "wall_s": round_to(wall_s, 6),
        "us_per_op": round_to(wall_s * 1e6 / ops, 4),
        "raft_messages_per_op": per_op(counters.raft_messages),
        "raft_bytes_per_op": per_op(counters.raft_bytes),
        "client_messages_per_op": per_op(counters.client_messages),
        "client_bytes_per_op": per_op(counters.client_bytes),
        "persisted_bytes_per_op": per_op(counters.persisted_bytes),
        "snapshots": counters.snapshots,
        "rounds": counters.rounds,
        "peak_rss_mib": peak_rss_mib().map(|mib| round_to(mib, 1)),
    });
    if args.json {
        println!("{report}");
    } else {
        for (key, value) in report.as_object().into_iter().flatten() {
            println!("  {key:<24} {value}");
        }
    }
    ExitCode::SUCCESS
}
