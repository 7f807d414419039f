//! Client connections of a node: a listener, and per connection a reader that feeds
//! decoded frames to the node and a writer with a bounded queue of replies.
//!
//! Each connection gets a number, which is the [`kv_core::ClientAddr`] the server
//! answers to. A reply that finds its connection's queue full is dropped (the clerk
//! retries after its timeout); a connection that sends bytes that do not decode is
//! closed.

use std::io::{BufReader, BufWriter, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::mpsc::{Receiver, SyncSender};
use std::thread;

use raft_core::NodeId;

use super::{say, Event};
use crate::frame::{read_frame, write_frame, MAX_CLIENT_FRAME_BYTES};
use crate::wire::ClientFrame;

/// The most replies queued for one connection.
const QUEUE_REPLIES: usize = 1024;

/// The node's handle on one client connection: where its replies go.
#[derive(Debug)]
pub struct ClientLink {
    replies: SyncSender<Vec<u8>>,
}

impl ClientLink {
    /// Queues a frame for the client, or drops it if the queue is full or the
    /// connection is gone.
    pub fn send(&self, frame: Vec<u8>) {
        let _dropped_if_full = self.replies.try_send(frame);
    }
}

/// Accepts client connections on `listener`, numbering them from 1.
pub fn serve(me: NodeId, listener: TcpListener, events: SyncSender<Event>) {
    let mut next_connection = 1u64;
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let connection = next_connection;
        next_connection += 1;
        if let Err(error) = open(connection, stream, &events) {
            say(me, &format!("client connection {connection}: {error}"));
        }
    }
}

fn open(connection: u64, stream: TcpStream, events: &SyncSender<Event>) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let writer_stream = stream.try_clone()?;
    let (replies, queue) = std::sync::mpsc::sync_channel(QUEUE_REPLIES);
    let link = ClientLink { replies };
    if events
        .send(Event::ClientOpened { connection, link })
        .is_err()
    {
        return Ok(());
    }
    thread::Builder::new()
        .name(format!("client-{connection}-out"))
        .spawn(move || write_replies(writer_stream, queue))?;
    let events = events.clone();
    thread::Builder::new()
        .name(format!("client-{connection}-in"))
        .spawn(move || read_requests(connection, stream, events))?;
    Ok(())
}

fn read_requests(connection: u64, stream: TcpStream, events: SyncSender<Event>) {
    let mut input = BufReader::new(&stream);
    // A closed or failed stream, a frame over the limit or bytes that do not decode end
    // the connection.
    while let Ok(frame) = read_frame(&mut input, MAX_CLIENT_FRAME_BYTES) {
        let Ok(frame) = ClientFrame::from_bytes(&frame) else {
            break;
        };
        if events.send(Event::Client { connection, frame }).is_err() {
            break;
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
    let _ = events.send(Event::ClientClosed { connection });
}

fn write_replies(stream: TcpStream, queue: Receiver<Vec<u8>>) {
    let mut out = BufWriter::new(&stream);
    while let Ok(frame) = queue.recv() {
        let mut written = write_frame(&mut out, &frame);
        while written.is_ok() {
            match queue.try_recv() {
                Ok(frame) => written = write_frame(&mut out, &frame),
                Err(_) => break,
            }
        }
        if written.and_then(|()| out.flush()).is_err() {
            break;
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
}
