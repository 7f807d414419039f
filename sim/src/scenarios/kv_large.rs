//! Our own scenario of part 3B, `kv-snapshot-large`: a KV snapshot past 10 MiB reaches a
//! follower through chunked InstallSnapshot on an unreliable network.
//!
//! Three servers, `max_raft_state` of 1 MiB (snapshots every 512 KiB of raft state) and
//! the simulator's 64 KiB message limit: the snapshot travels in about 190 chunks. Server
//! 2 is cut off while clerks put values of 20–50 KB under distinct keys until they hold
//! 11 MiB; it is then brought back while a clerk keeps appending small values, and must
//! catch up (by snapshot: the others compacted their logs long ago). It then holds every
//! value byte for byte, and serves reads in a majority without the old leader. The world
//! fails the run if any Raft message exceeds the message limit.

use std::cell::Cell;
use std::rc::Rc;

use raft_core::LogIndex;

use super::{body, Part, Scenario};
use crate::kv::history::token;
use crate::kv::KvTester;
use crate::tester::{TestResult, Tester, ELECTION_TIMEOUT_MS};
use crate::{ensure, fail};

/// The servers' `max_raft_state`: 1 MiB, so that commands of up to 256 KiB are taken.
const MAX_RAFT_STATE: usize = 1 << 20;
/// The values put while server 2 is cut off, in bytes all together.
const TOTAL_VALUE_BYTES: usize = 11 << 20;
/// The snapshot server 2 must install: past 10 MiB.
const LARGE_SNAPSHOT_BYTES: usize = 10 << 20;
/// The size range of one value (each fits, as a command, in one 64 KiB message).
const VALUE_BYTES: (u64, u64) = (20_000, 50_000);
/// The clerks putting the large values.
const WRITERS: usize = 4;
/// How long server 2 may take to catch up, in simulated ms.
const CATCH_UP_MS: u64 = 60_000;

/// The scenario.
pub(super) fn scenario() -> Scenario {
    Scenario::new(
        "kv-snapshot-large",
        Part::B3,
        "a 10 MiB snapshot in chunks to a follower back on an unreliable net",
        &[3],
        body!(snapshot_large),
    )
    .unreliable(true)
    .kv(Some(MAX_RAFT_STATE))
}

/// The value of large key `k`, `len` bytes: its own number, repeated.
fn large_value(k: usize, len: usize) -> String {
    let unit = format!("<{k}>");
    unit.repeat(len / unit.len() + 1)[..len].to_owned()
}

/// The keys and value sizes: sizes drawn from the scenario's stream until they add up
/// to [`TOTAL_VALUE_BYTES`].
fn large_keys(t: &Tester) -> Vec<(String, usize)> {
    let mut keys = Vec::new();
    let mut total = 0;
    while total < TOTAL_VALUE_BYTES {
        let len = (VALUE_BYTES.0 + t.rand(VALUE_BYTES.1 - VALUE_BYTES.0 + 1)) as usize;
        keys.push((format!("large{}", keys.len()), len));
        total += len;
    }
    keys
}

async fn snapshot_large(t: Tester) -> TestResult {
    let kv = KvTester::new(t);
    let ck = kv.make_client(&kv.all());
    kv.put(ck, "a", "").await?;
    kv.partition(&[0, 1], &[2]);
    let keys = Rc::new(large_keys(kv.t()));
    put_large_values(&kv, &keys).await?;
    let behind = kv.t().world().kv_server(2).map(|s| s.applied_index());
    ensure!(
        kv.snapshot_size() > LARGE_SNAPSHOT_BYTES,
        "the snapshot reached only {} bytes",
        kv.snapshot_size()
    );

    kv.partition(&[0, 1, 2], &[]);
    let done = Rc::new(Cell::new(false));
    let appender = {
        let (kv2, done) = (kv.clone(), Rc::clone(&done));
        kv.t().spawn(async move { append_until(kv2, done).await })
    };
    let caught_up = wait_for_catch_up(&kv).await;
    done.set(true);
    let appended = appender.await?;
    caught_up?;
    check_server_2(&kv, &keys, behind)?;
    read_without_the_leader(&kv, &keys, appended).await
}

