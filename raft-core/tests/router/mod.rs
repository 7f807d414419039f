//! A tiny in-test router: N nodes, the persisted image of each, a message queue, and the
//! checks every step runs (persist-before-send, apply order, election safety, state
//! machine safety, persisted image agreeing with the node, one answer per read and read
//! freshness).
//!
//! Node ids in this module are plain `u64`s (`1..=n`) to keep the tests short. Run a test
//! with `ROUTER_TRACE=1` to print every input and action.
#![allow(dead_code)] // each test crate uses a different part of the shared module

pub mod build;
pub mod schedule;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use raft_core::bytes::Bytes;
use raft_core::{
    Action, Apply, Body, Config, ConfigBuilder, Entry, Input, LogIndex, Message, Node, NodeId,
    PersistAction, PersistedState, ProposeError, Proposed, ReadError, RoleKind, SnapshotError,
    Term, TransferError,
};

/// The ids `1..=n`.
pub fn ids(n: u64) -> Vec<NodeId> {
    (1..=n).map(NodeId).collect()
}

/// The default configuration of node `id` in a cluster of `n`, seeded with its id.
pub fn config(id: u64, n: u64) -> Config {
    Config::builder(NodeId(id), ids(n))
        .seed(id)
        .build()
        .expect("valid config")
}

/// How many messages `deliver_all` delivers before it calls the cluster livelocked.
const DELIVERY_LIMIT: usize = 200_000;
/// How many rounds `tick_all_until` runs before it gives up.
const ROUND_LIMIT: usize = 20_000;

/// One thing a service was handed: an entry (of an [`Apply::Entries`] run) or a snapshot.
#[derive(Clone, Debug, PartialEq)]
pub enum Applied {
    /// A committed entry.
    Entry(Entry),
    /// A snapshot from the leader.
    Snapshot {
        /// Its last index.
        index: LogIndex,
        /// That entry's term.
        term: Term,
        /// Its bytes.
        data: Bytes,
    },
}

/// An entry some service applied.
struct Chosen {
    term: Term,
    data: Bytes,
    /// A term at or after the one the entry was committed in.
    committed_by: Term,
}

/// A cluster of nodes wired through an in-memory, lossless (unless cut), FIFO network.
pub struct Router {
    configs: BTreeMap<u64, Config>,
    nodes: BTreeMap<u64, Node>,
    persisted: BTreeMap<u64, PersistedState>,
    /// Every persist action each node emitted, in order (across restarts).
    pub persist_log: BTreeMap<u64, Vec<PersistAction>>,
    queue: VecDeque<Message>,
    /// Directed links (from, to) that drop every message.
    cut: BTreeSet<(u64, u64)>,
    /// Everything each node's service was handed, in order (across restarts).
    pub applied: BTreeMap<u64, Vec<Applied>>,
    /// The last index each node's service holds.
    service_index: BTreeMap<u64, LogIndex>,
    /// The commit index each live node reported last (never goes back while it runs).
    last_commit: BTreeMap<u64, LogIndex>,
    /// What was applied at each index by anyone (state machine safety), and the lowest
    /// term of a node applying it, at or after the term it was committed in.
    chosen: BTreeMap<LogIndex, Chosen>,
    /// The leader of each term seen: election safety.
    leaders: BTreeMap<Term, u64>,
    /// Every message handed to a node, in order.
    pub delivered: Vec<Message>,
    /// Reads asked and not answered yet, by (node, context): the highest index known
    /// committed anywhere when each was asked (its read index must be at least that).
    pending_reads: BTreeMap<(u64, u64), LogIndex>,
    /// Every read answer, in order: (node, context, outcome).
    pub reads: Vec<(u64, u64, Result<LogIndex, ReadError>)>,
}

impl Router {
    /// `n` fresh nodes with the default configuration.
    pub fn new(n: u64) -> Router {
        Router::with_configs((1..=n).map(|id| config(id, n)).collect())
    }

    /// `n` fresh nodes whose configuration `adjust` tunes (the seed is the id).
    pub fn with_builder(n: u64, adjust: impl Fn(ConfigBuilder) -> ConfigBuilder) -> Router {
        let configs = (1..=n)
            .map(|id| {
                adjust(Config::builder(NodeId(id), ids(n)).seed(id))
                    .build()
                    .expect("valid config")
            })
            .collect();
        Router::with_configs(configs)
    }

    /// Fresh nodes with the given configurations.
    pub fn with_configs(configs: Vec<Config>) -> Router {
        let states = configs.iter().map(|_| PersistedState::new()).collect();
        Router::from_states(configs, states)
    }

