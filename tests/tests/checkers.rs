//! Each checker fires on a deliberately broken history.

use raft_core::bytes::Bytes;
use sim::applier::Applier;
use sim::safety::SafetyChecker;
use tests::HandCluster;

#[test]
fn apply_checker_fires_on_different_commands_at_one_index() {
    let mut applier = Applier::new(3, false);
    applier.on_entry(0, 1, &Bytes::from("x")).unwrap();
    let error = applier.on_entry(2, 1, &Bytes::from("y")).unwrap_err();
    assert!(error.contains("commit index=1"), "{error}");
}

#[test]
fn apply_checker_fires_on_a_gap() {
    let mut applier = Applier::new(1, false);
    applier.on_entry(0, 1, &Bytes::from("x")).unwrap();
    let error = applier.on_entry(0, 3, &Bytes::from("z")).unwrap_err();
    assert!(error.contains("out of order"), "{error}");
}

#[test]
fn snapshot_applier_fires_when_an_apply_skips_ahead() {
    let mut applier = Applier::new(1, true);
    applier.on_entry(0, 1, &Bytes::from("x")).unwrap();
    let error = applier.on_entry(0, 1, &Bytes::from("x")).unwrap_err();
    assert!(error.contains("expected index 2"), "{error}");
}

#[test]
fn safety_checker_fires_on_two_leaders_in_one_term() {
    // Two separate clusters each elect a leader in term 1; seen as one run, that is two
    // leaders in the same term.
    let mut a = HandCluster::new(3);
    a.elect(1);
    let mut b = HandCluster::new(3);
    b.elect(2);
    assert_eq!(a.nodes[0].term(), b.nodes[1].term());
    let mut checker = SafetyChecker::new(3);
    checker.observe(0, &a.nodes[0]).unwrap();
    let error = checker.observe(1, &b.nodes[1]).unwrap_err();
    assert!(error.contains("election safety"), "{error}");
}

#[test]
fn safety_checker_fires_when_an_index_commits_twice_differently() {
    let mut a = HandCluster::new(3);
    a.elect(1);
    a.propose(1, "x");
    a.heartbeat(1);
    let mut b = HandCluster::new(3);
    b.elect(1);
    b.propose(1, "y");
    b.heartbeat(1);
    assert_eq!(
        a.nodes[1].commit_index().0,
        1,
        "the follower learned the commit"
    );
    let mut checker = SafetyChecker::new(3);
    checker.observe(1, &a.nodes[1]).unwrap();
    let error = checker.observe(2, &b.nodes[2]).unwrap_err();
    assert!(error.contains("state machine safety"), "{error}");
}

#[test]
fn safety_checker_fires_when_a_new_leader_lacks_a_committed_entry() {
    let mut a = HandCluster::new(3);
    a.elect(1);
    a.propose(1, "x");
    // Another cluster: node 1 leads term 1, then node 2 takes over in term 2, its log
    // empty. Seen as one run, the term-2 leader lacks the entry committed in term 1.
    let mut c = HandCluster::new(3);
    c.elect(1);
    c.elect(2);
    assert!(c.nodes[1].term() > a.nodes[0].term());
    let mut checker = SafetyChecker::new(3);
    checker.observe(0, &a.nodes[0]).unwrap();
    let error = checker.observe(1, &c.nodes[1]).unwrap_err();
    assert!(error.contains("leader completeness"), "{error}");
}

#[test]
fn safety_checker_fires_when_a_term_goes_backwards() {
    let mut a = HandCluster::new(3);
    a.elect(1);
    let fresh = HandCluster::new(3);
    let mut checker = SafetyChecker::new(3);
    checker.observe(0, &a.nodes[0]).unwrap();
    let error = checker.observe(0, &fresh.nodes[0]).unwrap_err();
    assert!(error.contains("term went backwards"), "{error}");
}

#[test]
fn safety_checker_fires_when_commit_goes_backwards() {
    let mut a = HandCluster::new(3);
    a.elect(1);
    a.propose(1, "x");
    let mut b = HandCluster::new(3);
    b.elect(1);
    let mut checker = SafetyChecker::new(3);
    checker.observe(0, &a.nodes[0]).unwrap();
    let error = checker.observe(0, &b.nodes[0]).unwrap_err();
    assert!(error.contains("commit index went backwards"), "{error}");
}
