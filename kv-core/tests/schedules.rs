//! Servers and clerks in simulated time under seeded faults: loss, duplication,
//! reordering, partitions, crashes (some in the middle of a step) and restarts from the
//! persisted state, with and without snapshots. After the faults end, every call must
//! complete; the histories must show exactly-once effects in each client's order and
//! Gets that read exactly the writes before them; servers must agree on the digest at
//! every applied index (checked on every step) and converge.
//!
//! Also the shapes of the lab's special KV tests: concurrent appends to one key, a
//! minority partition that must not make progress and must finish after the heal, and
//! 1000 sequential appends at most 33.3 ms each (simulated time).

mod cluster;

use std::collections::BTreeMap;

use cluster::world::{check_client_appends, Net, Workload, World};
use cluster::Cluster;
use kv_core::KvConfig;
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, RngAlgorithm, TestRng, TestRunner};

/// One randomized run.
#[derive(Clone, Debug)]
struct Spec {
    seed: u64,
    servers: usize,
    clerks: usize,
    ops_per_clerk: usize,
    unreliable: bool,
    crashes: bool,
    partitions: bool,
    max_raft_state: Option<usize>,
    fault_ms: u64,
}

impl Spec {
    fn new(seed: u64) -> Spec {
        Spec {
            seed,
            servers: 5,
            clerks: 5,
            ops_per_clerk: 100_000,
            unreliable: false,
            crashes: false,
            partitions: false,
            max_raft_state: None,
            fault_ms: 5_000,
        }
    }
}

fn kv_config(max_raft_state: Option<usize>) -> KvConfig {
    KvConfig::builder()
        .max_raft_state(max_raft_state)
        .build()
        .expect("valid kv config")
}

fn world(spec: &Spec) -> World {
    let cluster = Cluster::new(
        spec.servers,
        spec.seed,
        kv_config(spec.max_raft_state),
        |b| b,
    );
    let net = if spec.unreliable {
        Net::UNRELIABLE
    } else {
        Net::RELIABLE
    };
    World::new(cluster, spec.seed, net)
}

/// The value of `key` at a running server (all have converged when this is called).
fn value_at_any(world: &World, key: &str) -> String {
    let live = world.cluster.live();
    let server = world.cluster.server(live[0]);
    server.applied_value(key).unwrap_or_default().to_string()
}

/// Runs the faults of `spec`, then heals everything and checks the run.
fn run(spec: &Spec) -> World {
    let mut world = world(spec);
    for c in 0..spec.clerks {
        world.add_clerk(Workload::OwnKey { key: c.to_string() }, spec.ops_per_clerk);
    }
    world.start_clerks();
    let mut elapsed = 0;
    while elapsed < spec.fault_ms {
        let pause = 100 + world.below(900);
        world.run_for(pause);
        elapsed += pause;
        if spec.partitions && world.below(2) == 0 {
            world.random_partition();
        }
        if spec.crashes && world.below(2) == 0 {
            crash_or_restart(&mut world, spec.servers);
        }
    }
    world.stop_clerks();
    heal_and_finish(&mut world, spec);
    world
}

/// Crashes a random server (a third of the time in the middle of its next step) or
/// restarts a crashed one; restarts when a majority is already down.
fn crash_or_restart(world: &mut World, servers: usize) {
    let down: Vec<usize> = (0..servers).filter(|&i| !world.cluster.is_up(i)).collect();
    let i = if down.len() > (servers - 1) / 2 {
        down[world.below(down.len() as u64) as usize]
    } else {
        world.below(servers as u64) as usize
    };
    if !world.cluster.is_up(i) {
        world
            .cluster
            .restart(i)
            .expect("a server restarts from its own disk");
    } else if world.below(3) == 0 {
        let keep = world.below(6) as usize;
        world.cluster.crash_mid_next_step(i, keep);
    } else {
        world.cluster.crash(i);
    }
}

