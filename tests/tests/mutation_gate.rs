//! The simulator alone as a test command for `cargo mutants` on raft-core/src: a short
//! catalog run and a short swarm, every checker on, and nothing of raft-core's own unit
//! tests. Ignored in a plain `cargo test` (README, "Mutation score", gives the command
//! that runs it under cargo-mutants with `--include-ignored`).

/// Catalog seeds: every scenario runs under each.
const CATALOG_SEEDS: u64 = 1;
/// Swarm seeds.
const SWARM_SEEDS: u64 = 200;

#[test]
#[ignore = "the simulator-only gate of the cargo-mutants run (slow; see README)"]
fn the_simulator_alone_passes_a_short_catalog_and_swarm() {
    let catalog = sim::catalog();
    let setup = sim::world::RaftSetup::default();
    if let Some(found) = sim::hunt::first_catalog_failure(&catalog, 1, CATALOG_SEEDS, 2, &setup) {
        panic!("catalog: {} seed {}: {}", found.id, found.seed, found.error);
    }
    if let Some(found) = sim::hunt::first_swarm_failure(1, SWARM_SEEDS, 2, &|_| {}) {
        panic!("swarm seed {}: {}", found.seed, found.error);
    }
}