    /// Nodes restored from the given persisted states (the default configuration).
    pub fn restored(states: Vec<PersistedState>) -> Router {
        let n = states.len() as u64;
        Router::from_states((1..=n).map(|id| config(id, n)).collect(), states)
    }

    /// Nodes restored from the given configurations and persisted states.
    pub fn from_states(configs: Vec<Config>, states: Vec<PersistedState>) -> Router {
        let mut router = Router {
            configs: BTreeMap::new(),
            nodes: BTreeMap::new(),
            persisted: BTreeMap::new(),
            persist_log: BTreeMap::new(),
            queue: VecDeque::new(),
            cut: BTreeSet::new(),
            applied: BTreeMap::new(),
            service_index: BTreeMap::new(),
            last_commit: BTreeMap::new(),
            chosen: BTreeMap::new(),
            leaders: BTreeMap::new(),
            delivered: Vec::new(),
            pending_reads: BTreeMap::new(),
            reads: Vec::new(),
        };
        for (config, state) in configs.into_iter().zip(states) {
            let id = config.id().0;
            router.configs.insert(id, config);
            router.persisted.insert(id, state);
            router.persist_log.insert(id, Vec::new());
            router.applied.insert(id, Vec::new());
            router.restart(id);
        }
        router
    }

    /// All node ids, live or crashed.
    pub fn ids(&self) -> Vec<u64> {
        self.configs.keys().copied().collect()
    }

    /// The configuration of node `id`.
    pub fn config(&self, id: u64) -> &Config {
        &self.configs[&id]
    }

    /// The live node `id`.
    pub fn node(&self, id: u64) -> &Node {
        self.nodes
            .get(&id)
            .unwrap_or_else(|| panic!("n{id} is not running"))
    }

    /// Whether node `id` is running.
    pub fn is_up(&self, id: u64) -> bool {
        self.nodes.contains_key(&id)
    }

    /// What node `id` has persisted.
    pub fn persisted(&self, id: u64) -> &PersistedState {
        &self.persisted[&id]
    }

    /// The messages in flight, oldest first.
    pub fn queue(&self) -> &VecDeque<Message> {
        &self.queue
    }

    /// Puts a message in flight (e.g. a forged or replayed one).
    pub fn inject(&mut self, message: Message) {
        self.queue.push_back(message);
    }

    /// Removes every message in flight and returns them.
    pub fn take_queue(&mut self) -> Vec<Message> {
        self.queue.drain(..).collect()
    }

    /// The commands node `id`'s service was handed as entries, in order.
    pub fn applied_data(&self, id: u64) -> Vec<Bytes> {
        self.applied[&id]
            .iter()
            .filter_map(|apply| match apply {
                Applied::Entry(entry) => Some(entry.data().clone()),
                Applied::Snapshot { .. } => None,
            })
            .collect()
    }

    /// The last index node `id`'s service holds.
    pub fn service_index(&self, id: u64) -> LogIndex {
        self.service_index[&id]
    }

    /// The unique live leader of the highest term, if any.
    pub fn leader(&self) -> Option<u64> {
        self.nodes
            .values()
            .filter(|node| node.is_leader())
            .max_by_key(|node| node.term())
            .map(|node| node.id().0)
    }

    /// Feeds one input to node `id`, checks and carries out the actions, returns them.
    pub fn step(&mut self, id: u64, input: Input) -> Vec<Action> {
        assert!(
            self.nodes.contains_key(&id),
            "stepping n{id}, which is not running"
        );
        let trace = std::env::var_os("ROUTER_TRACE").is_some();
        if trace {
            eprintln!("n{id} <- {}", describe(&input));
        }
        if let Input::ReadIndex { context } = input {
            let floor = self.known_committed();
            let earlier = self.pending_reads.insert((id, context), floor);
            assert!(earlier.is_none(), "read {context} asked twice at n{id}");
        }
        let node = self.nodes.get_mut(&id).expect("checked above");
        let actions = node.step(input);
        if trace {
            for action in &actions {
                eprintln!("n{id}    {action}");
            }
        }
        self.carry_out(id, &actions);
        self.check_node(id);
        actions
    }

    /// One tick of node `id`.
    pub fn tick(&mut self, id: u64) -> Vec<Action> {
        self.step(id, Input::Tick)
    }

