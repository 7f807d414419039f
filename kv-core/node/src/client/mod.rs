//! The client side: a kv-core [`Clerk`] driven over TCP ([`ClusterClient`]), a status
//! query ([`status`]), and the load mode ([`load`]).
//!
//! A [`ClusterClient`] holds one connection per server, opened when the clerk first
//! sends there and reopened after a failure; a reader thread per connection feeds the
//! servers' replies, and a ticker thread the clerk's ticks, into one channel. A call
//! feeds the clerk until it reports the call done. The clerk decides everything else
//! (which server, when to retry); a send that fails is answered to the clerk as a
//! `WrongLeader` from that server, so it moves on without waiting for its timeout.

pub mod history;
pub mod load;

use std::collections::{BTreeMap, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::io::{BufReader, BufWriter, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;
use std::time::Duration;

use kv_core::{
    Clerk, ClerkAction, ClerkConfig, ClerkConfigError, ClerkInput, ClientId, Completion, Op,
    Outcome, Reply,
};
use raft_core::NodeId;

use crate::clock;
use crate::frame::{read_frame, write_frame, MAX_CLIENT_FRAME_BYTES};
use crate::net::connect;
use crate::wire::{ClientFrame, ServerFrame, Status};

const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// Why a client could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The clerk refused its configuration.
    #[error("clerk configuration: {0}")]
    Config(#[from] ClerkConfigError),
    /// No answer within the call's limit.
    #[error("no answer within {ticks} ticks")]
    TimedOut {
        /// The limit.
        ticks: u64,
    },
    /// A thread could not be started.
    #[error("starting a thread: {0}")]
    Thread(std::io::Error),
    /// A status query failed.
    #[error("{address}: {error}")]
    Status {
        /// The server's client address.
        address: String,
        /// What went wrong.
        error: String,
    },
}

/// What reaches a client's loop.
enum Incoming {
    Tick,
    Reply { from: NodeId, reply: Reply },
}

/// A clerk on a real network (see the module docs).
pub struct ClusterClient {
    clerk: Clerk,
    addresses: BTreeMap<NodeId, String>,
    connections: BTreeMap<NodeId, BufWriter<TcpStream>>,
    sender: Sender<Incoming>,
    incoming: Receiver<Incoming>,
}

/// A client id no other clerk has: 64 bits from the OS's randomness (through std's
/// randomly keyed hasher), never 0.
pub fn fresh_client_id() -> ClientId {
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    ClientId(random.max(1))
}

impl ClusterClient {
    /// A client with id `client` for the servers at `addresses` (their client ports),
    /// moving to the next server after `retry_ticks` ticks without an answer.
    pub fn new(
        client: ClientId,
        addresses: BTreeMap<NodeId, String>,
        retry_ticks: u32,
    ) -> Result<ClusterClient, ClientError> {
        let config = ClerkConfig::builder(client, addresses.keys().copied())
            .retry_timeout_ticks(retry_ticks)
            .build()?;
        let (sender, incoming) = mpsc::channel();
        let ticks = sender.clone();
        clock::spawn_ticker("client-ticker", move || ticks.send(Incoming::Tick).is_ok())
            .map_err(ClientError::Thread)?;
        Ok(ClusterClient {
            clerk: Clerk::new(config),
            addresses,
            connections: BTreeMap::new(),
            sender,
            incoming,
        })
    }

    /// This client's id.
    pub fn id(&self) -> ClientId {
        self.clerk.client()
    }

    /// Makes one call and waits at most `limit_ticks` ticks for it. After a time-out
    /// the call is still in flight; the client should then be dropped.
    pub fn call(&mut self, op: Op, limit_ticks: u64) -> Result<Completion, ClientError> {
        let mut done = self.perform(ClerkInput::Call(op));
        let mut ticks = 0;
        loop {
            if let Some(completion) = done {
                return Ok(completion);
            }
            let input = match self.incoming.recv() {
                Ok(Incoming::Tick) => {
                    ticks += 1;
                    if ticks > limit_ticks {
                        return Err(ClientError::TimedOut { ticks: limit_ticks });
                    }
                    ClerkInput::Tick
                }
                Ok(Incoming::Reply { from, reply }) => ClerkInput::Reply { from, reply },
                Err(_) => return Err(ClientError::TimedOut { ticks }),
            };
            done = self.perform(input);
        }
    }

    /// Steps the clerk and sends what it asks; returns a completed call.
    ///
    /// A request that cannot even be sent (the server refuses the connection, or the
    /// connection breaks) is answered here as the server would if it could not serve
    /// it: `WrongLeader` without a hint. The clerk then tries the next server at once
    /// instead of after its timeout; after a whole round of such answers it waits for
    /// the timeout (its own rule), so a cluster that is entirely down costs no busy loop.
    fn perform(&mut self, input: ClerkInput) -> Option<Completion> {
        let mut done = None;
        let mut inputs = VecDeque::from([input]);
        while let Some(input) = inputs.pop_front() {
            for action in self.clerk.step(input) {
                match action {
                    ClerkAction::Send { to, request } => {
                        if !self.send(to, &ClientFrame::Request(request.clone()).to_bytes()) {
                            let outcome = Outcome::WrongLeader { leader_hint: None };
                            let reply = Reply {
                                client: request.client,
                                seq: request.seq,
                                outcome,
                            };
                            inputs.push_back(ClerkInput::Reply { from: to, reply });
                        }
                    }
                    ClerkAction::Done(completion) => done = Some(completion),
                }
            }
        }
        done
    }

    /// Sends a frame to `to`, connecting first if needed; false if that failed.
    fn send(&mut self, to: NodeId, frame: &[u8]) -> bool {
        if !self.connections.contains_key(&to) {
            match self.connect(to) {
                Some(connection) => {
                    self.connections.insert(to, connection);
                }
                None => return false,
            }
        }
        let Some(connection) = self.connections.get_mut(&to) else {
            return false;
        };
        let sent = write_frame(connection, frame).and_then(|()| connection.flush());
        if sent.is_err() {
            if let Some(connection) = self.connections.remove(&to) {
                let _ = connection.get_ref().shutdown(Shutdown::Both);
            }
            return false;
        }
        true
    }

    fn connect(&self, to: NodeId) -> Option<BufWriter<TcpStream>> {
        let address = self.addresses.get(&to)?;
        let stream = connect(address, CONNECT_TIMEOUT).ok()?;
        let reader = stream.try_clone().ok()?;
        let sender = self.sender.clone();
        thread::Builder::new()
            .name(format!("from-{to}"))
            .spawn(move || read_replies(to, reader, sender))
            .ok()?;
        Some(BufWriter::new(stream))
    }
}

impl Drop for ClusterClient {
    fn drop(&mut self) {
        for connection in self.connections.values() {
            let _ = connection.get_ref().shutdown(Shutdown::Both);
        }
    }
}

fn read_replies(from: NodeId, stream: TcpStream, sender: Sender<Incoming>) {
    let mut input = BufReader::new(stream);
    while let Ok(frame) = read_frame(&mut input, MAX_CLIENT_FRAME_BYTES) {
        match ServerFrame::from_bytes(&frame) {
            Ok(ServerFrame::Reply(reply)) => {
                if sender.send(Incoming::Reply { from, reply }).is_err() {
                    return;
                }
            }
            Ok(ServerFrame::Status(_)) => {}
            Err(_) => return,
        }
    }
}

/// Asks the server whose client port is `address` for its status, waiting at most
/// `timeout` for the answer.
pub fn status(address: &str, timeout: Duration) -> Result<Status, ClientError> {
    let fail = |error: String| ClientError::Status {
        address: address.to_string(),
        error,
    };
    let stream = connect(address, timeout).map_err(|e| fail(e.to_string()))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| fail(e.to_string()))?;
    let mut writer = &stream;
    write_frame(&mut writer, &ClientFrame::Status.to_bytes()).map_err(|e| fail(e.to_string()))?;
    let frame =
        read_frame(&mut &stream, MAX_CLIENT_FRAME_BYTES).map_err(|e| fail(e.to_string()))?;
    match ServerFrame::from_bytes(&frame) {
        Ok(ServerFrame::Status(status)) => Ok(status),
        Ok(ServerFrame::Reply(_)) => Err(fail("a reply instead of a status".into())),
        Err(error) => Err(fail(error.to_string())),
    }
}
