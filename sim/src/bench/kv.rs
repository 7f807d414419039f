//! `raftlab bench --kv`: throughput of the KV service (kv-core on raft-core) with nothing
//! else in the way: servers and clerks in one thread, lockstep rounds, no faults.
//!
//! One round: every server takes the client requests that reached it during the last
//! round, all together as one `ServerInput::Requests` (so a leader proposes them as one
//! batch and asks one read index for their Gets); then Raft messages are delivered, in
//! sub-rounds (every server handles what reached it, in order), until none is in flight;
//! then every clerk handles its replies and, at once, calls its next operation. In a
//! round the leader therefore commits and answers the request of every clerk. Servers
//! persist to the counting disk of the Raft bench. Nothing ticks during the load: a leader
//! answers a client when the entry applies, which needs only the followers'
//! acknowledgements. Wall time is only reported.

use kv_core::{
    ClerkAction, ClerkConfig, ClerkInput, ClientAddr, ClientId, KvConfig, KvServer, Op, Outcome,
    ReadMode, Reply, Request, ServerAction, ServerInput,
};
use raft_core::{Config, Message, NodeId};
use std::sync::Arc;

use super::disk::CountingDisk;

/// What the clerks do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Workload {
    /// Half puts, half gets, over the key space.
    Mixed,
    /// Appends only, over the key space.
    Append,
    /// Gets only, over the key space (every value empty): how fast reads are served.
    Get,
}

/// Key names built ahead of the load (more keys are named as they are used).
const KEY_NAMES_MAX: u64 = 1 << 16;

/// The parameters of a KV bench run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KvBenchParams {
    /// Servers.
    pub servers: usize,
    /// Clerks, each with one call in flight at a time.
    pub clients: usize,
    /// Operations to complete, over all clerks.
    pub ops: u64,
    /// Distinct keys.
    pub keys: u64,
    /// Bytes per written value.
    pub value_bytes: usize,
    /// The mix of operations.
    pub workload: Workload,
    /// How the servers serve Gets.
    pub read_mode: ReadMode,
    /// The servers' `max_raft_state` (snapshots), or none.
    pub max_raft_state: Option<usize>,
    /// Whether the servers report every apply with its digest (`KvConfig`'s
    /// `report_applied`; the bench ignores the reports).
    pub report_applied: bool,
}

/// What a KV bench run counted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KvCounters {
    /// Operations completed.
    pub ops: u64,
    /// Rounds run.
    pub rounds: u64,
    /// Raft messages routed between servers.
    pub raft_messages: u64,
    /// Their encoded size.
    pub raft_bytes: u64,
    /// Client requests and replies.
    pub client_messages: u64,
    /// Their encoded size.
    pub client_bytes: u64,
    /// Bytes the servers persisted.
    pub persisted_bytes: u64,
    /// Snapshots written by the servers (their own and installed ones).
    pub snapshots: u64,
}

/// Servers, clerks and what is in flight between them.
pub struct KvCluster {
    servers: Vec<KvServer>,
    disks: Vec<CountingDisk>,
    clerks: Vec<kv_core::Clerk>,
    /// Per server: Raft messages for the next round.
    raft_inbox: Vec<Vec<Message>>,
    /// Per server: client requests for the next round.
    request_inbox: Vec<Vec<(ClientAddr, Request)>>,
    /// The replies of the round, in the order they were sent: (clerk, sender, reply).
    replies: Vec<(usize, NodeId, Reply)>,
    /// Raft messages sent in the current round.
    raft_out: Vec<Message>,
    /// Per clerk: operations called so far.
    called: Vec<u64>,
    /// The buffers servers and clerks step into, reused from step to step.
    server_actions: Vec<ServerAction>,
    clerk_actions: Vec<ClerkAction>,
    params: KvBenchParams,
    /// `value_bytes` times 'v': the padding of every written value.
    fill: String,
    /// The names of the first keys (all of them up to [`KEY_NAMES_MAX`]), built once and
    /// shared by every operation on them.
    key_names: Vec<Arc<str>>,
    /// The buffer each written value is built in before it is copied into its `Arc`.
    value_scratch: String,
    /// Per clerk: `<c>:`, the start of each value it writes.
    value_prefixes: Vec<String>,
    /// The counters so far.
    pub counters: KvCounters,
}

