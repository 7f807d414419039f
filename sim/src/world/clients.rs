//! The clerks a world hosts beside its servers: each a `kv_core::Clerk` with its own links
//! to the servers, its finished calls, and the waker of the scenario task awaiting them.
//!
//! As in the lab, a clerk's links are its own: server partitions never cut them; a
//! scenario enables or disables them per server (`make_client(to)`, `ConnectClient`).

use std::collections::VecDeque;
use std::task::Waker;

use kv_core::{Clerk, ClerkAction, ClerkConfig, ClerkInput, ClientId, Completion, Op};
use raft_core::NodeId;

use super::{server_index, Endpoint, EventKind};
use crate::rng::Stream;

/// Ticks a clerk waits for an answer before it tries the next server (100 ms at the
/// simulator's 10 ms ticks: the lab's clerks move on after an RPC to a dead or cut-off
/// server fails, within 0–99 ms).
pub const CLERK_RETRY_TICKS: u32 = 10;

/// One clerk of the world.
#[derive(Debug)]
pub struct ClientSlot {
    /// The clerk, or `None` once the scenario deleted it.
    pub clerk: Option<Clerk>,
    /// Per server: whether the clerk's link to it is enabled.
    pub links: Vec<bool>,
    /// Calls finished and not yet collected by the scenario, in order.
    pub done: VecDeque<Completion>,
    /// The task waiting for the next finished call.
    pub waiter: Option<Waker>,
}

impl ClientSlot {
    /// A clerk linked to the servers whose entries in `links` are set.
    pub fn new(clerk: Clerk, links: Vec<bool>) -> ClientSlot {
        ClientSlot {
            clerk: Some(clerk),
            links,
            done: VecDeque::new(),
            waiter: None,
        }
    }

    /// Records a finished call and wakes whoever waits for it.
    pub fn finish(&mut self, completion: Completion) {
        self.done.push_back(completion);
        if let Some(waiter) = self.waiter.take() {
            waiter.wake();
        }
    }
}

impl super::World {
    /// The lab's makeClient(to): a fresh clerk (a client id never used before) whose
    /// server list is shuffled, linked only to the servers in `to`. Returns its position.
    pub fn add_client(&mut self, to: &[usize]) -> usize {
        let c = self.clients.len();
        let mut order: Vec<NodeId> = (0..self.servers.len())
            .map(|s| NodeId(s as u64 + 1))
            .collect();
        let mut rng = Stream::new(self.seed, &format!("clerk-{c}"));
        for i in (1..order.len()).rev() {
            order.swap(i, rng.index(i + 1));
        }
        let config = ClerkConfig::builder(ClientId(c as u64 + 1), order)
            .retry_timeout_ticks(CLERK_RETRY_TICKS)
            .build();
        let clerk = match config {
            Ok(config) => Clerk::new(config),
            Err(e) => {
                self.fail(format!("bad clerk setup: {e}"));
                return c;
            }
        };
        let links = (0..self.servers.len()).map(|s| to.contains(&s)).collect();
        self.clients.push(ClientSlot::new(clerk, links));
        let now = self.now;
        self.trace.mix(&[now, c as u64, 20]);
        self.trace
            .line(|| format!("{now:>8} c{c} new clerk, linked to {to:?}"));
        let phase = rng.below(self.setup.tick_ms);
        self.push(
            now + 1 + phase,
            EventKind::Tick {
                at: Endpoint::Client(c),
                incarnation: 0,
            },
        );
        c
    }

    /// The lab's deleteClient: the clerk stops; anything still addressed to it is lost.
    pub fn remove_client(&mut self, c: usize) {
        self.clients[c].clerk = None;
        self.clients[c].waiter = None;
    }

    /// Enables or disables clerk `c`'s link to server `s` (ConnectClient, DisconnectClient).
    pub fn set_client_link(&mut self, c: usize, s: usize, enabled: bool) {
        self.clients[c].links[s] = enabled;
        let now = self.now;
        self.trace
            .mix(&[now, c as u64, 21, s as u64, u64::from(enabled)]);
    }

    /// The number of clerks ever created.
    pub fn client_count(&self) -> usize {
        self.clients.len()
    }

    /// The clerk at position `c`, if it was not deleted.
    pub fn clerk(&self, c: usize) -> Option<&Clerk> {
        self.clients[c].clerk.as_ref()
    }

    /// Starts a call on clerk `c` (it queues behind a call in flight).
    pub fn client_call(&mut self, c: usize, op: Op) {
        self.step_client(c, ClerkInput::Call(op));
    }

    /// The next finished call of clerk `c`, if any; otherwise `waker` is woken when one
    /// finishes.
    pub fn poll_completion(&mut self, c: usize, waker: &Waker) -> Option<Completion> {
        let slot = &mut self.clients[c];
        match slot.done.pop_front() {
            Some(completion) => Some(completion),
            None => {
                slot.waiter = Some(waker.clone());
                None
            }
        }
    }

    /// Steps clerk `c` with `input` and carries out its actions.
    pub(super) fn step_client(&mut self, c: usize, input: ClerkInput) {
        let Some(clerk) = self.clients[c].clerk.as_mut() else {
            return;
        };
        let is_tick = matches!(input, ClerkInput::Tick);
        let now = self.now;
        if !is_tick {
            self.trace.mix(&[now, c as u64, 22]);
        }
        let described = (self.trace.is_recording() && !is_tick).then(|| format!("{input:?}"));
        let actions = clerk.step(input);
        if let Some(described) = described {
            self.trace.line(|| format!("{now:>8} c{c} < {described}"));
        }
        for action in actions {
            match action {
                ClerkAction::Send { to, request } => {
                    self.trace
                        .line(|| format!("{now:>8} c{c} > send {:?} to {to}", request.op));
                    let bytes = request.to_bytes();
                    self.trace.mix_bytes(&bytes);
                    match server_index(to, self.servers.len()) {
                        Some(s) => {
                            self.transmit(Endpoint::Client(c), Endpoint::Server(s), false, bytes)
                        }
                        None => self.fail(format!("clerk {c} sends to unknown server {to}")),
                    }
                }
                ClerkAction::Done(completion) => {
                    self.trace
                        .line(|| format!("{now:>8} c{c} > done {completion:?}"));
                    self.trace.mix(&[23, completion.seq.0]);
                    self.clients[c].finish(completion);
                }
            }
        }
    }
}
