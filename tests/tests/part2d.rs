//! Part 2D, log compaction: every scenario under many seeds (the 2000-byte raft state
//! bound is asserted inside the scenarios).

use tests::assert_scenario;

#[test]
fn snapshot_basic() {
    assert_scenario("snapshot-basic", 1..=100);
}

#[test]
fn snapshot_install() {
    assert_scenario("snapshot-install", 1..=100);
}

#[test]
fn snapshot_install_unreliable() {
    assert_scenario("snapshot-install-unreliable", 1..=100);
}

#[test]
fn snapshot_install_crash() {
    assert_scenario("snapshot-install-crash", 1..=100);
}

#[test]
fn snapshot_install_unreliable_crash() {
    assert_scenario("snapshot-install-unreliable-crash", 1..=100);
}

#[test]
fn snapshot_all_crash() {
    assert_scenario("snapshot-all-crash", 1..=100);
}

#[test]
fn snapshot_init() {
    assert_scenario("snapshot-init", 1..=100);
}
