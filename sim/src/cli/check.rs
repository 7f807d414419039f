//! `raftlab check FILE`: checks a JSON-lines history for linearizability and prints the
//! verdict per partition and in total; exit 0 linearizable, 1 not, 3 unknown (budget
//! spent), 2 bad input or usage.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use serde_json::json;

use crate::linearizability::report::{explain, summary_line};
use crate::linearizability::{
    check, parse_history, write_html, Budget, CheckResult, JsonModel, KvModel, Outcome,
    RegisterModel, Verdict,
};

/// Which model a history is checked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ModelName {
    /// The lab's key/value store: get, put, append; partitioned by key.
    Kv,
    /// One register: read, write, compare-and-swap (Jepsen's etcd shape).
    Register,
}

/// The arguments of `raftlab check`.
#[derive(Clone, Debug, Args)]
pub struct CheckArgs {
    /// The history: JSON lines, one operation per line (see the README); `-` for stdin.
    pub file: PathBuf,
    /// The model the history is checked against.
    #[arg(long, value_enum, default_value_t = ModelName::Kv)]
    pub model: ModelName,
    /// Search steps each partition may spend before its verdict is unknown.
    #[arg(long, default_value_t = Budget::DEFAULT.0)]
    pub budget: u64,
    /// Threads checking partitions (the verdict is the same); defaults to the core count.
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Also write the HTML view of the history and its verdict to this file.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs `raftlab check`.
pub fn main(args: &CheckArgs) -> ExitCode {
    if args.budget == 0 {
        return super::usage_error("--budget must be at least 1");
    }
    if args.jobs == Some(0) {
        return super::usage_error("--jobs must be at least 1");
    }
    let text = if args.file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(&args.file)
    };
    match text {
        Ok(text) => match args.model {
            ModelName::Kv => run(&KvModel, args, &text),
            ModelName::Register => run(&RegisterModel, args, &text),
        },
        Err(e) => super::usage_error(&format!("cannot read {}: {e}", args.file.display())),
    }
}

fn run<M: JsonModel>(model: &M, args: &CheckArgs, text: &str) -> ExitCode {
    let file = args.file.display().to_string();
    let history = match parse_history(model, text) {
        Ok(history) => history,
        Err(e) => return super::usage_error(&format!("{file}: {e}")),
    };
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let result = match check(model, &history, Budget(args.budget), jobs) {
        Ok(result) => result,
        Err(e) => return super::usage_error(&format!("{file}: {e}")),
    };
    if args.json {
        outln!("{}", json_report(&file, model.name(), &result));
    } else {
        print_text(&file, model.name(), &result);
        let explanation = explain(model, &history, &result);
        if !explanation.is_empty() {
            outln!("\n{}", explanation.trim_end());
        }
    }
    if let Some(path) = &args.html {
        let title = format!("raftlab check {file}: {}", result.verdict.as_str());
        if let Err(e) = write_html(path, model, &history, &result, &title) {
            return super::usage_error(&format!("cannot write {}: {e}", path.display()));
        }
        if !args.json {
            outln!("view: {}", path.display());
        }
    }
    ExitCode::from(match result.verdict {
        Verdict::Ok => 0,
        Verdict::Illegal => 1,
        Verdict::Unknown => 3,
    })
}

fn verdict_text(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Ok => "ok",
        Verdict::Illegal => "ILLEGAL",
        Verdict::Unknown => "UNKNOWN",
    }
}

fn print_text(file: &str, model: &str, result: &CheckResult) {
    outln!(
        "{file}: model {model}, {} operations, {} partitions, budget {} steps per partition",
        result.operations,
        result.partitions.len(),
        result.budget.0
    );
    let width = result
        .partitions
        .iter()
        .map(|p| p.name.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(9, 40);
    outln!(
        "{:<width$} {:>10} {:>8} {:>12}  verdict",
        "partition",
        "operations",
        "dropped",
        "steps"
    );
    for partition in &result.partitions {
        outln!(
            "{:<width$} {:>10} {:>8} {:>12}  {}",
            partition.name,
            partition.operations.len(),
            partition.dropped.len(),
            partition.steps,
            verdict_text(partition.outcome.verdict())
        );
    }
    outln!("total: {}", summary_line(result));
}

fn json_report(file: &str, model: &str, result: &CheckResult) -> serde_json::Value {
    let partitions: Vec<serde_json::Value> = result
        .partitions
        .iter()
        .map(|p| {
            let mut entry = json!({
                "name": p.name,
                "verdict": p.outcome.verdict().as_str(),
                "operations": p.operations.len(),
                "dropped": p.dropped.len(),
                "steps": p.steps,
            });
            match &p.outcome {
                Outcome::Ok { order } => entry["order"] = json!(order),
                Outcome::Illegal {
                    prefix,
                    unplaceable,
                    state,
                } => {
                    entry["prefix"] = json!(prefix);
                    entry["unplaceable"] = json!(unplaceable);
                    entry["state"] = json!(state);
                }
                Outcome::Unknown => {}
            }
            entry
        })
        .collect();
    json!({
        "file": file,
        "model": model,
        "verdict": result.verdict.as_str(),
        "operations": result.operations,
        "steps": result.steps,
        "budget": result.budget.0,
        "partitions": partitions,
    })
}