fn heal_and_finish(world: &mut World, spec: &Spec) -> BTreeMap<String, String> {
    world.heal();
    world.net = Net::RELIABLE;
    for i in 0..spec.servers {
        if !world.cluster.is_up(i) {
            world
                .cluster
                .restart(i)
                .expect("a server restarts from its own disk");
        }
    }
    let finished = world.run_until(120_000, World::clerks_done);
    assert!(
        finished,
        "{spec:?}: calls still open 120 s after the faults ended"
    );
    let values = world.read_all(10_000);
    // Late copies of old requests (long network delays) may still add entries: wait
    // until every server applied the same prefix.
    world.run_for(100);
    world.run_until(5_000, |world| world.cluster.converged());
    let report: Vec<_> = world
        .cluster
        .live()
        .into_iter()
        .map(|i| {
            let server = world.cluster.server(i);
            (
                i,
                server.applied_index(),
                server.node().commit_index(),
                server.node().last_log_index(),
                server.node().snapshot_index(),
                server.node().term(),
                server.node().role(),
                server.halted().cloned(),
            )
        })
        .collect();
    assert!(
        world.cluster.converged(),
        "{spec:?}: servers did not converge: {report:?}"
    );
    assert!(
        world.cluster.halts.is_empty(),
        "{spec:?}: {:?}",
        world.cluster.halts
    );
    world.check_histories(|key| values[key].clone());
    if std::env::var_os("KV_STATS").is_some() {
        eprintln!(
            "{spec:?}: {} calls, {} ms, {} messages, {} steps, {} snapshots, raft state <= {} B, snapshot <= {} B",
            world.completed_calls(),
            world.now(),
            world.messages,
            world.cluster.steps,
            world.cluster.snapshots_persisted,
            world.cluster.max_raft_state_seen,
            world.cluster.max_snapshot_seen
        );
    }
    for (key, value) in &values {
        assert_eq!(
            &value_at_any(world, key),
            value,
            "a server's state agrees with the reads"
        );
    }
    values
}

#[test]
fn reliable_many_clients() {
    for seed in 0..8 {
        run(&Spec::new(seed));
    }
}

#[test]
fn unreliable_many_clients() {
    for seed in 0..8 {
        run(&Spec {
            unreliable: true,
            ..Spec::new(seed)
        });
    }
}

#[test]
fn partitions_many_clients() {
    for seed in 0..8 {
        run(&Spec {
            partitions: true,
            ..Spec::new(seed)
        });
    }
}

#[test]
fn unreliable_partitions_many_clients() {
    for seed in 0..8 {
        run(&Spec {
            unreliable: true,
            partitions: true,
            ..Spec::new(seed)
        });
    }
}

#[test]
fn crashes_many_clients() {
    for seed in 0..8 {
        run(&Spec {
            crashes: true,
            ..Spec::new(seed)
        });
    }
}

#[test]
fn unreliable_crashes_partitions() {
    for seed in 0..8 {
        run(&Spec {
            unreliable: true,
            crashes: true,
            partitions: true,
            ..Spec::new(seed)
        });
    }
}

#[test]
fn snapshots_unreliable_crashes_partitions() {
    for seed in 0..8 {
        let world = run(&Spec {
            unreliable: true,
            crashes: true,
            partitions: true,
            max_raft_state: Some(1000),
            ..Spec::new(seed)
        });
        assert!(world.cluster.max_raft_state_seen <= 2000);
    }
}

#[test]
fn snapshots_crashes_twenty_clients() {
    for seed in 0..2 {
        let world = run(&Spec {
            clerks: 20,
            crashes: true,
            max_raft_state: Some(1000),
            ..Spec::new(seed)
        });
        assert!(world.cluster.max_raft_state_seen <= 2000);
    }
}

#[test]
fn seven_servers_fifteen_clients_everything() {
    run(&Spec {
        servers: 7,
        clerks: 15,
        unreliable: true,
        crashes: true,
        partitions: true,
        max_raft_state: Some(1000),
        ..Spec::new(11)
    });
}

