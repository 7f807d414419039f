//! A KV server process: kv-core's [`KvServer`] driven by real time, a real network and
//! a real disk.
//!
//! Threads: a ticker (a tick every 10 ms), a listener and one reader per connection for
//! peers and for clients, one writer per peer and per client connection, and the core
//! (see [`core`]), the only thread that touches the server and the WAL. The others talk
//! to the core through one bounded channel of [`Event`]s, and the core to them through
//! bounded queues that drop when full.
//!
//! The node is crash-only: there is no shutdown path. Killing it at any moment is safe,
//! and starting it is recovery.

mod clients;
mod core;
mod peers;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::mpsc::{self, SyncSender};
use std::thread;

use kv_core::{KvConfig, KvConfigError, KvFatalError, KvRestoreError, KvServer};
use raft_core::{ConfigError, Message, NodeId, PersistedState};

use crate::clock;
use crate::wal::{Recovery, Wal, WalError, WalOptions};
use crate::wire::ClientFrame;

pub use self::clients::ClientLink;

/// The capacity of the core's event channel: readers block when it is full, which
/// pushes back on their TCP connections.
const EVENT_QUEUE: usize = 8192;

/// What a node is told on its command line.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// Its Raft id.
    pub id: NodeId,
    /// Every member's address for Raft traffic, this node's own included (it listens
    /// there).
    pub peers: BTreeMap<NodeId, String>,
    /// Where it listens for clients.
    pub client_address: String,
    /// Its data directory.
    pub data_dir: PathBuf,
    /// Snapshot when the raft state nears this many bytes (kv-core's policy).
    pub max_raft_state: Option<usize>,
    /// Make every commit durable; off only for comparison figures.
    pub fsync: bool,
}

