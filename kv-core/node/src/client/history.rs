//! The operations a load run records, written in the JSON-lines history format that
//! `raftlab check` reads (one operation per line; times in microseconds since the load
//! started; `"return": null` for an operation that never returned):
//!
//! ```text
//! {"client":0,"input":{"op":"append","key":"k3","value":"[c0.7]"},"output":{},"call":1200,"return":3400}
//! {"client":1,"input":{"op":"get","key":"k3"},"output":{"value":"[c0.7]"},"call":3500,"return":5100}
//! ```

use std::io::{self, Write};

use kv_core::{Op, OpKind};
use serde_json::{json, Value};

/// One operation as a client saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryOp {
    /// The load's client number (0, 1, ...).
    pub client: u64,
    /// What was asked.
    pub op: Op,
    /// The value a Get read; `None` for a Put, an Append, or anything that never returned.
    pub read: Option<String>,
    /// When it was called.
    pub call_micros: u64,
    /// When it returned; `None` if it never did (it may still take effect).
    pub return_micros: Option<u64>,
}

impl HistoryOp {
    /// The operation's JSON line (without the newline).
    pub fn to_json(&self) -> Value {
        let input = match &self.op {
            Op::Get { key } => json!({"op": "get", "key": &**key}),
            Op::Put { key, value } => json!({"op": "put", "key": &**key, "value": &**value}),
            Op::Append { key, value } => {
                json!({"op": "append", "key": &**key, "value": &**value})
            }
        };
        let mut line = json!({
            "client": self.client,
            "input": input,
            "call": self.call_micros,
            "return": self.return_micros,
        });
        if self.return_micros.is_some() {
            line["output"] = match (&self.op.kind(), &self.read) {
                (OpKind::Get, Some(value)) => json!({ "value": value }),
                _ => json!({}),
            };
        }
        line
    }
}

/// Writes `history` as JSON lines.
pub fn write_history(out: &mut impl Write, history: &[HistoryOp]) -> io::Result<()> {
    for op in history {
        writeln!(out, "{}", op.to_json())?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lines_are_what_raftlab_check_reads() {
        let history = vec![
            HistoryOp {
                client: 0,
                op: Op::Append {
                    key: "k".into(),
                    value: "[c0.1]".into(),
                },
                read: None,
                call_micros: 10,
                return_micros: Some(25),
            },
            HistoryOp {
                client: 1,
                op: Op::Get { key: "k".into() },
                read: Some("[c0.1]".into()),
                call_micros: 30,
                return_micros: Some(40),
            },
            HistoryOp {
                client: 2,
                op: Op::Put {
                    key: "k".into(),
                    value: "v".into(),
                },
                read: None,
                call_micros: 50,
                return_micros: None,
            },
        ];
        let mut text = Vec::new();
        write_history(&mut text, &history).unwrap();
        let text = String::from_utf8(text).unwrap();
        let model = sim::linearizability::KvModel;
        let parsed = sim::linearizability::parse_history(&model, &text).unwrap();
        assert_eq!(parsed.len(), 3);
        assert_eq!(parsed[1].output.as_ref().unwrap().value, "[c0.1]");
        assert_eq!(parsed[2].return_time, None);
        let result =
            sim::linearizability::check(&model, &parsed, sim::linearizability::Budget::DEFAULT, 1)
                .unwrap();
        assert!(result.is_ok());
    }
}
