//! Runs one scenario under one seed: builds the world, starts the cluster as the lab's
//! make_config does, drives the scenario's tasks and the event queue, and reports.

use std::cell::RefCell;
use std::rc::Rc;

use crate::executor::Executor;
use crate::network::NetworkConfig;
use crate::rng::Stream;
use crate::scenarios::Scenario;
use crate::tester::{TestResult, Tester};
use crate::world::{Millis, RaftSetup, World};

/// The lab's per-test limit, in simulated ms.
pub const SIM_LIMIT_MS: Millis = 120_000;

/// What one run of one scenario produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunReport {
    /// The scenario id.
    pub id: &'static str,
    /// The lab part, e.g. `2C`.
    pub part: String,
    /// The seed.
    pub seed: u64,
    /// Whether every assertion and checker held.
    pub ok: bool,
    /// The first failure.
    pub error: Option<String>,
    /// The determinism fingerprint.
    pub trace_hash: u64,
    /// Simulated time, summed over cluster sizes.
    pub sim_ms: Millis,
    /// Servers (of the largest cluster run).
    pub peers: usize,
    /// Requests delivered.
    pub rpcs: u64,
    /// Encoded bytes of requests and replies.
    pub bytes: u64,
    /// Agreements (the lab's maxIndex growth).
    pub commits: u64,
    /// The largest persisted raft state seen.
    pub max_raft_state: usize,
    /// Elections started (steps that sent real RequestVotes).
    pub elections: u64,
    /// Terms that had a leader.
    pub leaders: u64,
    /// Messages sent (requests and replies).
    pub messages: u64,
    /// The most messages sent within one simulated second.
    pub peak_messages_per_s: u64,
    /// Events run.
    pub events: u64,
    /// The largest persisted snapshot seen (KV scenarios).
    pub max_snapshot: usize,
    /// The largest encoded Raft message sent (the world fails a run past the limit).
    pub max_message: usize,
    /// InstallSnapshot chunks sent.
    pub snapshot_chunks: u64,
    /// Client operations completed (KV scenarios).
    pub ops: u64,
    /// Search steps the linearizability checker spent on the history (KV scenarios).
    pub linearizability_steps: u64,
    /// Trace lines (only when asked for).
    pub trace: Vec<String>,
    /// The clients' history of a KV scenario (only when the trace is asked for).
    pub kv_history: Vec<crate::kv::RecordedOp>,
}

/// Runs `scenario` under `seed`, recording the trace lines if `record_trace`.
pub fn run(scenario: &Scenario, seed: u64, record_trace: bool) -> RunReport {
    run_with(scenario, seed, record_trace, &RaftSetup::default())
}

/// [`run`] with the nodes set up as `setup` says (the catalog uses the default; test-hooks
/// builds plant bugs this way).
pub fn run_with(
    scenario: &Scenario,
    seed: u64,
    record_trace: bool,
    setup: &RaftSetup,
) -> RunReport {
    let mut report = RunReport {
        id: scenario.id,
        part: scenario.part.to_string(),
        seed,
        ok: true,
        error: None,
        trace_hash: 0,
        sim_ms: 0,
        peers: 0,
        rpcs: 0,
        bytes: 0,
        commits: 0,
        max_raft_state: 0,
        elections: 0,
        leaders: 0,
        messages: 0,
        peak_messages_per_s: 0,
        events: 0,
        max_snapshot: 0,
        max_message: 0,
        snapshot_chunks: 0,
        ops: 0,
        linearizability_steps: 0,
        trace: Vec::new(),
        kv_history: Vec::new(),
    };
    let mut hash: u64 = 0;
    for &servers in scenario.servers {
        let label = format!("{}-{servers}", scenario.id);
        let world_seed = Stream::new(seed, &label).next_u64();
        let (mut result, world) = run_cluster(scenario, servers, world_seed, record_trace, setup);
        if scenario.kv.is_some() {
            report.ops += world.kv.history.completed();
            if result.is_ok() {
                match crate::kv::check_linearizable(world.kv.history.ops()) {
                    Ok(steps) => report.linearizability_steps += steps,
                    Err(failure) => result = Err(crate::tester::Failure(failure)),
                }
            }
        }
        hash = hash.rotate_left(17) ^ world.trace.hash();
        report.sim_ms += world.now();
        report.peers = report.peers.max(servers);
        report.rpcs += world.stats.rpcs;
        report.bytes += world.stats.bytes;
        report.commits += world.applier.max_index();
        report.max_raft_state = report.max_raft_state.max(world.stats.max_raft_state);
        report.elections += world.stats.elections;
        report.leaders += world.leaders_elected() as u64;
        report.messages += world.stats.messages_sent;
        report.peak_messages_per_s = report
            .peak_messages_per_s
            .max(world.usage.peak_messages_per_second);
        report.events += world.usage.events;
        report.max_snapshot = report.max_snapshot.max(world.stats.max_snapshot);
        report.max_message = report.max_message.max(world.stats.max_message);
        report.snapshot_chunks += world.stats.snapshot_chunks;
        report.trace.extend(world.trace.lines().iter().cloned());
        if record_trace {
            report.kv_history.extend_from_slice(world.kv.history.ops());
        }
        let result = result.and_then(|()| {
            crate::checkers::efficiency::check_run(&world, servers).map_err(crate::tester::Failure)
        });
        if let Err(failure) = result {
            report.ok = false;
            report.error = Some(format!("{servers} servers: {failure}"));
            break;
        }
    }
    report.trace_hash = hash;
    report
}