#[test]
fn concurrent_appends_to_one_key_unreliable() {
    // The lab's TestUnreliableOneKey3A: 3 servers, 5 clients × 10 appends to "k".
    for seed in 0..8 {
        let spec = Spec {
            servers: 3,
            unreliable: true,
            ..Spec::new(seed)
        };
        let mut world = world(&spec);
        for _ in 0..5 {
            world.add_clerk(Workload::SharedKey { key: "k".into() }, 10);
        }
        world.start_clerks();
        let values = heal_and_finish(&mut world, &spec);
        let value = &values["k"];
        for c in 0..5 {
            check_client_appends(value, c, 10);
        }
        assert_eq!(value.matches('x').count(), 50);
    }
}

#[test]
fn a_minority_makes_no_progress_and_finishes_after_the_heal() {
    // The lab's TestOnePartition3A: the leader and one more server in the minority, two
    // clerks reaching only them; both calls finish within 3 s of the heal.
    for seed in 0..8 {
        let spec = Spec {
            clerks: 0,
            ..Spec::new(seed)
        };
        let mut world = world(&spec);
        let tester = world.add_clerk(Workload::OwnKey { key: "1".into() }, 1);
        world.start_clerks();
        assert!(world.run_until(5_000, World::clerks_done));
        let leader = world.cluster.leader().expect("a leader");
        let others: Vec<usize> = (0..5).filter(|&i| i != leader).collect();
        let majority = others[..3].to_vec();
        let minority = vec![others[3], leader];
        world.partition(&[majority.clone(), minority.clone()]);
        let put = world.add_clerk(Workload::OwnKey { key: "p".into() }, 1);
        let get = world.add_clerk(Workload::OwnKey { key: "g".into() }, 1);
        for c in [put, get] {
            world.connect_clerk(c, &minority);
        }
        world.start_clerks();
        world.run_for(1_000);
        assert!(
            world.calls(put)[0].done.is_none(),
            "a Put completed in the minority"
        );
        assert!(
            world.calls(get)[0].done.is_none(),
            "a Get completed in the minority"
        );
        // The majority makes progress meanwhile.
        let majority_clerk = world.add_clerk(Workload::OwnKey { key: "m".into() }, 3);
        world.connect_clerk(majority_clerk, &majority);
        world.start_clerks();
        assert!(world.run_until(3_000, |w| w
            .calls(majority_clerk)
            .iter()
            .all(|c| c.done.is_some())
            && w.calls(majority_clerk).len() == 3));
        world.heal();
        for c in [put, get] {
            world.connect_clerk(c, &(0..5).collect::<Vec<_>>());
        }
        let healed = world.now();
        let finished = world.run_until(3_000, World::clerks_done);
        assert!(
            finished,
            "seed {seed}: put/get did not complete within 3 s after the heal"
        );
        assert!(world.now() - healed <= 3_000);
        world.run_for(500);
        world.check_histories(|key| value_at_any(&world, key));
        let _ = tester;
    }
}

#[test]
fn a_thousand_sequential_appends_take_at_most_a_third_of_a_heartbeat_each() {
    // The lab's TestSpeed3A / 3B, in simulated time (the heartbeat is 100 ms).
    for max_raft_state in [None, Some(1000)] {
        let spec = Spec {
            servers: 3,
            clerks: 0,
            max_raft_state,
            ..Spec::new(5)
        };
        let mut world = world(&spec);
        let warm_up = world.add_clerk(Workload::OwnKey { key: "w".into() }, 1);
        world.start_clerks();
        assert!(world.run_until(5_000, World::clerks_done));
        let _ = warm_up;
        let appender = world.add_clerk(Workload::SharedKey { key: "x".into() }, 1000);
        let start = world.now();
        world.start_clerks();
        assert!(world.run_until(60_000, World::clerks_done));
        let per_op = (world.now() - start) as f64 / 1000.0;
        assert!(
            per_op <= 100.0 / 3.0,
            "{per_op} ms per append ({max_raft_state:?})"
        );
        world.run_for(500);
        check_client_appends(&value_at_any(&world, "x"), appender, 1000);
    }
}

