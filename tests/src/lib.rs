//! Shared helpers for raftlab's integration suites: running catalog scenarios under many
//! seeds, and driving bare raft-core nodes by hand to build histories for the checkers.

use std::collections::VecDeque;

use raft_core::bytes::Bytes;
use raft_core::{Action, Config, Input, Node, NodeId};

/// Runs scenario `id` under every seed in `seeds`, failing with the replay command of the
/// first failing seed.
pub fn assert_scenario(id: &str, seeds: impl IntoIterator<Item = u64>) {
    let scenario = sim::find(id).unwrap_or_else(|| panic!("no scenario `{id}` in the catalog"));
    for seed in seeds {
        let report = sim::run(&scenario, seed, false);
        assert!(
            report.ok,
            "{id} seed {seed} failed: {}\n  replay: cargo run --release -- replay {id} --seed {seed}",
            report.error.as_deref().unwrap_or("?")
        );
        assert!(report.sim_ms <= sim::runner::SIM_LIMIT_MS * scenario.servers.len() as u64);
    }
}

/// A cluster of bare nodes with instant, lossless delivery, driven by hand.
pub struct HandCluster {
    /// The nodes, node id i + 1 at position i.
    pub nodes: Vec<Node>,
    inbox: VecDeque<raft_core::Message>,
}

impl HandCluster {
    /// `size` fresh nodes with pre-vote off and seeds 1..=size.
    pub fn new(size: u64) -> HandCluster {
        let ids: Vec<NodeId> = (1..=size).map(NodeId).collect();
        let nodes = ids
            .iter()
            .map(|&id| {
                let config = Config::builder(id, ids.iter().copied()).seed(id.0).build();
                Node::new(config.expect("valid config"))
            })
            .collect();
        HandCluster {
            nodes,
            inbox: VecDeque::new(),
        }
    }

    fn absorb(&mut self, actions: Vec<Action>) {
        for action in actions {
            if let Action::Send(message) = action {
                self.inbox.push_back(message);
            }
        }
    }

    /// Delivers every queued message (and what they cause) until quiet.
    pub fn settle(&mut self) {
        while let Some(message) = self.inbox.pop_front() {
            let to = (message.to().0 - 1) as usize;
            let actions = self.nodes[to].step(Input::Message(message));
            self.absorb(actions);
        }
    }

    /// Ticks node `id` until it leads, delivering everything in between.
    pub fn elect(&mut self, id: u64) {
        let at = (id - 1) as usize;
        for _ in 0..10_000 {
            if self.nodes[at].is_leader() {
                return;
            }
            let actions = self.nodes[at].step(Input::Tick);
            self.absorb(actions);
            self.settle();
        }
        panic!("node {id} did not become leader");
    }

    /// Proposes `command` at node `id` and delivers until quiet.
    pub fn propose(&mut self, id: u64, command: &str) {
        let at = (id - 1) as usize;
        let actions = self.nodes[at].step(Input::Propose(Bytes::from(command.to_string())));
        self.absorb(actions);
        self.settle();
    }

    /// Ticks leader `id` through one heartbeat interval, so followers learn its commit index.
    pub fn heartbeat(&mut self, id: u64) {
        let at = (id - 1) as usize;
        for _ in 0..self.nodes[at].config().heartbeat_interval_ticks() {
            let actions = self.nodes[at].step(Input::Tick);
            self.absorb(actions);
            self.settle();
        }
    }
}