    /// Ticks node `id` alone (delivering nothing) until it starts an election; returns
    /// the number of ticks it took.
    pub fn tick_until_campaign(&mut self, id: u64) -> u32 {
        let term = self.node(id).term();
        let limit = self.configs[&id].election_timeout_ticks_max();
        for ticks in 1..=limit {
            self.tick(id);
            if self.node(id).term() > term {
                return ticks;
            }
        }
        panic!("n{id} did not campaign within its largest election timeout");
    }

    /// Makes node `id` campaign (after a pre-vote, if configured) and delivers
    /// everything; asserts it won.
    pub fn elect(&mut self, id: u64) {
        if self.configs[&id].pre_vote() {
            let limit = self.configs[&id].election_timeout_ticks_max();
            for _ in 0..limit {
                self.tick(id);
                if self.node(id).role() != RoleKind::Follower {
                    break;
                }
            }
        } else {
            self.tick_until_campaign(id);
        }
        self.deliver_all();
        assert!(
            self.node(id).is_leader(),
            "n{id} should have won its election"
        );
    }

    /// Ticks every live node once, then delivers everything, until `done` holds.
    /// Returns the number of rounds.
    pub fn tick_all_until(&mut self, mut done: impl FnMut(&Router) -> bool) -> usize {
        for round in 0..ROUND_LIMIT {
            if done(self) {
                return round;
            }
            for id in self.live_ids() {
                self.tick(id);
            }
            self.deliver_all();
        }
        panic!("condition not reached within {ROUND_LIMIT} rounds");
    }

    /// Ticks every live node `rounds` times, delivering everything after each round.
    pub fn tick_all(&mut self, rounds: usize) {
        for _ in 0..rounds {
            for id in self.live_ids() {
                self.tick(id);
            }
            self.deliver_all();
        }
    }

    /// Delivers the oldest message in flight (or drops it on a cut link or a crashed
    /// receiver). Returns false when nothing was in flight.
    pub fn deliver_one(&mut self) -> bool {
        let Some(message) = self.queue.pop_front() else {
            return false;
        };
        self.deliver(message);
        true
    }

    /// Delivers messages (and the messages they cause) until none is in flight.
    pub fn deliver_all(&mut self) {
        for _ in 0..DELIVERY_LIMIT {
            if !self.deliver_one() {
                return;
            }
        }
        panic!("still delivering after {DELIVERY_LIMIT} messages: livelock");
    }

    /// Delivers the messages in flight now, oldest first; the messages they cause stay
    /// in flight (one network hop). Returns how many were delivered.
    pub fn deliver_in_flight(&mut self) -> usize {
        let in_flight: Vec<Message> = self.queue.drain(..).collect();
        let count = in_flight.len();
        for message in in_flight {
            self.deliver(message);
        }
        count
    }

    /// Delivers, in order, the messages in flight that match `pick`; the others stay.
    pub fn deliver_where(&mut self, mut pick: impl FnMut(&Message) -> bool) {
        let (picked, kept): (Vec<Message>, Vec<Message>) =
            self.queue.drain(..).partition(&mut pick);
        self.queue.extend(kept);
        for message in picked {
            self.deliver(message);
        }
    }

    /// Drops the messages in flight that match `pick`; returns how many.
    pub fn drop_where(&mut self, mut pick: impl FnMut(&Message) -> bool) -> usize {
        let before = self.queue.len();
        self.queue.retain(|message| !pick(message));
        before - self.queue.len()
    }

    fn deliver(&mut self, message: Message) {
        let (from, to) = (message.from().0, message.to().0);
        if self.cut.contains(&(from, to)) || !self.nodes.contains_key(&to) {
            return;
        }
        // Every message crosses the wire in its encoded form.
        let decoded = Message::from_bytes(&message.to_bytes()).expect("a sent message decodes");
        assert_eq!(decoded, message, "the codec round-trips every sent message");
        self.delivered.push(message.clone());
        let is_request = !message.is_reply();
        let actions = self.step(to, Input::Message(decoded));
        if is_request {
            check_at_most_one_reply(&message, &actions);
        }
    }

    /// Cuts both directions between `id` and every other node.
    pub fn isolate(&mut self, id: u64) {
        for other in self.ids() {
            if other != id {
                self.cut.insert((id, other));
                self.cut.insert((other, id));
            }
        }
    }

    /// Cuts the link from `from` to `to` (one way).
    pub fn cut(&mut self, from: u64, to: u64) {
        self.cut.insert((from, to));
    }