/// A random fault schedule: (seed, servers, unreliable, snapshots, fault steps).
fn schedule() -> impl Strategy<Value = (u64, usize, bool, bool, Vec<Fault>)> {
    (
        any::<u64>(),
        prop_oneof![Just(3usize), Just(5)],
        any::<bool>(),
        any::<bool>(),
        proptest::collection::vec(fault(), 1..20),
    )
}

#[derive(Clone, Debug)]
enum Fault {
    Wait(u64),
    Crash(usize),
    CrashMidStep { server: usize, keep: usize },
    Restart(usize),
    Partition(u8),
    Heal,
}

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        4 => (10..1500u64).prop_map(Fault::Wait),
        2 => (0..5usize).prop_map(Fault::Crash),
        1 => (0..5usize, 0..8usize).prop_map(|(server, keep)| Fault::CrashMidStep { server, keep }),
        2 => (0..5usize).prop_map(Fault::Restart),
        1 => any::<u8>().prop_map(Fault::Partition),
        1 => Just(Fault::Heal),
    ]
}

fn run_schedule(
    (seed, servers, unreliable, snapshots, faults): &(u64, usize, bool, bool, Vec<Fault>),
) {
    let spec = Spec {
        servers: *servers,
        clerks: 3,
        ops_per_clerk: 15,
        unreliable: *unreliable,
        max_raft_state: snapshots.then_some(1000),
        ..Spec::new(*seed)
    };
    let mut world = world(&spec);
    for c in 0..spec.clerks {
        world.add_clerk(Workload::OwnKey { key: c.to_string() }, spec.ops_per_clerk);
    }
    world.add_clerk(
        Workload::SharedKey {
            key: "shared".into(),
        },
        10,
    );
    world.add_clerk(
        Workload::SharedKey {
            key: "shared".into(),
        },
        10,
    );
    world.start_clerks();
    for fault in faults {
        match *fault {
            Fault::Wait(ms) => world.run_for(ms),
            Fault::Crash(i) if i < *servers => world.cluster.crash(i),
            Fault::CrashMidStep { server, keep }
                if server < *servers && world.cluster.is_up(server) =>
            {
                world.cluster.crash_mid_next_step(server, keep);
            }
            Fault::Restart(i) if i < *servers && !world.cluster.is_up(i) => {
                world
                    .cluster
                    .restart(i)
                    .expect("restarts from its own disk");
            }
            Fault::Partition(mask) => {
                let (a, b): (Vec<usize>, Vec<usize>) =
                    (0..*servers).partition(|&i| mask & (1 << i) != 0);
                world.partition(&[a, b]);
            }
            Fault::Heal => world.heal(),
            _ => {}
        }
    }
    let values = heal_and_finish(&mut world, &spec);
    for c in [spec.clerks, spec.clerks + 1] {
        check_client_appends(&values["shared"], c, 10);
    }
}

#[test]
fn random_fault_schedules() {
    let config = ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[21; 32]);
    let mut runner = TestRunner::new_with_rng(config, rng);
    let outcome = runner.run(&schedule(), |schedule| {
        let result = std::panic::catch_unwind(|| run_schedule(&schedule));
        prop_assert!(result.is_ok(), "schedule failed: {schedule:?}");
        Ok(())
    });
    if let Err(error) = outcome {
        panic!("{error}");
    }
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let spec = Spec {
        unreliable: true,
        crashes: true,
        partitions: true,
        max_raft_state: Some(1000),
        ..Spec::new(77)
    };
    let fingerprint = |world: &World| {
        let digests: Vec<_> = world
            .cluster
            .live()
            .into_iter()
            .map(|i| {
                (
                    world.cluster.server(i).applied_index(),
                    world.cluster.server(i).digest(),
                )
            })
            .collect();
        (
            world.completed_calls(),
            world.messages,
            world.cluster.steps,
            world.now(),
            digests,
        )
    };
    let first = fingerprint(&run(&spec));
    let second = fingerprint(&run(&spec));
    assert_eq!(first, second);
    let other = fingerprint(&run(&Spec::new(78)));
    assert_ne!(first, other, "a different seed gives a different run");
}