fn run_cluster(
    scenario: &Scenario,
    servers: usize,
    seed: u64,
    record_trace: bool,
    setup: &RaftSetup,
) -> (TestResult, World) {
    let network = NetworkConfig {
        unreliable: scenario.unreliable,
        ..NetworkConfig::default()
    };
    let mut world = World::new(
        servers,
        seed,
        setup.clone(),
        network,
        scenario.snapshots,
        record_trace,
    );
    if let Some(kv) = scenario.kv {
        match kv_config(kv) {
            Ok(config) => world.set_service(crate::world::Service::Kv(config)),
            Err(e) => world.fail(format!("bad kv setup: {e}")),
        }
    }
    let world = Rc::new(RefCell::new(world));
    let mut executor = Executor::new();
    let tester = Tester::new(
        Rc::clone(&world),
        executor.spawner(),
        Stream::new(seed, "scenario"),
    );
    for i in 0..servers {
        tester.start1(i);
    }
    for i in 0..servers {
        tester.connect(i);
    }
    let outcome: Rc<RefCell<Option<TestResult>>> = Rc::new(RefCell::new(None));
    let slot = Rc::clone(&outcome);
    let body = (scenario.body)(tester.clone());
    tester.spawn(async move {
        let result = body.await;
        *slot.borrow_mut() = Some(result);
    });
    let result = loop {
        executor.run_ready();
        if let Some(failure) = world.borrow().failure() {
            break Err(crate::tester::Failure(failure.to_string()));
        }
        if let Some(result) = outcome.borrow_mut().take() {
            break result;
        }
        let mut world = world.borrow_mut();
        if world.now() > SIM_LIMIT_MS {
            break Err(crate::tester::Failure(format!(
                "test took longer than {} s of simulated time",
                SIM_LIMIT_MS / 1000
            )));
        }
        if !world.run_next_event() {
            break Err(crate::tester::Failure(
                "no event left while the scenario waits".into(),
            ));
        }
    };
    drop(executor);
    drop(tester);
    (result, take_world(world))
}

/// The world back from the tasks that shared it.
fn take_world(world: Rc<RefCell<World>>) -> World {
    match Rc::try_unwrap(world) {
        Ok(cell) => cell.into_inner(),
        Err(shared) => {
            // A task still holds the world (it was stopped mid-way); take a snapshot of it.
            let mut world = shared.borrow_mut();
            let empty = World::new(
                0,
                0,
                RaftSetup::default(),
                NetworkConfig::default(),
                false,
                false,
            );
            std::mem::replace(&mut *world, empty)
        }
    }
}

/// The KV servers' configuration of a scenario.
fn kv_config(
    setup: crate::scenarios::KvSetup,
) -> Result<kv_core::KvConfig, kv_core::KvConfigError> {
    let builder = kv_core::KvConfig::builder()
        .max_raft_state(setup.max_raft_state)
        .read_mode(setup.read_mode);
    #[cfg(feature = "test-hooks")]
    let builder = builder.local_reads_bug(setup.local_reads_bug);
    builder.build()
}