    /// Cuts every link between nodes of different groups; unlisted nodes are isolated.
    pub fn partition(&mut self, groups: &[&[u64]]) {
        let group_of = |id: u64| groups.iter().position(|group| group.contains(&id));
        for from in self.ids() {
            for to in self.ids() {
                if from != to && (group_of(from).is_none() || group_of(from) != group_of(to)) {
                    self.cut.insert((from, to));
                }
            }
        }
    }

    /// Restores every link.
    pub fn heal(&mut self) {
        self.cut.clear();
    }

    /// Node `id` loses its volatile state; what it persisted stays (its reads are lost).
    pub fn crash(&mut self, id: u64) {
        assert!(self.nodes.remove(&id).is_some(), "n{id} was not running");
        self.last_commit.remove(&id);
        self.pending_reads.retain(|&(node, _), _| node != id);
    }

    /// The highest index known committed anywhere: any live node's commit index, or any
    /// index some service applied.
    pub fn known_committed(&self) -> LogIndex {
        let applied = self.chosen.keys().next_back().copied().unwrap_or_default();
        let commits = self.nodes.values().map(Node::commit_index);
        commits.chain([applied]).max().unwrap_or_default()
    }

    /// Asks node `id` for a read tagged `context`; returns the read answers of the step
    /// (of this read or of others).
    pub fn read(&mut self, id: u64, context: u64) -> Vec<(u64, Result<LogIndex, ReadError>)> {
        let actions = self.step(id, Input::ReadIndex { context });
        read_outcomes(&actions)
    }

    /// The answer node `id` gave to read `context`, if it answered.
    pub fn read_answer(&self, id: u64, context: u64) -> Option<Result<LogIndex, ReadError>> {
        self.reads
            .iter()
            .find(|(node, c, _)| *node == id && *c == context)
            .map(|(_, _, outcome)| *outcome)
    }

    /// Asks leader `id` to transfer its leadership to `target`; returns the answer.
    pub fn transfer(&mut self, id: u64, target: u64) -> Result<NodeId, TransferError> {
        let actions = self.step(
            id,
            Input::TransferLeadership {
                target: NodeId(target),
            },
        );
        let outcomes: Vec<_> = actions
            .iter()
            .filter_map(|action| match action {
                Action::Transfer(outcome) => Some(*outcome),
                _ => None,
            })
            .collect();
        assert_eq!(outcomes.len(), 1, "one answer per transfer: {actions:?}");
        outcomes[0]
    }

    /// Node `id` restarts from what it persisted; its service restores its snapshot.
    pub fn restart(&mut self, id: u64) {
        let config = self.configs[&id].clone();
        let persisted = &self.persisted[&id];
        let node = Node::restore(config, persisted).expect("a persisted image restores");
        node.check_invariants()
            .expect("a restored node is consistent");
        assert_eq!(node.commit_index(), persisted.snapshot_index());
        assert_eq!(node.applied_index(), persisted.snapshot_index());
        assert_eq!(node.role(), RoleKind::Follower);
        self.service_index.insert(id, persisted.snapshot_index());
        self.last_commit.insert(id, node.commit_index());
        self.nodes.insert(id, node);
    }

    /// Proposes `data` at node `id` and returns the answer.
    pub fn propose(&mut self, id: u64, data: impl Into<Bytes>) -> Result<Proposed, ProposeError> {
        let actions = self.step(id, Input::Propose(data.into()));
        proposal_outcome(&actions)
    }

    /// Hands node `id` a service snapshot up to `index` and returns the answer.
    pub fn snapshot(&mut self, id: u64, index: u64) -> Result<LogIndex, SnapshotError> {
        let data = Bytes::from(format!("snapshot of n{id} up to {index}"));
        let actions = self.step(
            id,
            Input::Snapshot {
                index: LogIndex(index),
                data,
            },
        );
        let outcomes: Vec<_> = actions
            .iter()
            .filter_map(|action| match action {
                Action::Snapshot(outcome) => Some(*outcome),
                _ => None,
            })
            .collect();
        assert_eq!(outcomes.len(), 1, "one answer per snapshot: {actions:?}");
        outcomes[0]
    }

    fn live_ids(&self) -> Vec<u64> {
        self.nodes.keys().copied().collect()
    }

