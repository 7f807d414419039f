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
