//! The linearizability check every KV run ends with: the clients' recorded history,
//! translated for the kv model and searched within a deterministic budget. `Illegal` and
//! `Unknown` both fail the run.

use std::path::Path;

use kv_core::Op;

use super::history::{RecordedOp, STAMPS_PER_MS};
use crate::linearizability::{
    check, write_html, Budget, CheckResult, KvInput, KvModel, KvOutput, Operation, Outcome,
};

/// Search steps per key before the verdict is `Unknown` (a failure, never a pass).
pub const LINEARIZABILITY_BUDGET: Budget = Budget::DEFAULT;

/// The recorded history as the kv model's operations (times in simulated ms).
pub fn to_model_history(ops: &[RecordedOp]) -> Vec<Operation<KvInput, KvOutput>> {
    ops.iter()
        .map(|op| {
            let input = match &op.op {
                Op::Get { key } => KvInput::get(&**key),
                Op::Put { key, value } => KvInput::put(&**key, &**value),
                Op::Append { key, value } => KvInput::append(&**key, &**value),
            };
            let client = op.client as u64;
            match (op.ret, &op.output) {
                (Some(ret), Some(output)) => {
                    Operation::returned(client, input, KvOutput::new(output.as_str()), op.call, ret)
                }
                _ => Operation::pending(client, input, op.call),
            }
        })
        .collect()
}

/// Checks the history and writes its view (one self-contained HTML file) to `path`;
/// returns the verdict.
pub fn write_view(path: &Path, ops: &[RecordedOp], title: &str) -> std::io::Result<&'static str> {
    let history = to_model_history(ops);
    let result = check(&KvModel, &history, LINEARIZABILITY_BUDGET, 1)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))?;
    write_html(path, &KvModel, &history, &result, title)?;
    Ok(result.verdict.as_str())
}

/// Checks the history; returns the search steps spent, or why it failed.
pub fn check_linearizable(ops: &[RecordedOp]) -> Result<u64, String> {
    let history = to_model_history(ops);
    let result = check(&KvModel, &history, LINEARIZABILITY_BUDGET, 1)
        .map_err(|e| format!("history cannot be checked: {e}"))?;
    if result.is_ok() {
        return Ok(result.steps);
    }
    Err(describe_failure(ops, &result))
}

fn describe_failure(ops: &[RecordedOp], result: &CheckResult) -> String {
    for partition in &result.partitions {
        match &partition.outcome {
            Outcome::Illegal {
                prefix,
                unplaceable,
                ..
            } => {
                let first = unplaceable
                    .first()
                    .and_then(|&i| ops.get(i))
                    .map(|op| {
                        format!(
                            "{:?} by clerk {} (called at {} ms, returned at {} ms, output {:?})",
                            op.op,
                            op.client,
                            op.call / STAMPS_PER_MS,
                            op.ret
                                .map_or("-".to_string(), |r| (r / STAMPS_PER_MS).to_string()),
                            op.output
                                .as_deref()
                                .map(|o| crate::applier::show(o.as_bytes()))
                        )
                    })
                    .unwrap_or_default();
                return format!(
                    "history is not linearizable: {}: after {} operations, none can go next; first: {first} (see the view: replay with --html)",
                    partition.name,
                    prefix.len()
                );
            }
            Outcome::Unknown => {
                return format!(
                    "linearizability could not be decided within {} steps ({}, {} operations)",
                    result.budget.0,
                    partition.name,
                    partition.operations.len()
                )
            }
            Outcome::Ok { .. } => {}
        }
    }
    format!("history is not linearizable ({})", result.verdict.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(client: usize, op: Op, output: Option<&str>, call: u64, ret: Option<u64>) -> RecordedOp {
        RecordedOp {
            client,
            op,
            output: output.map(str::to_string),
            call,
            ret,
        }
    }

    #[test]
    fn events_of_one_simulated_ms_keep_their_order() {
        let mut history = crate::kv::KvHistory::default();
        let put = history.begin(
            0,
            Op::Put {
                key: "k".into(),
                value: "new".into(),
            },
            3,
        );
        history.finish(put, String::new(), 5);
        // Called in the same ms the put returned, but after it: it must see "new".
        let get = history.begin(1, Op::Get { key: "k".into() }, 5);
        history.finish(get, String::new(), 5);
        let error = check_linearizable(history.ops()).unwrap_err();
        assert!(error.contains("not linearizable"), "{error}");
    }

    #[test]
    fn a_stale_read_fails_and_a_pending_write_may_take_effect() {
        let put = |v: &str| Op::Put {
            key: "k".into(),
            value: v.into(),
        };
        let get = || Op::Get { key: "k".into() };
        let stale = vec![
            op(0, put("a"), Some(""), 0, Some(10)),
            op(1, get(), Some(""), 20, Some(30)),
        ];
        let error = check_linearizable(&stale).unwrap_err();
        assert!(error.contains("not linearizable"), "{error}");
        let pending = vec![
            op(0, put("a"), None, 0, None),
            op(1, get(), Some("a"), 20, Some(30)),
        ];
        assert!(check_linearizable(&pending).is_ok());
    }
}
