//! Part 2A, leader election: every scenario under many seeds.

use tests::assert_scenario;

#[test]
fn initial_election() {
    assert_scenario("initial-election", 1..=100);
}

#[test]
fn re_election() {
    assert_scenario("re-election", 1..=100);
}

#[test]
fn many_elections() {
    assert_scenario("many-elections", 1..=100);
}
