//! `raftlab mutants` (test-hooks builds only): plants each of raft-core's bugs in turn,
//! hunts it with the catalog and with the swarm, and prints the switch table: seeds to
//! the first failure in each, the checker that fired, and the wall time.

use std::process::ExitCode;

use clap::Args;
use raft_core::{Bug, BugSet};

use crate::hunt::{first_catalog_failure, first_swarm_failure, Found};
use crate::scenarios::catalog;
use crate::world::RaftSetup;

/// What `raftlab mutants` hunts.
#[derive(Args, Debug, Clone)]
pub struct MutantsArgs {
    /// Only these bugs (repeatable); all by default.
    #[arg(long = "bug", value_name = "NAME")]
    pub bugs: Vec<Bug>,
    /// Catalog seeds to try per bug (each seed runs every scenario).
    #[arg(long, default_value_t = 200)]
    pub catalog_seeds: u64,
    /// Swarm seeds to try per bug.
    #[arg(long, default_value_t = 3000)]
    pub fuzz_seeds: u64,
    /// Worker threads; defaults to the core count.
    #[arg(long)]
    pub jobs: Option<usize>,
    /// One JSON line per bug instead of the table.
    #[arg(long)]
    pub json: bool,
    /// List the bugs and where they sit, and run nothing.
    #[arg(long)]
    pub list: bool,
}

/// One row of the switch table.
struct Row {
    bug: Bug,
    catalog: Option<Found>,
    catalog_s: f64,
    swarm: Option<Found>,
    swarm_s: f64,
}

/// Runs the hunts; exit 1 if some bug escaped both.
pub fn main(args: &MutantsArgs) -> ExitCode {
    let bugs: Vec<Bug> = if args.bugs.is_empty() {
        Bug::ALL.to_vec()
    } else {
        args.bugs.clone()
    };
    if args.list {
        for bug in &bugs {
            outln!("{:<26} {}", bug.name(), bug.place());
        }
        return ExitCode::SUCCESS;
    }
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if !args.json {
        print_header();
    }
    let mut escaped = 0;
    for bug in bugs {
        let row = hunt(bug, args, jobs);
        escaped += usize::from(row.catalog.is_none() && row.swarm.is_none());
        if args.json {
            outln!("{}", json_row(&row));
        } else {
            print_row(&row);
        }
    }
    if escaped > 0 {
        eprintln!("{escaped} bug(s) escaped both the catalog and the swarm");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

fn hunt(bug: Bug, args: &MutantsArgs, jobs: usize) -> Row {
    let setup = RaftSetup {
        bugs: BugSet::of(bug),
        ..RaftSetup::default()
    };
    #[allow(clippy::disallowed_methods)] // wall time is reported, never decides
    let started = std::time::Instant::now();
    let catalog = first_catalog_failure(&catalog(), 1, args.catalog_seeds, jobs, &setup);
    let catalog_s = started.elapsed().as_secs_f64();
    #[allow(clippy::disallowed_methods)] // wall time is reported, never decides
    let started = std::time::Instant::now();
    let plant = move |spec: &mut crate::fuzz::ScheduleSpec| spec.setup.bugs = BugSet::of(bug);
    let swarm = first_swarm_failure(1, args.fuzz_seeds, jobs, &plant);
    Row {
        bug,
        catalog,
        catalog_s,
        swarm,
        swarm_s: started.elapsed().as_secs_f64(),
    }
}

/// Column widths: switch, where, then seeds, scenario, checker and wall s of the
/// catalog, then seeds, checker and wall s of the swarm.
fn print_header() {
    outln!(
        "{:<26} {:<18} | {:>7} {:<34} {:<22} {:>6} | {:>5} {:<22} {:>6}",
        "switch",
        "where",
        "catalog",
        "scenario",
        "checker",
        "wall s",
        "swarm",
        "checker",
        "wall s"
    );
}

fn print_row(row: &Row) {
    let seeds = |found: &Option<Found>| {
        found
            .as_ref()
            .map_or("-".to_string(), |f| f.seeds.to_string())
    };
    let checker = |found: &Option<Found>| found.as_ref().map_or("not caught", Found::checker);
    outln!(
        "{:<26} {:<18} | {:>7} {:<34} {:<22} {:>6.1} | {:>5} {:<22} {:>6.1}",
        row.bug.name(),
        row.bug.place(),
        seeds(&row.catalog),
        row.catalog.as_ref().map_or("", |f| f.id),
        checker(&row.catalog),
        row.catalog_s,
        seeds(&row.swarm),
        checker(&row.swarm),
        row.swarm_s
    );
}

fn json_row(row: &Row) -> String {
    let found = |found: &Option<Found>| {
        found.as_ref().map(|f| {
            serde_json::json!({
                "seeds": f.seeds,
                "seed": f.seed,
                "id": f.id,
                "checker": f.checker(),
                "error": f.error,
            })
        })
    };
    serde_json::json!({
        "bug": row.bug.name(),
        "place": row.bug.place(),
        "catalog": found(&row.catalog),
        "catalog_wall_s": (row.catalog_s * 1000.0).round() / 1000.0,
        "swarm": found(&row.swarm),
        "swarm_wall_s": (row.swarm_s * 1000.0).round() / 1000.0,
    })
    .to_string()
}
