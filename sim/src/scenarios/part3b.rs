//! Part 3B, the KV service with snapshots: the GenericTest instances with maxraftstate
//! 1000, InstallSnapshot to a lagging server, snapshot size, and the speed test.

use super::kv_generic::{generic_test, speed_test, Generic};
use super::{body, Part, Scenario};
use crate::ensure;
use crate::kv::KvTester;
use crate::tester::{TestResult, Tester, ELECTION_TIMEOUT_MS};

/// The lab's maxraftstate for part 3B.
const MAX_RAFT_STATE: usize = 1000;
/// The lab's bound on the snapshot in kv-snapshot-size.
const MAX_SNAPSHOT_BYTES: usize = 500;

/// A GenericTest of part 3B: (clients, crash, partitions, random keys).
const fn generic(clients: usize, crash: bool, partitions: bool, random_keys: bool) -> Generic {
    Generic {
        clients,
        crash,
        partitions,
        max_raft_state: Some(MAX_RAFT_STATE),
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

generic_body!(recover, generic(1, true, false, false));
generic_body!(recover_many_clients, generic(20, true, false, false));
generic_body!(unreliable, generic(5, false, false, false));
generic_body!(unreliable_recover, generic(5, true, false, false));
generic_body!(unreliable_recover_partition, generic(5, true, true, false));
generic_body!(
    unreliable_recover_partition_linearizable,
    generic(15, true, true, true)
);

async fn speed(t: Tester) -> TestResult {
    speed_test(t, Some(MAX_RAFT_STATE)).await
}

pub(super) fn scenarios() -> Vec<Scenario> {
    let scenario = |id, title, servers, unreliable, body| {
        Scenario::new(id, Part::B3, title, servers, body)
            .unreliable(unreliable)
            .kv(Some(MAX_RAFT_STATE))
    };
    vec![
        scenario(
            "kv-snapshot-rpc",
            "InstallSnapshot RPC",
            &[3],
            false,
            body!(snapshot_rpc),
        ),
        scenario(
            "kv-snapshot-size",
            "snapshot size is reasonable",
            &[3],
            false,
            body!(snapshot_size),
        ),
        scenario(
            "kv-speed-snapshots",
            "ops complete fast enough, snapshots",
            &[3],
            false,
            body!(speed),
        ),
        scenario(
            "kv-snapshot-recover",
            "restarts, snapshots, one client",
            &[5],
            false,
            body!(recover),
        ),
        scenario(
            "kv-snapshot-recover-many-clients",
            "restarts, snapshots, many clients",
            &[5],
            false,
            body!(recover_many_clients),
        ),
        scenario(
            "kv-snapshot-unreliable",
            "unreliable net, snapshots, many clients",
            &[5],
            true,
            body!(unreliable),
        ),
        scenario(
            "kv-snapshot-unreliable-recover",
            "unreliable net, restarts, snapshots, many clients",
            &[5],
            true,
            body!(unreliable_recover),
        ),
        scenario(
            "kv-snapshot-unreliable-recover-partition",
            "unreliable net, restarts, partitions, snapshots, many clients",
            &[5],
            true,
            body!(unreliable_recover_partition),
        ),
        scenario(
            "kv-snapshot-unreliable-recover-partition-linearizable",
            "unreliable net, restarts, partitions, snapshots, random keys, many clients",
            &[7],
            true,
            body!(unreliable_recover_partition_linearizable),
        ),
    ]
}

fn check_log_size(kv: &KvTester, when: &str) -> TestResult {
    let size = kv.log_size();
    ensure!(
        size <= 2 * MAX_RAFT_STATE,
        "logs were not trimmed {when} ({size} > 2*{MAX_RAFT_STATE})"
    );
    Ok(())
}

/// A server cut off while the majority trims its log catches up through InstallSnapshot.
async fn snapshot_rpc(t: Tester) -> TestResult {
    let kv = KvTester::new(t);
    let ck = kv.make_client(&kv.all());
    kv.put(ck, "a", "A").await?;
    kv.check(ck, "a", "A").await?;

    kv.partition(&[0, 1], &[2]);
    let ck1 = kv.make_client(&[0, 1]);
    for i in 0..50 {
        kv.put(ck1, &i.to_string(), &i.to_string()).await?;
    }
    kv.t().sleep(ELECTION_TIMEOUT_MS).await;
    kv.put(ck1, "b", "B").await?;
    check_log_size(&kv, "while server 2 is cut off")?;

    kv.partition(&[0, 2], &[1]);
    let ck1 = kv.make_client(&[0, 2]);
    kv.put(ck1, "c", "C").await?;
    kv.put(ck1, "d", "D").await?;
    kv.check(ck1, "a", "A").await?;
    kv.check(ck1, "b", "B").await?;
    kv.check(ck1, "1", "1").await?;
    kv.check(ck1, "49", "49").await?;

    kv.partition(&[0, 1, 2], &[]);
    kv.put(ck, "e", "E").await?;
    kv.check(ck1, "c", "C").await?;
    kv.check(ck1, "e", "E").await?;
    kv.check(ck1, "1", "1").await?;
    check_log_size(&kv, "at the end")
}

/// 800 operations on one key keep both the log and the snapshot small.
async fn snapshot_size(t: Tester) -> TestResult {
    let kv = KvTester::new(t);
    let ck = kv.make_client(&kv.all());
    for _ in 0..200 {
        kv.put(ck, "x", "0").await?;
        kv.check(ck, "x", "0").await?;
        kv.put(ck, "x", "1").await?;
        kv.check(ck, "x", "1").await?;
        check_log_size(&kv, "during the run")?;
    }
    check_log_size(&kv, "after 800 operations")?;
    let snapshot = kv.snapshot_size();
    ensure!(
        snapshot <= MAX_SNAPSHOT_BYTES,
        "snapshot too large ({snapshot} > {MAX_SNAPSHOT_BYTES})"
    );
    Ok(())
}
