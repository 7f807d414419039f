//! Part 2B, log replication: every scenario under many seeds, with the lab's RPC and byte
//! budgets asserted inside the scenarios.

use tests::assert_scenario;

#[test]
fn basic_agree() {
    assert_scenario("basic-agree", 1..=100);
}

#[test]
fn rpc_bytes() {
    assert_scenario("rpc-bytes", 1..=100);
}

#[test]
fn follower_failure() {
    assert_scenario("follower-failure", 1..=100);
}

#[test]
fn leader_failure() {
    assert_scenario("leader-failure", 1..=100);
}

#[test]
fn fail_agree() {
    assert_scenario("fail-agree", 1..=100);
}

#[test]
fn fail_no_agree() {
    assert_scenario("fail-no-agree", 1..=100);
}

#[test]
fn concurrent_starts() {
    assert_scenario("concurrent-starts", 1..=100);
}

#[test]
fn rejoin() {
    assert_scenario("rejoin", 1..=100);
}

#[test]
fn backup() {
    assert_scenario("backup", 1..=100);
}

#[test]
fn count() {
    assert_scenario("count", 1..=100);
}