impl KvCluster {
    /// Fresh servers (ids 1..=servers) and clerks that try server 1 first.
    pub fn new(params: &KvBenchParams) -> Result<KvCluster, String> {
        let ids: Vec<NodeId> = (1..=params.servers as u64).map(NodeId).collect();
        let kv_config = KvConfig::builder()
            .max_raft_state(params.max_raft_state)
            .max_value_bytes(params.value_bytes.max(1))
            .read_mode(params.read_mode)
            .report_applied(params.report_applied)
            .build()
            .map_err(|e| format!("bad kv configuration: {e}"))?;
        let servers = ids
            .iter()
            .map(|&id| {
                let raft = Config::builder(id, ids.iter().copied())
                    .build()
                    .map_err(|e| format!("bad raft configuration: {e}"))?;
                Ok(KvServer::new(kv_config.clone(), raft))
            })
            .collect::<Result<Vec<_>, String>>()?;
        let clerks = (0..params.clients)
            .map(|c| {
                ClerkConfig::builder(ClientId(c as u64 + 1), ids.iter().copied())
                    .build()
                    .map(kv_core::Clerk::new)
                    .map_err(|e| format!("bad clerk configuration: {e}"))
            })
            .collect::<Result<Vec<_>, String>>()?;
        let (servers_n, clients_n) = (servers.len(), clerks.len());
        Ok(KvCluster {
            servers,
            disks: vec![CountingDisk::default(); servers_n],
            clerks,
            raft_inbox: vec![Vec::new(); servers_n],
            request_inbox: vec![Vec::new(); servers_n],
            replies: Vec::with_capacity(clients_n),
            raft_out: Vec::new(),
            called: vec![0; clients_n],
            server_actions: Vec::new(),
            clerk_actions: Vec::new(),
            params: params.clone(),
            fill: "v".repeat(params.value_bytes),
            key_names: (0..params.keys.min(KEY_NAMES_MAX))
                .map(|k| key_name(k).into())
                .collect(),
            value_scratch: String::with_capacity(params.value_bytes.max(24)),
            value_prefixes: (0..clients_n).map(|c| format!("{c}:")).collect(),
            counters: KvCounters::default(),
        })
    }

    /// Ticks server 1 until it leads and the cluster is quiet.
    pub fn elect_first(&mut self, max_ticks: u32) -> Result<(), String> {
        for _ in 0..max_ticks {
            self.step_server(0, ServerInput::Tick)?;
            while !self.raft_out.is_empty() || self.raft_inbox.iter().any(|i| !i.is_empty()) {
                self.route_raft();
                self.servers_round()?;
            }
            if self.servers[0].node().is_leader() {
                self.counters = KvCounters::default();
                return Ok(());
            }
        }
        Err(format!(
            "server 1 did not win an election in {max_ticks} ticks"
        ))
    }

    /// The load: every clerk calls, and calls again as soon as its call is done, until
    /// `ops` operations completed. Fails after `max_idle_rounds` rounds without progress.
    pub fn run_load(&mut self, max_idle_rounds: u64) -> Result<(), String> {
        for c in 0..self.clerks.len() {
            self.call_next(c)?;
        }
        let mut idle = 0;
        while self.counters.ops < self.params.ops {
            let before = self.counters.ops;
            self.round()?;
            idle = if self.counters.ops == before {
                idle + 1
            } else {
                0
            };
            if idle > max_idle_rounds {
                return Err(format!(
                    "no operation completed in {max_idle_rounds} rounds ({} done)",
                    self.counters.ops
                ));
            }
        }
        self.check_agreement()
    }

    /// One round: every server takes the client requests that reached it as one batch;
    /// then Raft messages are delivered, sub-round after sub-round, until none is in
    /// flight (the leader has committed and answered what it could); then the clerks.
    fn round(&mut self) -> Result<(), String> {
        self.counters.rounds += 1;
        self.requests_round()?;
        while !self.raft_out.is_empty() {
            self.route_raft();
            self.raft_round()?;
        }
        self.clerks_round()
    }

    fn route_raft(&mut self) {
        for message in self.raft_out.drain(..) {
            let to = (message.to().0 as usize).wrapping_sub(1);
            if let Some(inbox) = self.raft_inbox.get_mut(to) {
                inbox.push(message);
            }
        }
    }

    /// Every server handles its Raft messages, then its client requests.
    fn servers_round(&mut self) -> Result<(), String> {
        self.raft_round()?;
        self.requests_round()
    }

    /// Every server handles the Raft messages delivered to it, in order.
    fn raft_round(&mut self) -> Result<(), String> {
        for s in 0..self.servers.len() {
            // Inboxes keep their capacity from round to round.
            let mut messages = std::mem::take(&mut self.raft_inbox[s]);
            for message in messages.drain(..) {
                self.step_server(s, ServerInput::Raft(message))?;
            }
            self.raft_inbox[s] = messages;
        }
        Ok(())
    }