    /// Carries out the actions in order, checking each against the durable state so far.
    fn carry_out(&mut self, id: u64, actions: &[Action]) {
        for action in actions {
            match action {
                Action::Persist(change) => {
                    let persisted = self.persisted.get_mut(&id).expect("known node");
                    persisted.apply(change).expect("a persist action applies");
                    assert_eq!(
                        persisted.raft_state_size(),
                        persisted.encode_raft_state().len(),
                        "raft_state_size tracks the encoding"
                    );
                    self.persist_log.entry(id).or_default().push(change.clone());
                }
                Action::Send(message) => {
                    check_send_is_durable(id, &self.persisted[&id], message);
                    self.queue.push_back(message.clone());
                }
                Action::Apply(apply) => self.check_apply(id, apply),
                Action::Read { context, outcome } => self.check_read(id, *context, *outcome),
                Action::Proposal(_) | Action::Snapshot(_) | Action::Transfer(_) => {}
            }
        }
    }

    /// A read is answered once; a read index is committed at the leader and at least
    /// what was known committed anywhere when the read was asked.
    fn check_read(&mut self, id: u64, context: u64, outcome: Result<LogIndex, ReadError>) {
        let floor = self
            .pending_reads
            .remove(&(id, context))
            .unwrap_or_else(|| panic!("n{id} answered read {context}, not asked or answered"));
        if let Ok(index) = outcome {
            let node = &self.nodes[&id];
            assert!(node.is_leader(), "n{id} answered a read without leading");
            assert!(index <= node.commit_index(), "read index past the commit");
            assert!(
                index >= floor,
                "n{id} read {context} at {index}, but {floor} was committed before it was asked"
            );
        }
        self.reads.push((id, context, outcome));
    }

    fn check_apply(&mut self, id: u64, apply: &Apply) {
        match apply {
            Apply::Entries(entries) => {
                for entry in entries {
                    self.check_apply_entry(id, entry);
                }
            }
            Apply::Snapshot { index, term, data } => {
                let service = self.service_index.get_mut(&id).expect("known node");
                assert!(
                    *index > *service,
                    "n{id} installs snapshot {index} while holding {service}"
                );
                *service = *index;
                assert_eq!(self.persisted[&id].snapshot_index(), *index);
                if let Some(chosen) = self.chosen.get(index) {
                    assert_eq!(chosen.term, *term, "snapshot disagrees with a chosen entry");
                }
                let applied = Applied::Snapshot {
                    index: *index,
                    term: *term,
                    data: data.clone(),
                };
                self.applied.entry(id).or_default().push(applied);
            }
        }
    }

    fn check_apply_entry(&mut self, id: u64, entry: &Entry) {
        let service = self.service_index.get_mut(&id).expect("known node");
        {
            {
                assert_eq!(
                    entry.index(),
                    service.next(),
                    "n{id} applies entries in order, without gaps"
                );
                *service = entry.index();
                let held = self.persisted[&id]
                    .entries()
                    .iter()
                    .find(|e| e.index() == entry.index());
                assert_eq!(held, Some(entry), "n{id} applies only persisted entries");
                let term_now = self.nodes[&id].term();
                let chosen = self.chosen.entry(entry.index()).or_insert(Chosen {
                    term: entry.term(),
                    data: entry.data().clone(),
                    committed_by: term_now,
                });
                assert_eq!(
                    (chosen.term, &chosen.data),
                    (entry.term(), entry.data()),
                    "state machine safety broken at {}",
                    entry.index()
                );
                chosen.committed_by = chosen.committed_by.min(term_now);
            }
        }
        let applied = Applied::Entry(entry.clone());
        self.applied.entry(id).or_default().push(applied);
    }

    /// After every step: the node is consistent and agrees with its persisted image.
    fn check_node(&mut self, id: u64) {
        let node = &self.nodes[&id];
        let persisted = &self.persisted[&id];
        if let Err(violation) = node.check_invariants() {
            panic!("n{id}: {violation}");
        }
        assert_eq!(node.term(), persisted.term(), "n{id} term is durable");
        assert_eq!(
            node.voted_for(),
            persisted.voted_for(),
            "n{id} vote is durable"
        );
        assert_eq!(node.last_log_index(), persisted.last_index());
        assert_eq!(node.snapshot_index(), persisted.snapshot_index());
        assert_eq!(node.raft_state_size(), persisted.raft_state_size());
        if let Some(last) = persisted.entries().back() {
            assert_eq!(node.entry(last.index()), Some(last));
        }
        assert_eq!(node.applied_index(), self.service_index[&id]);
        let commit = node.commit_index();
        let previous = self.last_commit.insert(id, commit).unwrap_or_default();
        assert!(commit >= previous, "n{id} commit went back");
        if node.is_leader() {
            let leader = *self.leaders.entry(node.term()).or_insert(id);
            assert_eq!(leader, id, "two leaders in {}", node.term());
            // Leader completeness: an entry committed in an earlier term is in our log.
            let held = self.chosen.range(node.snapshot_index().next()..);
            for (index, chosen) in held.filter(|(_, c)| c.committed_by < node.term()) {
                assert_eq!(
                    node.term_at(*index),
                    Some(chosen.term),
                    "leader n{id} lacks entry {index} committed by {}",
                    chosen.committed_by
                );
            }
        }
    }
}