/// Server 2 installed the large snapshot and holds every large value, byte for byte.
fn check_server_2(kv: &KvTester, keys: &[(String, usize)], behind: Option<LogIndex>) -> TestResult {
    let world = kv.t().world();
    let snapshot = world.persister(2).snapshot_data().len();
    ensure!(
        snapshot > LARGE_SNAPSHOT_BYTES,
        "server 2 (at {behind:?} when cut off) caught up without the large snapshot ({snapshot} bytes)"
    );
    let Some(server) = world.kv_server(2) else {
        fail!("server 2 stopped");
    };
    for (k, (key, len)) in keys.iter().enumerate() {
        ensure!(
            server.applied_value(key) == Some(large_value(k, *len).as_str()),
            "server 2 holds a wrong value for {key}"
        );
    }
    Ok(())
}

/// [`WRITERS`] clerks linked to servers 0 and 1 put every large value.
async fn put_large_values(kv: &KvTester, keys: &Rc<Vec<(String, usize)>>) -> TestResult {
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (kv2, keys) = (kv.clone(), Rc::clone(keys));
        writers.push(kv.t().spawn(async move {
            let ck = kv2.make_client(&[0, 1]);
            for (k, (key, len)) in keys.iter().enumerate().skip(w).step_by(WRITERS) {
                kv2.put(ck, key, &large_value(k, *len)).await?;
            }
            kv2.delete_client(ck);
            TestResult::Ok(())
        }));
    }
    for writer in writers {
        writer.await?;
    }
    Ok(())
}

/// A clerk appends small values to `a` until `done`; returns how many.
async fn append_until(kv: KvTester, done: Rc<Cell<bool>>) -> TestResult<u64> {
    let ck = kv.make_client(&kv.all());
    let mut appended = 0;
    while !done.get() {
        kv.append(ck, "a", &token(0, appended)).await?;
        appended += 1;
    }
    kv.delete_client(ck);
    Ok(appended)
}

/// Waits until server 2 has applied as far as the server ahead of the others.
async fn wait_for_catch_up(kv: &KvTester) -> TestResult {
    let started = kv.t().now();
    loop {
        let (behind, ahead) = {
            let world = kv.t().world();
            let applied = |i: usize| world.kv_server(i).map_or(0, |s| s.applied_index().0);
            (applied(2), applied(0).max(applied(1)))
        };
        if behind >= ahead {
            return Ok(());
        }
        if kv.t().now() - started > CATCH_UP_MS {
            let chunks = kv.t().world().stats.snapshot_chunks;
            fail!(
                "server 2 did not catch up within {CATCH_UP_MS} ms: at {behind}, the others at \
                 {ahead}, after {chunks} snapshot chunks"
            );
        }
        kv.t().sleep(100).await;
    }
}

/// Cuts off the leader (or server 0, if server 2 leads): the other two, server 2 among
/// them, serve the large values and every small append.
async fn read_without_the_leader(
    kv: &KvTester,
    keys: &[(String, usize)],
    appended: u64,
) -> TestResult {
    let cut = match kv.leader() {
        Some(2) | None => 0,
        Some(leader) => leader,
    };
    let pair: Vec<usize> = (0..3).filter(|&i| i != cut).collect();
    kv.partition(&pair, &[cut]);
    let ck = kv.make_client(&pair);
    for k in [0, keys.len() / 2, keys.len() - 1] {
        let (key, len) = &keys[k];
        kv.check(ck, key, &large_value(k, *len)).await?;
    }
    let expected: String = (0..appended).map(|n| token(0, n)).collect();
    kv.check(ck, "a", &expected).await?;
    kv.connect_all();
    kv.t().sleep(ELECTION_TIMEOUT_MS).await;
    let size = kv.log_size();
    ensure!(
        size <= 2 * MAX_RAFT_STATE,
        "logs were not trimmed ({size} > 2*{MAX_RAFT_STATE})"
    );
    Ok(())
}