    /// Every server handles the client requests that reached it, as one batch.
    fn requests_round(&mut self) -> Result<(), String> {
        for s in 0..self.servers.len() {
            if !self.request_inbox[s].is_empty() {
                // Room for a request of every clerk: the inbox never grows during a round.
                let capacity = self.clerks.len();
                let requests =
                    std::mem::replace(&mut self.request_inbox[s], Vec::with_capacity(capacity));
                self.step_server(s, ServerInput::Requests(requests))?;
            }
        }
        Ok(())
    }

    fn step_server(&mut self, s: usize, input: ServerInput) -> Result<(), String> {
        let mut actions = std::mem::take(&mut self.server_actions);
        self.servers[s].step_into(input, &mut actions);
        let done = self.carry_out_server(s, &mut actions);
        actions.clear();
        self.server_actions = actions;
        done
    }

    fn carry_out_server(
        &mut self,
        s: usize,
        actions: &mut Vec<ServerAction>,
    ) -> Result<(), String> {
        for action in actions.drain(..) {
            match action {
                ServerAction::Persist(persist) => {
                    if matches!(persist, raft_core::PersistAction::Snapshot { .. }) {
                        self.counters.snapshots += 1;
                    }
                    self.counters.persisted_bytes += self.disks[s].write(&persist)?;
                }
                ServerAction::Send(message) => {
                    self.counters.raft_messages += 1;
                    self.counters.raft_bytes += message.encoded_len_bytes() as u64;
                    self.raft_out.push(message);
                }
                ServerAction::Reply { to, reply } => {
                    self.counters.client_messages += 1;
                    self.counters.client_bytes += reply.encoded_len() as u64;
                    let from = self.servers[s].id();
                    let c = to.0 as usize;
                    if c >= self.clerks.len() {
                        return Err(format!("a reply to unknown clerk {c}"));
                    }
                    self.replies.push((c, from, reply));
                }
                ServerAction::Applied(_) | ServerAction::Transfer(_) => {}
                ServerAction::Halted(error) => return Err(format!("server {s} halted: {error}")),
            }
        }
        Ok(())
    }

    /// Every reply of the round reaches its clerk, in the order the replies were sent.
    fn clerks_round(&mut self) -> Result<(), String> {
        // The buffer keeps its capacity from round to round.
        let mut replies = std::mem::take(&mut self.replies);
        for (c, from, reply) in replies.drain(..) {
            if let Outcome::Refused(refusal) = &reply.outcome {
                return Err(format!("clerk {c} was refused: {refusal}"));
            }
            let finished = self.step_clerk(c, ClerkInput::Reply { from, reply })?;
            if finished && self.counters.ops < self.params.ops {
                self.call_next(c)?;
            }
        }
        self.replies = replies;
        Ok(())
    }

    /// Steps clerk `c` and carries out its actions; returns whether a call finished.
    fn step_clerk(&mut self, c: usize, input: ClerkInput) -> Result<bool, String> {
        let mut actions = std::mem::take(&mut self.clerk_actions);
        self.clerks[c].step_into(input, &mut actions);
        let finished = self.carry_out(c, &mut actions);
        actions.clear();
        self.clerk_actions = actions;
        finished
    }

    /// Carries out a clerk's actions; returns whether a call finished.
    fn carry_out(&mut self, c: usize, actions: &mut Vec<ClerkAction>) -> Result<bool, String> {
        let mut finished = false;
        for action in actions.drain(..) {
            match action {
                ClerkAction::Send { to, request } => {
                    self.counters.client_messages += 1;
                    self.counters.client_bytes += request.encoded_len() as u64;
                    let s = (to.0 as usize).wrapping_sub(1);
                    match self.request_inbox.get_mut(s) {
                        Some(inbox) => inbox.push((ClientAddr(c as u64), request)),
                        None => return Err(format!("clerk {c} sends to unknown server {to}")),
                    }
                }
                ClerkAction::Done(completion) => {
                    if let Err(refusal) = completion.result {
                        return Err(format!("clerk {c} was refused: {refusal}"));
                    }
                    self.counters.ops += 1;
                    finished = true;
                }
            }
        }
        Ok(finished)
    }

    fn call_next(&mut self, c: usize) -> Result<(), String> {
        let n = self.called[c];
        self.called[c] += 1;
        let op = self.op(c, n);
        self.step_clerk(c, ClerkInput::Call(op)).map(drop)
    }

