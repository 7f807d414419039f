//! The KV lab's two parameterized tests, shared by parts 3A and 3B: GenericTest (clients
//! appending and reading under partitions, restarts and loss, three iterations) and
//! GenericTestSpeed (1000 sequential appends, each well under a heartbeat).
//!
//! Linearizability of the whole history is checked by the runner after every KV scenario.

use std::cell::Cell;
use std::rc::Rc;

use crate::kv::history::{check_client_appends, token};
use crate::kv::{Ck, KvTester};
use crate::tester::{TestResult, Tester, ELECTION_TIMEOUT_MS};
use crate::{ensure, fail};

/// The parameters of one GenericTest (lab-reference §2.7).
#[derive(Clone, Copy, Debug)]
pub struct Generic {
    /// Concurrent clients.
    pub clients: usize,
    /// Every server restarts at the end of each iteration.
    pub crash: bool,
    /// The partitioner runs during each iteration.
    pub partitions: bool,
    /// The servers' maxraftstate (None: no snapshots).
    pub max_raft_state: Option<usize>,
    /// Each operation picks a random key (and clients also Put), instead of one key per
    /// client.
    pub random_keys: bool,
}

/// How long the clients run in each iteration.
const CLIENT_RUN_MS: u64 = 5_000;

/// GenericTest: three iterations of clients running while the partitioner and restarts
/// strike; then every client's appends are checked, and the raft state bounded.
pub async fn generic_test(t: Tester, g: Generic) -> TestResult {
    let kv = KvTester::new(t);
    let all = kv.all();
    let ck = kv.make_client(&all);
    for iteration in 0..3 {
        let done_clients = Rc::new(Cell::new(false));
        let done_partitioner = Rc::new(Cell::new(false));
        let mut clients = Vec::new();
        for cli in 0..g.clients {
            let (kv2, done) = (kv.clone(), Rc::clone(&done_clients));
            clients.push(
                kv.t()
                    .spawn(async move { client_loop(kv2, cli, g, done).await }),
            );
        }
        let partitioner = if g.partitions {
            kv.t().sleep(1_000).await;
            let (kv2, done) = (kv.clone(), Rc::clone(&done_partitioner));
            Some(kv.t().spawn(async move { kv2.partitioner(done).await }))
        } else {
            None
        };
        kv.t().sleep(CLIENT_RUN_MS).await;
        done_clients.set(true);
        done_partitioner.set(true);
        if let Some(partitioner) = partitioner {
            partitioner.await;
            kv.connect_all();
            kv.t().sleep(ELECTION_TIMEOUT_MS).await;
        }
        if g.crash {
            for i in 0..kv.n() {
                kv.shutdown_server(i);
            }
            kv.t().sleep(ELECTION_TIMEOUT_MS).await;
            for i in 0..kv.n() {
                kv.start_server(i);
            }
            kv.connect_all();
        }
        for (cli, client) in clients.into_iter().enumerate() {
            let appended = client.await?;
            let value = kv.get(ck, &cli.to_string()).await?;
            if !g.random_keys {
                check_client_appends(cli, &value, appended)
                    .map_err(|e| crate::tester::Failure(format!("iteration {iteration}: {e}")))?;
            }
        }
        check_sizes(&kv, g.max_raft_state)?;
    }
    Ok(())
}

/// One client of one iteration: appends and reads its own key (or random keys) until
/// `done`; returns how many values it appended to its own key.
async fn client_loop(
    kv: KvTester,
    cli: usize,
    g: Generic,
    done: Rc<Cell<bool>>,
) -> TestResult<u64> {
    let ck = kv.make_client(&kv.all());
    let own_key = cli.to_string();
    let mut last = String::new();
    let mut appended = 0;
    if !g.random_keys {
        kv.put(ck, &own_key, "").await?;
    }
    while !done.get() {
        let key = if g.random_keys {
            kv.t().rand(g.clients as u64).to_string()
        } else {
            own_key.clone()
        };
        let value = token(cli, appended);
        if kv.t().rand(1000) < 500 {
            kv.append(ck, &key, &value).await?;
            if !g.random_keys {
                last.push_str(&value);
            }
            appended += 1;
        } else if g.random_keys && kv.t().rand(1000) < 100 {
            kv.put(ck, &key, &value).await?;
            appended += 1;
        } else {
            let read = kv.get(ck, &key).await?;
            ensure!(
                g.random_keys || read == last,
                "get wrong value, key {key}, wanted:\n{}\n, got\n{}",
                crate::applier::show(last.as_bytes()),
                crate::applier::show(read.as_bytes())
            );
        }
    }
    kv.delete_client(ck);
    Ok(appended)
}

/// The lab's log bound (the stricter 2 × maxraftstate, after every iteration) and, without
/// snapshots, that none was taken.
fn check_sizes(kv: &KvTester, max_raft_state: Option<usize>) -> TestResult {
    match max_raft_state {
        Some(max) => ensure!(
            kv.log_size() <= 2 * max,
            "logs were not trimmed ({} > 2*{max})",
            kv.log_size()
        ),
        None => ensure!(
            kv.snapshot_size() == 0,
            "snapshot size {} without snapshots: should not be used",
            kv.snapshot_size()
        ),
    }
    Ok(())
}

/// How many appends the speed test times.
const SPEED_OPS: u64 = 1_000;
/// The speed test's bound per operation: three operations per 100 ms heartbeat.
const SPEED_MS_PER_OP_X3: u64 = 100;

/// GenericTestSpeed: 1000 sequential appends on a reliable 3-server cluster, each taking
/// at most a third of a heartbeat interval on average (in simulated time).
pub async fn speed_test(t: Tester, max_raft_state: Option<usize>) -> TestResult {
    let kv = KvTester::new(t);
    let ck: Ck = kv.make_client(&kv.all());
    kv.get(ck, "x").await?;
    let started = kv.t().now();
    for i in 0..SPEED_OPS {
        kv.append(ck, "x", &token(0, i)).await?;
    }
    let elapsed = kv.t().now() - started;
    let value = kv.get(ck, "x").await?;
    check_client_appends(0, &value, SPEED_OPS).map_err(crate::tester::Failure)?;
    if elapsed * 3 > SPEED_OPS * SPEED_MS_PER_OP_X3 {
        fail!(
            "Operations completed too slowly {:.1} ms/op > {:.1} ms/op",
            elapsed as f64 / SPEED_OPS as f64,
            SPEED_MS_PER_OP_X3 as f64 / 3.0
        );
    }
    check_sizes_speed(&kv, max_raft_state)
}

fn check_sizes_speed(kv: &KvTester, max_raft_state: Option<usize>) -> TestResult {
    if max_raft_state.is_none() {
        ensure!(
            kv.snapshot_size() == 0,
            "snapshot size {} without snapshots",
            kv.snapshot_size()
        );
    }
    Ok(())
}