/// A one-line rendering of an input, for `ROUTER_TRACE=1` runs.
fn describe(input: &Input) -> String {
    match input {
        Input::Tick => "tick".into(),
        Input::Message(message) => message.summary(),
        other => format!("{other:?}"),
    }
}

/// The read answers among `actions`: (context, outcome).
pub fn read_outcomes(actions: &[Action]) -> Vec<(u64, Result<LogIndex, ReadError>)> {
    actions
        .iter()
        .filter_map(|action| match action {
            Action::Read { context, outcome } => Some((*context, *outcome)),
            _ => None,
        })
        .collect()
}

/// The answer to the proposal among `actions`; exactly one must be there.
pub fn proposal_outcome(actions: &[Action]) -> Result<Proposed, ProposeError> {
    let outcomes: Vec<_> = actions
        .iter()
        .filter_map(|action| match action {
            Action::Proposal(outcome) => Some(*outcome),
            _ => None,
        })
        .collect();
    assert_eq!(outcomes.len(), 1, "one answer per proposal: {actions:?}");
    outcomes[0]
}

/// The contract request/response runtimes rely on: stepping a request yields at most one
/// reply, addressed to the request's sender.
fn check_at_most_one_reply(request: &Message, actions: &[Action]) {
    let replies: Vec<&Message> = actions
        .iter()
        .filter_map(|action| match action {
            Action::Send(message) if message.is_reply() => Some(message),
            _ => None,
        })
        .collect();
    assert!(
        replies.len() <= 1,
        "one request, {} replies: {actions:?}",
        replies.len()
    );
    if let Some(reply) = replies.first() {
        assert_eq!(reply.to(), request.from(), "a reply goes to the requester");
    }
}

/// Checks that what a message claims is already durable on its sender.
fn check_send_is_durable(id: u64, persisted: &PersistedState, message: &Message) {
    assert_eq!(message.from().0, id, "n{id} sends as itself");
    match message.body() {
        // A pre-vote speaks of the term the candidate would campaign in.
        Some(Body::RequestVote(request)) if request.is_pre_vote() => {
            assert_eq!(
                message.term(),
                persisted.term().next(),
                "n{id} pre-vote term"
            );
        }
        Some(Body::RequestVoteReply(reply)) if reply.is_pre_vote() && reply.granted() => {
            assert!(
                message.term() > persisted.term(),
                "n{id} granted a stale pre-vote"
            );
        }
        _ => assert_eq!(
            message.term(),
            persisted.term(),
            "n{id} sent a message in a term it had not persisted"
        ),
    }
    let holds = |index: u64, term: u64| {
        let index = LogIndex(index);
        (index == persisted.snapshot_index() && Term(term) == persisted.snapshot_term())
            || (index < persisted.snapshot_index())
            || persisted
                .entries()
                .iter()
                .any(|e| e.index() == index && e.term() == Term(term))
    };
    match message.body() {
        Some(Body::RequestVote(request)) if !request.is_pre_vote() => {
            assert_eq!(
                persisted.voted_for(),
                Some(NodeId(id)),
                "candidate vote durable"
            );
        }
        Some(Body::RequestVoteReply(reply)) if reply.granted() && !reply.is_pre_vote() => {
            assert_eq!(
                persisted.voted_for(),
                Some(message.to()),
                "n{id} granted a vote it had not persisted"
            );
        }
        Some(Body::AppendEntries(append)) => {
            for entry in append.entries() {
                assert!(
                    holds(entry.index().0, entry.term().0),
                    "n{id} sent entry {} it had not persisted",
                    entry.index().0
                );
            }
        }
        Some(Body::AppendEntriesReply(reply)) if reply.is_success() => {
            assert!(
                persisted.last_index() >= reply.match_index(),
                "n{id} acknowledged {} before persisting it",
                reply.match_index()
            );
        }
        Some(Body::InstallSnapshot(snapshot)) => {
            assert!(holds(
                snapshot.last_included_index().0,
                snapshot.last_included_term().0
            ));
        }
        _ => {}
    }
}
