//! `kv-client`: talk to a KV cluster: get, put, append, status, and a load mode.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use kv_core::Op;
use kv_node::client::history::write_history;
use kv_node::client::load::{self, LoadOptions, Mix};
use kv_node::client::{fresh_client_id, status, ClusterClient};
use kv_node::clock::TICK;
use kv_node::members::parse_members;
use raft_core::NodeId;

/// A client of a KV cluster.
#[derive(Debug, Parser)]
#[command(name = "kv-client")]
struct Flags {
    /// The servers' client addresses as id=host:port (the ids of their Raft config);
    /// comma-separated or repeated.
    #[arg(long, required = true)]
    servers: Vec<String>,
    /// Ticks (10 ms) without an answer before the clerk tries the next server.
    #[arg(long, default_value_t = 50)]
    retry_ticks: u32,
    /// Give up a get, put or append after this many seconds.
    #[arg(long, default_value_t = 10.0)]
    timeout_secs: f64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the value of KEY ("" if it was never written).
    Get { key: String },
    /// Set KEY to VALUE.
    Put {
        key: String,
        #[arg(allow_hyphen_values = true)]
        value: String,
    },
    /// Append VALUE to KEY's value.
    Append {
        key: String,
        #[arg(allow_hyphen_values = true)]
        value: String,
    },
    /// Print each server's status (role, term, indexes, WAL).
    Status,
    /// Run N clients for T seconds; print ops/s and latency percentiles.
    Load(LoadFlags),
}

#[derive(Debug, clap::Args)]
struct LoadFlags {
    /// Concurrent clients.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Seconds during which clients start new calls.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// At most this many calls per client.
    #[arg(long)]
    ops: Option<u64>,
    /// Distinct keys.
    #[arg(long, default_value_t = 10)]
    keys: usize,
    /// Weights GET:PUT:APPEND.
    #[arg(long, default_value = "50:25:25")]
    mix: Mix,
    /// Pad values to this many bytes.
    #[arg(long, default_value_t = 16)]
    value_bytes: usize,
    /// Seed of the operation choices.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Seconds a call open at the end may still take before it counts as never returned.
    #[arg(long, default_value_t = 5.0)]
    drain_secs: f64,
    /// Write the history (raftlab check's JSON lines) to this file.
    #[arg(long)]
    history: Option<PathBuf>,
}

fn main() -> ExitCode {
    let flags = Flags::parse();
    let servers = match parse_members(&flags.servers) {
        Ok(servers) => servers,
        Err(error) => {
            eprintln!("kv-client: --servers: {error}");
            return ExitCode::from(2);
        }
    };
    match run(&flags, servers) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("kv-client: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(flags: &Flags, servers: BTreeMap<NodeId, String>) -> Result<ExitCode, String> {
    let op = match &flags.command {
        Command::Get { key } => Op::Get {
            key: key.as_str().into(),
        },
        Command::Put { key, value } => Op::Put {
            key: key.as_str().into(),
            value: value.as_str().into(),
        },
        Command::Append { key, value } => Op::Append {
            key: key.as_str().into(),
            value: value.as_str().into(),
        },
        Command::Status => return Ok(print_status(&servers)),
        Command::Load(load) => return run_load(flags, load, &servers),
    };
    let mut client = ClusterClient::new(fresh_client_id(), servers, flags.retry_ticks)
        .map_err(|e| e.to_string())?;
    let limit_ticks = (flags.timeout_secs.max(0.0) * 1000.0 / TICK.as_millis() as f64) as u64;
    let completion = client.call(op, limit_ticks).map_err(|e| e.to_string())?;
    match completion.result {
        Ok(Some(value)) => println!("{value}"),
        Ok(None) => println!("ok"),
        Err(refusal) => return Err(format!("refused: {refusal}")),
    }
    Ok(ExitCode::SUCCESS)
}

fn print_status(servers: &BTreeMap<NodeId, String>) -> ExitCode {
    let mut all_answered = true;
    for (id, address) in servers {
        match status(address, Duration::from_secs(2)) {
            Ok(status) => println!("{status}"),
            Err(error) => {
                println!("{id} unreachable: {error}");
                all_answered = false;
            }
        }
    }
    if all_answered {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn run_load(
    flags: &Flags,
    load: &LoadFlags,
    servers: &BTreeMap<NodeId, String>,
) -> Result<ExitCode, String> {
    let options = LoadOptions {
        clients: load.clients,
        duration: Duration::from_secs_f64(load.seconds.max(0.0)),
        ops_per_client: load.ops,
        keys: load.keys,
        mix: load.mix,
        value_bytes: load.value_bytes,
        seed: load.seed,
        drain: Duration::from_secs_f64(load.drain_secs.max(0.0)),
        retry_ticks: flags.retry_ticks,
    };
    let report = load::run(servers, &options).map_err(|e| e.to_string())?;
    if let Some(path) = &load.history {
        let file = File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
        write_history(&mut BufWriter::new(file), &report.history)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    println!("{}", report.summary(options.clients));
    if let Some(path) = &load.history {
        println!(
            "history: {} ({} operations)",
            path.display(),
            report.history.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}
