//! The verdict as text: one summary line, and the explanation of every partition that
//! is not linearizable or could not be decided (what the CLI prints and what a scenario
//! run reports when its history fails).

use std::fmt::Write as _;

use super::{CheckResult, Model, ModelOperation, Outcome, PartitionResult, Verdict};

/// Texts longer than this are cut in the middle when printed.
pub const TEXT_LIMIT: usize = 400;

/// `text`, or its start and end around a note of how much was cut, within about `limit`
/// characters. The end is kept longer: the newest appends are at the end of a value.
pub fn shorten(text: &str, limit: usize) -> String {
    let chars = text.chars().count();
    if chars <= limit {
        return text.to_string();
    }
    let head = limit / 4;
    let tail = limit - head;
    let start: String = text.chars().take(head).collect();
    let end: String = text.chars().skip(chars - tail).collect();
    format!(
        "{start} …[{} of {chars} chars cut]… {end}",
        chars - head - tail
    )
}

/// E.g. `not linearizable: 1 of 5 partitions illegal; 5000 operations, 81234 steps`.
pub fn summary_line(result: &CheckResult) -> String {
    let partitions = result.partitions.len();
    let count = |verdict| result.partitions_with(verdict).count();
    let verdict = match result.verdict {
        Verdict::Ok => "linearizable".to_string(),
        Verdict::Illegal => format!(
            "NOT LINEARIZABLE: {} of {partitions} partitions illegal",
            count(Verdict::Illegal)
        ),
        Verdict::Unknown => format!(
            "UNKNOWN: {} of {partitions} partitions not decided within {} steps each",
            count(Verdict::Unknown),
            result.budget.0
        ),
    };
    format!(
        "{verdict}; {} operations in {partitions} partitions, {} steps",
        result.operations, result.steps
    )
}

/// One operation: `op 12 (client 3, 100..250): get("k") -> "v"`.
pub fn describe<M: Model>(model: &M, history: &[ModelOperation<M>], index: usize) -> String {
    let operation = &history[index];
    let end = operation
        .return_time
        .map_or_else(|| "never returned".to_string(), |t| t.to_string());
    format!(
        "op {index} (client {}, {}..{end}): {}",
        operation.client_id,
        operation.call,
        shorten(
            &model.describe_operation(&operation.input, operation.known_output()),
            TEXT_LIMIT
        )
    )
}

/// The explanation of every partition that is not `Ok`, one block each; empty if the
/// history is linearizable.
pub fn explain<M: Model>(model: &M, history: &[ModelOperation<M>], result: &CheckResult) -> String {
    let mut text = String::new();
    for partition in &result.partitions {
        explain_partition(&mut text, model, history, partition, result);
    }
    text
}

fn explain_partition<M: Model>(
    text: &mut String,
    model: &M,
    history: &[ModelOperation<M>],
    partition: &PartitionResult,
    result: &CheckResult,
) {
    match &partition.outcome {
        Outcome::Ok { .. } => {}
        Outcome::Unknown => {
            let _ = writeln!(
                text,
                "partition {}: could not decide within {} steps ({} operations)",
                partition.name,
                result.budget.0,
                partition.operations.len()
            );
        }
        Outcome::Illegal {
            prefix,
            unplaceable,
            state,
        } => {
            let _ = writeln!(
                text,
                "partition {}: not linearizable ({} operations, {} steps)",
                partition.name,
                partition.operations.len(),
                partition.steps
            );
            let _ = writeln!(
                text,
                "  longest linearizable prefix: {} operations; the state after it: {}",
                prefix.len(),
                shorten(state, TEXT_LIMIT)
            );
            if let Some(&last) = prefix.last() {
                let _ = writeln!(
                    text,
                    "  its last operation: {}",
                    describe(model, history, last)
                );
            }
            let _ = writeln!(text, "  none of these can take effect next:");
            for (n, &index) in unplaceable.iter().enumerate() {
                let note = if n == 0 {
                    "  <- must take effect before it returns"
                } else {
                    ""
                };
                let _ = writeln!(text, "    {}{note}", describe(model, history, index));
            }
        }
    }
}