    /// Clerk `c`'s `n`-th operation: its key and value follow from (c, n), so runs repeat.
    /// Key `k<i>`; the value `<c>:<n>:` padded with `v` to `value_bytes`.
    fn op(&mut self, c: usize, n: u64) -> Op {
        let mixed = (c as u64)
            .wrapping_mul(0x9e37_79b9)
            .wrapping_add(n.wrapping_mul(7919));
        let k = mixed % self.params.keys.max(1);
        let key = match self.key_names.get(k as usize) {
            Some(name) => Arc::clone(name),
            None => key_name(k).into(),
        };
        let writes = match self.params.workload {
            Workload::Append => true,
            Workload::Mixed => n % 2 == 0,
            Workload::Get => false,
        };
        if !writes {
            return Op::Get { key };
        }
        let len = self.params.value_bytes;
        let value = &mut self.value_scratch;
        value.clear();
        value.push_str(&self.value_prefixes[c]);
        push_decimal(value, n);
        value.push(':');
        let fill = len.saturating_sub(value.len());
        value.push_str(&self.fill[..fill]);
        value.truncate(len);
        let value = Arc::from(value.as_str());
        match self.params.workload {
            Workload::Append => Op::Append { key, value },
            _ => Op::Put { key, value },
        }
    }

    /// Servers that applied the same index hold the same state (the leader's against
    /// any follower that got as far).
    fn check_agreement(&self) -> Result<(), String> {
        let leader = &self.servers[0];
        for (s, server) in self.servers.iter().enumerate().skip(1) {
            if server.applied_index() == leader.applied_index()
                && server.digest() != leader.digest()
            {
                return Err(format!(
                    "server {s} and the leader differ at the same index"
                ));
            }
        }
        Ok(())
    }
}

/// Key `k<k>`.
fn key_name(k: u64) -> String {
    let mut key = String::with_capacity(8);
    key.push('k');
    push_decimal(&mut key, k);
    key
}

/// Appends `n` in decimal (what `format!("{n}")` writes, without the formatting machinery).
fn push_decimal(text: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // ASCII digits, so always UTF-8; pushed as one slice.
    if let Ok(digits) = std::str::from_utf8(&digits[start..]) {
        text.push_str(digits);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(workload: Workload, report_applied: bool) -> KvBenchParams {
        KvBenchParams {
            servers: 3,
            clients: 8,
            ops: 4_000,
            keys: 50,
            value_bytes: 64,
            workload,
            read_mode: ReadMode::ReadIndex,
            max_raft_state: Some(16 << 10),
            report_applied,
        }
    }

    fn run(params: &KvBenchParams) -> KvCluster {
        let mut cluster = KvCluster::new(params).expect("valid parameters");
        cluster.elect_first(1_000).expect("an election");
        cluster.run_load(100).expect("no violation");
        cluster
    }

    #[test]
    fn every_round_answers_every_clerk() {
        for workload in [Workload::Mixed, Workload::Get, Workload::Append] {
            let cluster = run(&params(workload, false));
            let counters = &cluster.counters;
            assert_eq!(counters.ops, 4_000);
            assert_eq!(counters.rounds, 4_000 / 8, "{workload:?}");
            // A request and its answer per operation, no retry in a fault-free run; and
            // the requests of the calls still open when the count was reached.
            let messages = counters.client_messages;
            assert!(
                (8_000..8_008).contains(&messages),
                "{workload:?}: {messages}"
            );
            if workload != Workload::Get {
                assert!(counters.snapshots > 0, "{workload:?}");
            }
        }
    }

    #[test]
    fn servers_without_reports_reach_the_same_states() {
        let quiet = run(&params(Workload::Append, false));
        let reporting = run(&params(Workload::Append, true));
        for (a, b) in quiet.servers.iter().zip(&reporting.servers) {
            assert_eq!(a.applied_index(), b.applied_index());
            assert_eq!(a.digest(), b.digest());
            assert_eq!(a.applied_value("k7"), b.applied_value("k7"));
        }
        assert!(quiet.servers[0]
            .applied_value("k7")
            .is_some_and(|v| v.len() > 64));
    }

    #[test]
    fn decimals_are_written_as_format_writes_them() {
        for n in [0, 7, 10, 99, 12_345, u64::MAX] {
            let mut text = String::from("k");
            push_decimal(&mut text, n);
            assert_eq!(text, format!("k{n}"));
            assert_eq!(key_name(n), text);
        }
    }
}
