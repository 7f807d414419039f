//! Part 3B, the KV service with snapshots: every scenario under many seeds (20; 10 for the
//! heaviest, 3 for our 10 MiB snapshot), with the lab's assertions inside the scenarios
//! and, after every run, KV state agreement, the message size limit and the
//! linearizability of the whole client history.

use tests::assert_scenario;

#[test]
fn snapshot_rpc() {
    assert_scenario("kv-snapshot-rpc", 1..=20);
}

#[test]
fn snapshot_size() {
    assert_scenario("kv-snapshot-size", 1..=20);
}

#[test]
fn speed_snapshots() {
    assert_scenario("kv-speed-snapshots", 1..=20);
}

#[test]
fn snapshot_recover() {
    assert_scenario("kv-snapshot-recover", 1..=20);
}

#[test]
fn snapshot_recover_many_clients() {
    assert_scenario("kv-snapshot-recover-many-clients", 1..=10);
}

#[test]
fn snapshot_unreliable() {
    assert_scenario("kv-snapshot-unreliable", 1..=20);
}

#[test]
fn snapshot_unreliable_recover() {
    assert_scenario("kv-snapshot-unreliable-recover", 1..=20);
}

#[test]
fn snapshot_unreliable_recover_partition() {
    assert_scenario("kv-snapshot-unreliable-recover-partition", 1..=20);
}

#[test]
fn snapshot_unreliable_recover_partition_linearizable() {
    assert_scenario(
        "kv-snapshot-unreliable-recover-partition-linearizable",
        1..=20,
    );
}

#[test]
fn snapshot_large() {
    assert_scenario("kv-snapshot-large", 1..=3);
}

/// A seed found failing beyond CI's range, kept as a regression: 258, where the
/// append checker compared an entry the leader had sent with its log after the whole
/// step, and the KV server had compacted that entry into a snapshot later in the same
/// step (a checker false positive: "sent entry i332/t2 it does not hold").
#[test]
fn snapshot_large_seeds_found_beyond_ci() {
    assert_scenario("kv-snapshot-large", [258]);
}