/// Why a node stopped or would not start.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The node's id is not among the peers.
    #[error("node {0} is not in the peer list")]
    NotAMember(NodeId),
    /// Raft refused the configuration.
    #[error("raft configuration: {0}")]
    Raft(#[from] ConfigError),
    /// kv-core refused the configuration.
    #[error("kv configuration: {0}")]
    Kv(#[from] KvConfigError),
    /// The data directory could not be recovered, or a write failed.
    #[error(transparent)]
    Wal(#[from] WalError),
    /// The recovered state does not restore.
    #[error("restoring the server: {0}")]
    Restore(#[from] KvRestoreError),
    /// A listener could not be bound.
    #[error("listening on {address}: {source}")]
    Listen {
        /// The address.
        address: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A thread could not be started.
    #[error("starting a thread: {0}")]
    Thread(std::io::Error),
    /// What the WAL holds is not what the node believes is durable (a bug).
    #[error("the WAL and the node diverged: {0}")]
    Diverged(String),
    /// The server halted (see [`KvFatalError`]).
    #[error("the server halted: {0}")]
    Halted(KvFatalError),
}

/// Something that happens to the core.
#[derive(Debug)]
pub enum Event {
    /// 10 ms passed.
    Tick,
    /// A Raft message for this node.
    Peer(Message),
    /// A client connection opened; replies to it go to `link`.
    ClientOpened {
        /// Its number.
        connection: u64,
        /// Its reply queue.
        link: ClientLink,
    },
    /// A frame from a client.
    Client {
        /// The connection it came on.
        connection: u64,
        /// What it says.
        frame: ClientFrame,
    },
    /// A client connection closed.
    ClientClosed {
        /// Its number.
        connection: u64,
    },
}

/// One line on standard error, prefixed with the node.
pub fn say(id: NodeId, line: &str) {
    eprintln!("kv-node {id}: {line}");
}

/// The Raft and KV configurations of a node: raft-core's defaults (which suit 10 ms
/// ticks, with a seed derived from the id) with pre-vote on, so that a node restarting
/// or rejoining does not depose a working leader by raising the term.
pub fn configs(config: &NodeConfig) -> Result<(raft_core::Config, KvConfig), NodeError> {
    if !config.peers.contains_key(&config.id) {
        return Err(NodeError::NotAMember(config.id));
    }
    // Pre-vote and CheckQuorum keep a rejoining node from deposing a working leader;
    // the no-op entry lets a new leader serve ReadIndex Gets at once.
    let raft = raft_core::Config::builder(config.id, config.peers.keys().copied())
        .pre_vote(true)
        .check_quorum(true)
        .no_op_on_election(true)
        .build()?;
    let kv = KvConfig::builder()
        .max_raft_state(config.max_raft_state)
        .build()?;
    Ok((raft, kv))
}

/// Opens the data directory and rebuilds the persisted state, changing nothing if it
/// refuses.
pub fn recover(config: &NodeConfig) -> Result<(Wal, Recovery), NodeError> {
    let options = WalOptions {
        fsync: config.fsync,
        max_raft_state: config.max_raft_state,
    };
    Ok(Wal::open(&config.data_dir, options)?)
}

/// Says what a recovery found.
pub fn report_recovery(id: NodeId, recovery: &Recovery, image: &PersistedState) {
    if let Some(torn) = &recovery.torn {
        say(id, &torn.to_string());
    }
    for removed in &recovery.removed {
        say(id, &format!("removed leftover {}", removed.display()));
    }
    let snapshot = match &recovery.snapshot {
        Some((path, index, bytes)) => format!("{} at {} ({bytes} B)", path.display(), index.0),
        None => "none".into(),
    };
    let what = if recovery.fresh {
        "started"
    } else {
        "recovered"
    };
    let vote = image
        .voted_for()
        .map_or("none".to_string(), |id| id.to_string());
    say(
        id,
        &format!(
            "{what} {} ({} records, {} B); snapshot {snapshot}; term {} vote {vote}; entries {}..={} ({} entries, raft state {} B)",
            recovery.log.display(),
            recovery.records,
            recovery.log_bytes,
            image.term().0,
            image.snapshot_index().0 + 1,
            image.last_index().0,
            image.entries().len(),
            image.raft_state_size(),
        ),
    );
}

/// Runs a node until it fails: recovers, listens, and serves.
pub fn run(config: NodeConfig) -> Result<(), NodeError> {
    let (raft_config, kv_config) = configs(&config)?;
    let (wal, recovery) = recover(&config)?;
    report_recovery(config.id, &recovery, wal.image());
    let server = KvServer::restore(kv_config, raft_config, wal.image())?;
    let peer_address = config.peers[&config.id].clone();
    let peer_listener = bind(&peer_address)?;
    let client_listener = bind(&config.client_address)?;
    let (events, inbox) = mpsc::sync_channel(EVENT_QUEUE);
    let mut links = BTreeMap::new();
    for (&peer, address) in config.peers.iter().filter(|(&id, _)| id != config.id) {
        let link =
            peers::PeerLink::start(config.id, peer, address.clone()).map_err(NodeError::Thread)?;
        links.insert(peer, link);
    }
    let id = config.id;
    spawn("peer-listener", {
        let events = events.clone();
        move || peers::serve(id, peer_listener, events)
    })?;
    spawn("client-listener", {
        let events = events.clone();
        move || clients::serve(id, client_listener, events)
    })?;
    start_ticker(events)?;
    say(
        id,
        &format!(
            "serving: peers on {peer_address}, clients on {}, fsync {}",
            config.client_address,
            if config.fsync { "on" } else { "off" }
        ),
    );
    core::Core::new(server, wal, links).run(&inbox)
}

fn bind(address: &str) -> Result<TcpListener, NodeError> {
    TcpListener::bind(address).map_err(|source| NodeError::Listen {
        address: address.to_string(),
        source,
    })
}

fn spawn(name: &str, body: impl FnOnce() + Send + 'static) -> Result<(), NodeError> {
    thread::Builder::new()
        .name(name.to_string())
        .spawn(body)
        .map(drop)
        .map_err(NodeError::Thread)
}

/// Ticks go in with `try_send`: when the core is behind, a tick is dropped rather than
/// queued behind thousands of events (the core's clock then runs slow, never fast).
fn start_ticker(events: SyncSender<Event>) -> Result<(), NodeError> {
    clock::spawn_ticker("ticker", move || match events.try_send(Event::Tick) {
        Ok(()) | Err(mpsc::TrySendError::Full(_)) => true,
        Err(mpsc::TrySendError::Disconnected(_)) => false,
    })
    .map(drop)
    .map_err(NodeError::Thread)
}
