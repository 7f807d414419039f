//! The exactly-once check of a KV fuzzing run: every value written carries a token
//! `<n>` of its own, so no value read may hold a token twice, and the final read of a
//! key that was only ever appended to holds every append that returned, once.

use std::collections::{BTreeMap, BTreeSet};

use kv_core::Op;

use crate::kv::RecordedOp;

/// The tokens `<n>` in `value`, in order.
pub fn tokens(value: &str) -> Vec<u64> {
    let mut found = Vec::new();
    let mut rest = value;
    while let Some(open) = rest.find('<') {
        rest = &rest[open + 1..];
        let Some(close) = rest.find('>') else {
            break;
        };
        if let Ok(n) = rest[..close].parse() {
            found.push(n);
        }
        rest = &rest[close + 1..];
    }
    found
}

/// Checks the history: no Get read a token twice; and for each key never Put, its last
/// read (the liveness phase's final read) holds every append that returned, once.
pub fn check_exactly_once(ops: &[RecordedOp]) -> Result<(), String> {
    let mut last_read: BTreeMap<&str, &str> = BTreeMap::new();
    for op in ops {
        let (Op::Get { key }, Some(output)) = (&op.op, &op.output) else {
            continue;
        };
        let mut seen = BTreeSet::new();
        for token in tokens(output) {
            if !seen.insert(token) {
                return Err(format!(
                    "the value <{token}> was applied twice: clerk {} read Get({key}) -> {}",
                    op.client,
                    crate::applier::show(output.as_bytes())
                ));
            }
        }
        last_read.insert(&**key, output.as_str());
    }
    let put: BTreeSet<&str> = ops
        .iter()
        .filter_map(|op| match &op.op {
            Op::Put { key, .. } => Some(&**key),
            _ => None,
        })
        .collect();
    for op in ops {
        let (Op::Append { key, value }, Some(_)) = (&op.op, op.ret) else {
            continue;
        };
        if put.contains(&**key) {
            continue;
        }
        let Some(&last) = last_read.get(&**key) else {
            continue;
        };
        for token in tokens(value) {
            if !tokens(last).contains(&token) {
                return Err(format!(
                    "Append({key}, <{token}>) by clerk {} returned but the last read of {key} lacks it: {}",
                    op.client,
                    crate::applier::show(last.as_bytes())
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(client: usize, op: Op, output: Option<&str>) -> RecordedOp {
        RecordedOp {
            client,
            op,
            output: output.map(str::to_string),
            call: 0,
            ret: output.map(|_| 1),
        }
    }

    #[test]
    fn a_value_applied_twice_or_lost_is_caught() {
        assert_eq!(tokens("<1>..<22>.<x>"), vec![1, 22]);
        let append = |v: &str| Op::Append {
            key: "k0".into(),
            value: v.into(),
        };
        let get = || Op::Get { key: "k0".into() };
        let ok = vec![
            op(0, append("<1>."), Some("")),
            op(1, append("<2>."), Some("")),
            op(2, get(), Some("<2>.<1>.")),
        ];
        check_exactly_once(&ok).unwrap();
        let twice = vec![
            op(0, append("<1>."), Some("")),
            op(2, get(), Some("<1>.<1>.")),
        ];
        assert!(check_exactly_once(&twice).unwrap_err().contains("twice"));
        let lost = vec![
            op(0, append("<1>."), Some("")),
            op(1, append("<2>."), Some("")),
            op(2, get(), Some("<2>.")),
        ];
        assert!(check_exactly_once(&lost).unwrap_err().contains("lacks"));
        // A pending append may or may not have happened.
        let pending = vec![op(0, append("<1>."), None), op(2, get(), Some(""))];
        check_exactly_once(&pending).unwrap();
    }
}
