//! Same id and seed, same trace hash: for every scenario of the catalog, and whether or
//! not the trace lines are recorded.

#[test]
fn every_scenario_reruns_to_the_same_hash() {
    for scenario in sim::catalog() {
        for seed in [1, 7] {
            let first = sim::run(&scenario, seed, false);
            let second = sim::run(&scenario, seed, false);
            assert_eq!(
                first.trace_hash, second.trace_hash,
                "{} seed {seed} is not deterministic",
                scenario.id
            );
            assert_eq!(first, second, "{} seed {seed}: reports differ", scenario.id);
        }
    }
}

#[test]
fn recording_the_trace_does_not_change_the_run() {
    for scenario in sim::catalog() {
        let quiet = sim::run(&scenario, 3, false);
        let traced = sim::run(&scenario, 3, true);
        assert_eq!(quiet.trace_hash, traced.trace_hash, "{}", scenario.id);
        assert!(
            !traced.trace.is_empty(),
            "{}: a replay prints a trace",
            scenario.id
        );
    }
}

#[test]
fn different_seeds_give_different_executions() {
    let scenario = sim::find("figure8").expect("figure8 is in the catalog");
    let a = sim::run(&scenario, 1, false);
    let b = sim::run(&scenario, 2, false);
    assert_ne!(a.trace_hash, b.trace_hash);
}

#[test]
fn catalog_has_every_id_once() {
    let ids: Vec<&str> = sim::catalog().iter().map(|s| s.id).collect();
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "duplicate ids");
    assert_eq!(
        ids.len(),
        55,
        "21 scenarios of 2A-2C, 7 of 2D, 14 of 3A, 9 of 3B with our kv-snapshot-large, and 3 of X"
    );
}
