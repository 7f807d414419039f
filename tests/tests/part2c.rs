//! Part 2C, persistence: every scenario under many seeds.

use tests::assert_scenario;

#[test]
fn persist1() {
    assert_scenario("persist1", 1..=100);
}

#[test]
fn persist2() {
    assert_scenario("persist2", 1..=100);
}

#[test]
fn persist3() {
    assert_scenario("persist3", 1..=100);
}

#[test]
fn figure8() {
    assert_scenario("figure8", 1..=100);
}

#[test]
fn unreliable_agree() {
    assert_scenario("unreliable-agree", 1..=100);
}

#[test]
fn figure8_unreliable() {
    assert_scenario("figure8-unreliable", 1..=100);
}

#[test]
fn reliable_churn() {
    assert_scenario("reliable-churn", 1..=100);
}

#[test]
fn unreliable_churn() {
    assert_scenario("unreliable-churn", 1..=100);
}

/// Seeds found failing beyond CI's range, kept as regressions: 100219 (a leader cut off
/// from every follower kept taking the churn clients' commands; fixed by CheckQuorum) and
/// 530 (the schedule left a majority up for only 1.4 s, so a client had recorded no
/// value when the cluster healed; the clients now go on in the healed cluster until each
/// has recorded one).
#[test]
fn unreliable_churn_seeds_found_beyond_ci() {
    assert_scenario("unreliable-churn", [530, 100219]);
}
