//! Part 3A, the KV service without snapshots: the GenericTest instances, the speed test,
//! concurrent appends to one key, and progress in a majority partition only.

use std::cell::Cell;
use std::rc::Rc;

use super::kv_generic::{generic_test, speed_test, Generic};
use super::{body, Part, Scenario};
use crate::kv::history::{check_concurrent_appends, token};
use crate::kv::KvTester;
use crate::tester::{TestResult, Tester, ELECTION_TIMEOUT_MS};
use crate::{ensure, fail};

/// A GenericTest of part 3A: (clients, crash, partitions, random keys).
const fn generic(clients: usize, crash: bool, partitions: bool, random_keys: bool) -> Generic {
    Generic {
        clients,
        crash,
        partitions,
        max_raft_state: None,
        random_keys,
    }
}

macro_rules! generic_body {
    ($name:ident, $generic:expr) => {
        async fn $name(t: Tester) -> TestResult {
            generic_test(t, $generic).await
        }
    };
}

generic_body!(basic, generic(1, false, false, false));
generic_body!(concurrent, generic(5, false, false, false));
generic_body!(unreliable, generic(5, false, false, false));
generic_body!(partitions_one_client, generic(1, false, true, false));
generic_body!(partitions_many_clients, generic(5, false, true, false));
generic_body!(persist_one_client, generic(1, true, false, false));
generic_body!(persist_concurrent, generic(5, true, false, false));
generic_body!(
    persist_concurrent_unreliable,
    generic(5, true, false, false)
);
generic_body!(persist_partition, generic(5, true, true, false));
generic_body!(persist_partition_unreliable, generic(5, true, true, false));
generic_body!(
    persist_partition_unreliable_linearizable,
    generic(15, true, true, true)
);

async fn speed(t: Tester) -> TestResult {
    speed_test(t, None).await
}

pub(super) fn scenarios() -> Vec<Scenario> {
    let scenario = |id, title, servers, unreliable, body| {
        Scenario::new(id, Part::A3, title, servers, body)
            .unreliable(unreliable)
            .kv(None)
    };
    vec![
        scenario("kv-basic", "one client", &[5], false, body!(basic)),
        scenario(
            "kv-speed",
            "ops complete fast enough",
            &[3],
            false,
            body!(speed),
        ),
        scenario(
            "kv-concurrent",
            "many clients",
            &[5],
            false,
            body!(concurrent),
        ),
        scenario(
            "kv-unreliable",
            "unreliable net, many clients",
            &[5],
            true,
            body!(unreliable),
        ),
        scenario(
            "kv-unreliable-one-key",
            "concurrent append to same key, unreliable",
            &[3],
            true,
            body!(unreliable_one_key),
        ),
        scenario(
            "kv-one-partition",
            "progress in majority, none in minority, completion after heal",
            &[5],
            false,
            body!(one_partition),
        ),
        scenario(
            "kv-many-partitions-one-client",
            "partitions, one client",
            &[5],
            false,
            body!(partitions_one_client),
        ),
        scenario(
            "kv-many-partitions-many-clients",
            "partitions, many clients",
            &[5],
            false,
            body!(partitions_many_clients),
        ),
        scenario(
            "kv-persist-one-client",
            "restarts, one client",
            &[5],
            false,
            body!(persist_one_client),
        ),
        scenario(
            "kv-persist-concurrent",
            "restarts, many clients",
            &[5],
            false,
            body!(persist_concurrent),
        ),
        scenario(
            "kv-persist-concurrent-unreliable",
            "unreliable net, restarts, many clients",
            &[5],
            true,
            body!(persist_concurrent_unreliable),
        ),
        scenario(
            "kv-persist-partition",
            "restarts, partitions, many clients",
            &[5],
            false,
            body!(persist_partition),
        ),
        scenario(
            "kv-persist-partition-unreliable",
            "unreliable net, restarts, partitions, many clients",
            &[5],
            true,
            body!(persist_partition_unreliable),
        ),
        scenario(
            "kv-persist-partition-unreliable-linearizable",
            "unreliable net, restarts, partitions, random keys, many clients",
            &[7],
            true,
            body!(persist_partition_unreliable_linearizable),
        ),
    ]
}

/// 5 clients append 10 values each to one key at the same time, on an unreliable network:
/// every value is there once, each client's in order.
async fn unreliable_one_key(t: Tester) -> TestResult {
    let kv = KvTester::new(t);
    let all = kv.all();
    let ck = kv.make_client(&all);
    kv.put(ck, "k", "").await?;
    const CLIENTS: usize = 5;
    const APPENDS: u64 = 10;
    let mut clients = Vec::new();
    for cli in 0..CLIENTS {
        let kv2 = kv.clone();
        clients.push(kv.t().spawn(async move {
            let me = kv2.make_client(&kv2.all());
            for n in 0..APPENDS {
                kv2.append(me, "k", &token(cli, n)).await?;
            }
            kv2.delete_client(me);
            TestResult::Ok(())
        }));
    }
    for client in clients {
        client.await?;
    }
    let value = kv.get(ck, "k").await?;
    check_concurrent_appends(&value, &[APPENDS; CLIENTS]).map_err(crate::tester::Failure)
}

/// The majority side of a partition makes progress; the minority side (with the old
/// leader) completes nothing; after the heal both minority operations finish within 3 s.
async fn one_partition(t: Tester) -> TestResult {
    let kv = KvTester::new(t);
    let all = kv.all();
    let ck = kv.make_client(&all);
    kv.put(ck, "1", "13").await?;

    // Progress in majority.
    let (p1, p2) = kv.make_partition();
    kv.partition(&p1, &p2);
    let ckp1 = kv.make_client(&p1);
    let ckp2a = kv.make_client(&p2);
    let ckp2b = kv.make_client(&p2);
    kv.put(ckp1, "1", "14").await?;
    kv.check(ckp1, "1", "14").await?;

    // No progress in minority.
    let put_done = Rc::new(Cell::new(false));
    let get_done = Rc::new(Cell::new(false));
    let (kv2, done) = (kv.clone(), Rc::clone(&put_done));
    let put = kv.t().spawn(async move {
        let result = kv2.put(ckp2a, "1", "15").await;
        done.set(true);
        result
    });
    let (kv3, done) = (kv.clone(), Rc::clone(&get_done));
    let get = kv.t().spawn(async move {
        let result = kv3.get(ckp2b, "1").await;
        done.set(true);
        result.map(drop)
    });
    kv.t().sleep(1_000).await;
    ensure!(!put_done.get(), "Put in minority completed");
    ensure!(!get_done.get(), "Get in minority completed");
    kv.check(ckp1, "1", "14").await?;
    kv.put(ckp1, "1", "16").await?;
    kv.check(ckp1, "1", "16").await?;

    // Completion after heal: both minority operations, within 3 s.
    kv.connect_all();
    kv.connect_client(ckp2a, &all);
    kv.connect_client(ckp2b, &all);
    kv.t().sleep(ELECTION_TIMEOUT_MS).await;
    for _ in 0..30 {
        if put_done.get() && get_done.get() {
            break;
        }
        kv.t().sleep(100).await;
    }
    if !(put_done.get() && get_done.get()) {
        fail!("put/get did not complete");
    }
    put.await?;
    get.await?;
    kv.check(ck, "1", "15").await
}
