//! Part 3A, the KV service: every scenario under many seeds (20; 10 for the
//! heaviest), with the lab's assertions inside the scenarios and, after every run, KV
//! state agreement and the linearizability of the whole client history.

use tests::assert_scenario;

#[test]
fn basic() {
    assert_scenario("kv-basic", 1..=20);
}

#[test]
fn speed() {
    assert_scenario("kv-speed", 1..=20);
}

#[test]
fn concurrent() {
    assert_scenario("kv-concurrent", 1..=20);
}

#[test]
fn unreliable() {
    assert_scenario("kv-unreliable", 1..=20);
}

#[test]
fn unreliable_one_key() {
    assert_scenario("kv-unreliable-one-key", 1..=20);
}

#[test]
fn one_partition() {
    assert_scenario("kv-one-partition", 1..=20);
}

#[test]
fn many_partitions_one_client() {
    assert_scenario("kv-many-partitions-one-client", 1..=20);
}

#[test]
fn many_partitions_many_clients() {
    assert_scenario("kv-many-partitions-many-clients", 1..=20);
}

#[test]
fn persist_one_client() {
    assert_scenario("kv-persist-one-client", 1..=20);
}

#[test]
fn persist_concurrent() {
    assert_scenario("kv-persist-concurrent", 1..=20);
}

#[test]
fn persist_concurrent_unreliable() {
    assert_scenario("kv-persist-concurrent-unreliable", 1..=20);
}

#[test]
fn persist_partition() {
    assert_scenario("kv-persist-partition", 1..=20);
}

#[test]
fn persist_partition_unreliable() {
    assert_scenario("kv-persist-partition-unreliable", 1..=20);
}

#[test]
fn persist_partition_unreliable_linearizable() {
    assert_scenario("kv-persist-partition-unreliable-linearizable", 1..=20);
}
