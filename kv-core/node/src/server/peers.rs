//! Raft messages between nodes over TCP: one outgoing connection per peer, fed by a
//! bounded queue, and a listener for the connections peers open to this node.
//!
//! Each node dials every peer and only writes on that connection; it reads what peers
//! send on the connections they dialed. So every pair of nodes has one connection per
//! direction, each with a single writer, and a reconnect never races a peer's.
//!
//! Raft tolerates lost messages, so the transport drops instead of waiting: a message
//! that finds its peer's queue full (by count or by bytes) is dropped, and so is
//! whatever is queued while the peer cannot be reached. The writer reconnects with an
//! exponential backoff from 10 ms to 100 ms (the heartbeat
//! interval, so a restarted peer hears from its leader before its election timeout).

use std::io::{BufReader, BufWriter, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use raft_core::{Message, NodeId};

use super::{say, Event};
use crate::frame::{read_frame, write_frame, MAX_PEER_FRAME_BYTES};
use crate::net::connect;

/// The most messages queued for one peer.
const QUEUE_MESSAGES: usize = 4096;
/// The most bytes queued for one peer.
const QUEUE_BYTES: usize = 64 << 20;
const BACKOFF_MIN: Duration = Duration::from_millis(10);
const BACKOFF_MAX: Duration = Duration::from_millis(100);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// The sending end of one peer's connection.
#[derive(Debug)]
pub struct PeerLink {
    queue: SyncSender<Vec<u8>>,
    queued_bytes: Arc<AtomicUsize>,
    dropped: Arc<AtomicU64>,
}

impl PeerLink {
    /// Starts the writer thread of the connection from `me` to `peer` at `address`.
    pub fn start(me: NodeId, peer: NodeId, address: String) -> std::io::Result<PeerLink> {
        let (queue, messages) = std::sync::mpsc::sync_channel(QUEUE_MESSAGES);
        let queued_bytes = Arc::new(AtomicUsize::new(0));
        let writer = Writer {
            me,
            peer,
            address,
            messages,
            queued_bytes: queued_bytes.clone(),
        };
        thread::Builder::new()
            .name(format!("to-{peer}"))
            .spawn(move || writer.run())?;
        Ok(PeerLink {
            queue,
            queued_bytes,
            dropped: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Queues a message, or drops it if the queue is full.
    pub fn send(&self, message: &Message) {
        let frame = message.to_bytes();
        let len = frame.len();
        if self.queued_bytes.load(Ordering::Relaxed) + len > QUEUE_BYTES {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.queued_bytes.fetch_add(len, Ordering::Relaxed);
        match self.queue.try_send(frame) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.queued_bytes.fetch_sub(len, Ordering::Relaxed);
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Messages dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

struct Writer {
    me: NodeId,
    peer: NodeId,
    address: String,
    messages: Receiver<Vec<u8>>,
    queued_bytes: Arc<AtomicUsize>,
}

impl Writer {
    fn run(self) {
        let mut backoff = BACKOFF_MIN;
        loop {
            match connect(&self.address, CONNECT_TIMEOUT) {
                Ok(stream) => {
                    backoff = BACKOFF_MIN;
                    say(
                        self.me,
                        &format!("connected to {} at {}", self.peer, self.address),
                    );
                    match self.pump(stream) {
                        Ok(()) => return, // the node is gone
                        Err(error) => say(self.me, &format!("lost {}: {error}", self.peer)),
                    }
                }
                Err(_) => {
                    if self.drain_and_wait(backoff) {
                        return;
                    }
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
            }
        }
    }

    /// Writes queued messages until the connection fails (`Err`) or the node drops the
    /// queue (`Ok`). Flushes whenever the queue is empty.
    fn pump(&self, stream: TcpStream) -> std::io::Result<()> {
        let mut out = BufWriter::with_capacity(256 << 10, stream);
        loop {
            let Ok(frame) = self.messages.recv() else {
                return Ok(());
            };
            self.write(&mut out, &frame)?;
            while let Ok(frame) = self.messages.try_recv() {
                self.write(&mut out, &frame)?;
            }
            out.flush()?;
        }
    }

    fn write(&self, out: &mut impl Write, frame: &[u8]) -> std::io::Result<()> {
        self.queued_bytes.fetch_sub(frame.len(), Ordering::Relaxed);
        write_frame(out, frame)
    }

    /// While the peer is unreachable: drops what is queued, then sleeps. True if the
    /// node dropped the queue.
    fn drain_and_wait(&self, backoff: Duration) -> bool {
        loop {
            match self.messages.try_recv() {
                Ok(frame) => {
                    self.queued_bytes.fetch_sub(frame.len(), Ordering::Relaxed);
                }
                Err(std::sync::mpsc::TryRecvError::Empty) => break,
                Err(std::sync::mpsc::TryRecvError::Disconnected) => return true,
            }
        }
        thread::sleep(backoff);
        false
    }
}

/// Accepts peers' connections on `listener` and feeds their messages for `me` to the
/// node. Bytes that do not decode close that connection.
pub fn serve(me: NodeId, listener: TcpListener, events: SyncSender<Event>) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let peer = stream.peer_addr().ok();
        let events = events.clone();
        let spawned = thread::Builder::new()
            .name("from-peer".into())
            .spawn(move || read_peer(me, stream, peer, events));
        if let Err(error) = spawned {
            say(me, &format!("cannot start a peer reader: {error}"));
        }
    }
}

fn read_peer(me: NodeId, stream: TcpStream, peer: Option<SocketAddr>, events: SyncSender<Event>) {
    let _ = stream.set_nodelay(true);
    let mut input = BufReader::with_capacity(256 << 10, stream);
    loop {
        let frame = match read_frame(&mut input, MAX_PEER_FRAME_BYTES) {
            Ok(frame) => frame,
            Err(crate::frame::FrameError::Closed) => return,
            Err(error) => {
                say(me, &format!("peer connection from {peer:?}: {error}"));
                return;
            }
        };
        let message = match Message::from_bytes(&frame) {
            Ok(message) => message,
            Err(error) => {
                say(
                    me,
                    &format!("peer connection from {peer:?}: bad message: {error}"),
                );
                return;
            }
        };
        if message.to() != me {
            continue;
        }
        if events.send(Event::Peer(message)).is_err() {
            return;
        }
    }
}
