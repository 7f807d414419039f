//! `kv-node`: one KV server of a cluster (see the crate's README).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use kv_node::members::parse_members;
use kv_node::server::{self, say, NodeConfig};
use raft_core::NodeId;

/// One KV server: Raft over TCP, a write-ahead log in its data directory.
#[derive(Debug, Parser)]
#[command(name = "kv-node")]
struct Flags {
    /// This node's id (a positive integer, one of --peers).
    #[arg(long)]
    id: u64,
    /// Every member's Raft address as id=host:port, this node's own included (it
    /// listens there); comma-separated or repeated.
    #[arg(long, required = true)]
    peers: Vec<String>,
    /// Where to listen for clients (host:port).
    #[arg(long)]
    client_addr: String,
    /// The data directory (created if missing).
    #[arg(long)]
    data_dir: PathBuf,
    /// Snapshot when the raft state nears this many bytes (kv-core's policy keeps it
    /// within twice that); without it the log grows for ever.
    #[arg(long)]
    max_raft_state: Option<usize>,
    /// Do not fsync (for measuring what durability costs; a crash may lose
    /// acknowledged writes).
    #[arg(long)]
    no_fsync: bool,
    /// Recover the data directory as a start would (a torn tail is cut), report what it
    /// holds, and exit without serving.
    #[arg(long)]
    recover_only: bool,
}

fn main() -> ExitCode {
    let flags = Flags::parse();
    let id = NodeId(flags.id);
    let peers = match parse_members(&flags.peers) {
        Ok(peers) => peers,
        Err(error) => {
            say(id, &format!("error: --peers: {error}"));
            return ExitCode::from(2);
        }
    };
    let config = NodeConfig {
        id,
        peers,
        client_address: flags.client_addr,
        data_dir: flags.data_dir,
        max_raft_state: flags.max_raft_state,
        fsync: !flags.no_fsync,
    };
    let result = if flags.recover_only {
        server::recover(&config).map(|(wal, recovery)| {
            server::report_recovery(id, &recovery, wal.image());
        })
    } else {
        server::run(config)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            say(id, &format!("error: {error}"));
            ExitCode::FAILURE
        }
    }
}
