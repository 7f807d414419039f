//! Criterion benches of raft-core's hot paths and of the simulator (`cargo bench -p sim`).
//! Not part of CI; sample sizes are small so that the whole run takes a couple of
//! minutes. The throughput of a whole cluster is `raftlab bench`.
//!
//! - a follower handling an AppendEntries of 1 and of 256 entries (64-byte payloads),
//!   in a steady stream: each commits the previous one's entries, which are applied;
//! - the leader's commit computation, `majority_index` over 3, 5 and 7 match indexes;
//! - encoding and decoding an AppendEntries of 256 entries;
//! - one simulated second of a 5-node cluster that commits a command every 10 ms.

use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion};
use raft_core::bytes::Bytes;
use raft_core::quorum::majority_index;
use raft_core::{AppendEntries, Body, Config, Entry, Input, LogIndex, Message, Node, NodeId, Term};
use sim::network::NetworkConfig;
use sim::world::{RaftSetup, World};

const PAYLOAD: usize = 64;
/// Entries a follower appends between two (unmeasured) compactions.
const ENTRIES_PER_CHUNK: u64 = 1 << 16;

/// Entries of term 1 whose payloads are slices of one shared buffer (as decoded or
/// proposed payloads are).
fn entries(first: u64, count: u64) -> Vec<Entry> {
    let buffer = Bytes::from(vec![7; PAYLOAD * count as usize]);
    (0..count as usize)
        .map(|offset| {
            let data = buffer.slice(offset * PAYLOAD..(offset + 1) * PAYLOAD);
            Entry::new(LogIndex(first + offset as u64), Term(1), data)
        })
        .collect()
}

/// An AppendEntries from leader 1 in term 1, carrying `count` entries after `prev`.
fn append(prev: u64, count: u64, leader_commit: u64) -> Message {
    let body = Body::AppendEntries(AppendEntries::new(
        LogIndex(prev),
        Term(u64::from(prev != 0)),
        entries(prev + 1, count),
        LogIndex(leader_commit),
    ));
    Message::new(NodeId(1), NodeId(2), Term(1), body)
}

/// Node 2 of three, following leader 1 in term 1.
fn follower() -> Node {
    let ids = [NodeId(1), NodeId(2), NodeId(3)];
    let config = Config::builder(NodeId(2), ids)
        .build()
        .expect("a valid config");
    Node::new(config)
}

/// Times `iters` AppendEntries of `count` entries each, as in a steady stream: each
/// appends after the last and commits the previous one's entries, which the follower
/// then applies. The messages are built, and the log compacted, between timed chunks.
fn time_appends(iters: u64, count: u64) -> Duration {
    let mut node = follower();
    let mut measured = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let chunk = (iters - done).min((ENTRIES_PER_CHUNK / count).max(1));
        let first = node.last_log_index().0;
        let messages: Vec<Message> = (0..chunk)
            .map(|k| {
                let prev = first + k * count;
                append(prev, count, prev)
            })
            .collect();
        #[allow(clippy::disallowed_methods)] // wall time is reported, never decides
        let started = std::time::Instant::now();
        for message in messages {
            black_box(node.step(Input::Message(message)));
        }
        measured += started.elapsed();
        let applied = node.applied_index();
        if applied > node.snapshot_index() {
            let data = Bytes::from_static(b"snapshot");
            node.step(Input::Snapshot {
                index: applied,
                data,
            });
        }
        done += chunk;
    }
    assert_eq!(
        node.last_log_index().0,
        iters * count,
        "every append was taken"
    );
    measured
}

fn follower_append(c: &mut Criterion) {
    for count in [1, 256] {
        c.bench_function(&format!("follower_append_{count}"), |b| {
            b.iter_custom(|iters| time_appends(iters, count));
        });
    }
}

fn leader_commit(c: &mut Criterion) {
    for voters in [3u64, 5, 7] {
        let matches: Vec<LogIndex> = (0..voters).map(|v| LogIndex(1000 + v * 37 % 11)).collect();
        c.bench_function(&format!("majority_index_{voters}"), |b| {
            b.iter(|| majority_index(black_box(&matches)));
        });
    }
}

fn codec(c: &mut Criterion) {
    let message = append(1024, 256, 1024);
    let bytes = message.to_bytes();
    c.bench_function("encode_append_256", |b| {
        b.iter(|| black_box(&message).to_bytes());
    });
    c.bench_function("decode_append_256", |b| {
        b.iter(|| Message::from_bytes(black_box(&bytes)).expect("decodes"));
    });
}

/// A 5-node world with every server started and connected.
fn five_servers(seed: u64) -> World {
    let mut world = World::new(
        5,
        seed,
        RaftSetup::default(),
        NetworkConfig::default(),
        false,
        false,
    );
    for server in 0..5 {
        world.start(server);
        world.net.set_connected(server, true);
    }
    world
}

/// Runs one simulated second, proposing a command to the leader every 10 ms.
fn one_simulated_second(mut world: World) -> World {
    let mut command = 0u64;
    while world.now() < 1000 {
        world.run_until(world.now() + 10);
        if let Some(leader) = (0..5).find(|&i| world.node(i).is_some_and(Node::is_leader)) {
            command += 1;
            world.propose(leader, Bytes::copy_from_slice(&command.to_le_bytes()));
        }
    }
    assert!(world.failure().is_none(), "{:?}", world.failure());
    world
}

fn simulated_second(c: &mut Criterion) {
    c.bench_function("sim_5_nodes_1_second", |b| {
        b.iter_batched(
            || five_servers(1),
            one_simulated_second,
            BatchSize::SmallInput,
        );
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = follower_append, leader_commit, codec, simulated_second
}
criterion_main!(benches);
