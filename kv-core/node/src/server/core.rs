//! The core loop of a node: the one thread that owns the [`KvServer`] and the [`Wal`].
//!
//! Each round takes one event (blocking), then whatever else is already waiting (up to
//! [`MAX_ROUND_EVENTS`]), and steps the server once per event, except that the round's
//! client requests go in as one `Requests` input (one Raft batch). The actions are
//! carried out in order, with sends and replies held back: persist actions go to the
//! WAL as they come; at the end of the round the WAL commits (one write, one fdatasync)
//! and only then do the round's messages and replies leave, in the order they were
//! produced. That is the group commit: every message leaves after everything persisted
//! before it, in its step or an earlier one, is on disk.

use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc::Receiver;

use kv_core::{ClientAddr, KvServer, Reply, Request, ServerAction, ServerInput};
use raft_core::{Message, NodeId, RoleKind, Term};

use super::peers::PeerLink;
use super::{say, ClientLink, Event, NodeError};
use crate::wal::Wal;
use crate::wire::{role_name, ClientFrame, ServerFrame, Status};

/// The most events one round takes.
const MAX_ROUND_EVENTS: usize = 1024;

/// What leaves at the end of a round.
enum Outgoing {
    Peer(Message),
    Reply(ClientAddr, Reply),
    Status(u64),
}

/// The core of a node (see the module docs).
pub struct Core {
    id: NodeId,
    server: KvServer,
    wal: Wal,
    peers: BTreeMap<NodeId, PeerLink>,
    clients: HashMap<u64, ClientLink>,
    outgoing: Vec<Outgoing>,
    requests: Vec<(ClientAddr, Request)>,
    seen: (RoleKind, Term),
}

impl Core {
    /// A core for a restored server and its WAL, sending to `peers`.
    pub fn new(server: KvServer, wal: Wal, peers: BTreeMap<NodeId, PeerLink>) -> Core {
        let seen = (server.node().role(), server.node().term());
        Core {
            id: server.id(),
            server,
            wal,
            peers,
            clients: HashMap::new(),
            outgoing: Vec::new(),
            requests: Vec::new(),
            seen,
        }
    }

    /// Runs rounds until something fails (a node never stops otherwise).
    pub fn run(mut self, inbox: &Receiver<Event>) -> Result<(), NodeError> {
        while let Ok(first) = inbox.recv() {
            self.take(first)?;
            for event in inbox.try_iter().take(MAX_ROUND_EVENTS - 1) {
                self.take(event)?;
            }
            if !self.requests.is_empty() {
                let batch = std::mem::take(&mut self.requests);
                self.step(ServerInput::Requests(batch))?;
            }
            self.wal.commit()?;
            self.check_durable()?;
            self.release();
            self.note_role();
        }
        Ok(())
    }

    fn take(&mut self, event: Event) -> Result<(), NodeError> {
        match event {
            Event::Tick => self.step(ServerInput::Tick),
            Event::Peer(message) => self.step(ServerInput::Raft(message)),
            Event::Client { connection, frame } => {
                match frame {
                    ClientFrame::Request(request) => {
                        self.requests.push((ClientAddr(connection), request));
                    }
                    ClientFrame::Status => self.outgoing.push(Outgoing::Status(connection)),
                }
                Ok(())
            }
            Event::ClientOpened { connection, link } => {
                self.clients.insert(connection, link);
                Ok(())
            }
            Event::ClientClosed { connection } => {
                self.clients.remove(&connection);
                Ok(())
            }
        }
    }

    /// Steps the server and carries out its actions: persists now, the rest at the end
    /// of the round.
    fn step(&mut self, input: ServerInput) -> Result<(), NodeError> {
        for action in self.server.step(input) {
            match action {
                ServerAction::Persist(persist) => self.wal.record(&persist)?,
                ServerAction::Send(message) => self.outgoing.push(Outgoing::Peer(message)),
                ServerAction::Reply { to, reply } => self.outgoing.push(Outgoing::Reply(to, reply)),
                ServerAction::Applied(_) | ServerAction::Transfer(_) => {}
                ServerAction::Halted(error) => return Err(NodeError::Halted(error)),
            }
        }
        Ok(())
    }

    /// Sends what the round produced, now that its persist actions are durable.
    fn release(&mut self) {
        for outgoing in std::mem::take(&mut self.outgoing) {
            match outgoing {
                Outgoing::Peer(message) => {
                    if let Some(link) = self.peers.get(&message.to()) {
                        link.send(&message);
                    }
                }
                Outgoing::Reply(to, reply) => {
                    if let Some(link) = self.clients.get(&to.0) {
                        link.send(ServerFrame::Reply(reply).to_bytes());
                    }
                }
                Outgoing::Status(connection) => {
                    if let Some(link) = self.clients.get(&connection) {
                        link.send(ServerFrame::Status(self.status()).to_bytes());
                    }
                }
            }
        }
    }

    fn status(&self) -> Status {
        let node = self.server.node();
        let stats = self.wal.stats();
        Status {
            id: self.id,
            term: node.term(),
            role: role_name(node.role()).to_string(),
            leader: node.leader_hint(),
            commit_index: node.commit_index(),
            applied_index: self.server.applied_index(),
            digest: self.server.digest().0,
            snapshot_index: node.snapshot_index(),
            last_log_index: node.last_log_index(),
            raft_state_bytes: node.raft_state_size() as u64,
            wal_generation: stats.generation,
            wal_bytes: stats.log_bytes,
            snapshots_written: stats.snapshots,
        }
    }

    /// Checks that the WAL's image agrees with the node on what is durable: the term
    /// and the last index (a disagreement is a bug in this driver or in raft-core).
    fn check_durable(&self) -> Result<(), NodeError> {
        let node = self.server.node();
        let image = self.wal.image();
        if (image.term(), image.last_index()) != (node.term(), node.last_log_index()) {
            return Err(NodeError::Diverged(format!(
                "the WAL holds term {} up to {}, the node is in term {} up to {}",
                image.term(),
                image.last_index(),
                node.term(),
                node.last_log_index()
            )));
        }
        Ok(())
    }

    /// Logs a change of role or term.
    fn note_role(&mut self) {
        let node = self.server.node();
        let now = (node.role(), node.term());
        if now != self.seen {
            self.seen = now;
            let dropped: u64 = self.peers.values().map(PeerLink::dropped).sum();
            say(
                self.id,
                &format!(
                    "{} in term {} (commit {}, last {}, dropped messages so far {dropped})",
                    role_name(now.0),
                    now.1 .0,
                    node.commit_index().0,
                    node.last_log_index().0
                ),
            );
        }
    }
}
