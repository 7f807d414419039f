//! The key/value model of the lab's porcupine checker (`models/kv.go`): Get, Put and
//! Append on string keys, every key starting as "", histories partitioned by key.
//!
//! The state of one key is a [`KvState`]: the value as a persistent list of the pieces
//! put or appended, so that an append costs the size of the piece, not of the value, and
//! every memo entry of the search shares the value's earlier pieces.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::rc::Rc;

use serde_json::{json, Value};

use crate::linearizability::history::{object, string_field, JsonModel, LineError, Operation};
use crate::linearizability::model::{Model, Partition};

/// Get, Put or Append (the lab's op codes 0, 1 and 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KvOp {
    /// Read the key's value.
    Get,
    /// Replace the key's value.
    Put,
    /// Add to the end of the key's value.
    Append,
}

/// A client's request, as the lab records it (`KvInput{Op, Key, Value}`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KvInput {
    /// The operation.
    pub op: KvOp,
    /// The key.
    pub key: String,
    /// The value put or appended ("" for a get).
    pub value: String,
}

impl KvInput {
    /// A get of `key`.
    pub fn get(key: impl Into<String>) -> KvInput {
        KvInput {
            op: KvOp::Get,
            key: key.into(),
            value: String::new(),
        }
    }

    /// A put of `value` at `key`.
    pub fn put(key: impl Into<String>, value: impl Into<String>) -> KvInput {
        KvInput {
            op: KvOp::Put,
            key: key.into(),
            value: value.into(),
        }
    }

    /// An append of `value` to `key`.
    pub fn append(key: impl Into<String>, value: impl Into<String>) -> KvInput {
        KvInput {
            op: KvOp::Append,
            key: key.into(),
            value: value.into(),
        }
    }
}

/// What a client got back: the value read by a get ("" for put and append).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct KvOutput {
    /// The value read.
    pub value: String,
}

impl KvOutput {
    /// The answer `value`.
    pub fn new(value: impl Into<String>) -> KvOutput {
        KvOutput {
            value: value.into(),
        }
    }
}

/// The lab's KV model.
#[derive(Clone, Copy, Debug, Default)]
pub struct KvModel;

/// The value of one key, as a persistent list of pieces (newest first): clones share
/// them, an append adds one. Equality is by content: `put("ab")` equals `put("a")` then
/// `append("b")`.
#[derive(Clone, Default)]
pub struct KvState {
    len: usize,
    /// A polynomial hash of the content, kept as pieces are added.
    content_hash: u64,
    last: Option<Rc<Piece>>,
}

struct Piece {
    text: Box<str>,
    before: Option<Rc<Piece>>,
}

impl Drop for Piece {
    // A long chain dropped recursively would overflow the stack: unlink it in a loop.
    fn drop(&mut self) {
        let mut next = self.before.take();
        while let Some(piece) = next {
            match Rc::try_unwrap(piece) {
                Ok(mut piece) => next = piece.before.take(),
                Err(_) => break,
            }
        }
    }
}

const HASH_BASE: u64 = 0x0000_0100_0000_01b3;

fn extend_hash(mut hash: u64, text: &str) -> u64 {
    for byte in text.bytes() {
        hash = hash
            .wrapping_mul(HASH_BASE)
            .wrapping_add(u64::from(byte) + 1);
    }
    hash
}

impl KvState {
    /// The value `text`.
    pub fn new(text: &str) -> KvState {
        KvState::default().appended(text)
    }

    /// This value with `text` added at its end.
    pub fn appended(&self, text: &str) -> KvState {
        if text.is_empty() {
            return self.clone();
        }
        KvState {
            len: self.len + text.len(),
            content_hash: extend_hash(self.content_hash, text),
            last: Some(Rc::new(Piece {
                text: text.into(),
                before: self.last.clone(),
            })),
        }
    }

    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True for "".
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The pieces, newest first.
    fn pieces(&self) -> impl Iterator<Item = &str> {
        std::iter::successors(self.last.as_deref(), |piece| piece.before.as_deref())
            .map(|piece| &*piece.text)
    }

    /// True if the value is `text` (cheap when the lengths differ).
    pub fn equals_str(&self, text: &str) -> bool {
        if self.len != text.len() {
            return false;
        }
        let mut end = text.len();
        for piece in self.pieces() {
            let start = end - piece.len();
            if text.as_bytes()[start..end] != *piece.as_bytes() {
                return false;
            }
            end = start;
        }
        true
    }

    /// Whether the value is a prefix of `text`.
    pub fn is_prefix_of(&self, text: &str) -> bool {
        if self.len > text.len() {
            return false;
        }
        let mut end = self.len;
        for piece in self.pieces() {
            let start = end - piece.len();
            if text.as_bytes()[start..end] != *piece.as_bytes() {
                return false;
            }
            end = start;
        }
        true
    }

    /// The value as one string.
    pub fn to_text(&self) -> String {
        let mut pieces: Vec<&str> = self.pieces().collect();
        pieces.reverse();
        pieces.concat()
    }
}

/// Compares the contents of two values from their ends, piece by piece.
fn same_content(a: &KvState, b: &KvState) -> bool {
    let mut a_pieces = a.pieces().map(str::as_bytes);
    let mut b_pieces = b.pieces().map(str::as_bytes);
    let (mut a_rest, mut b_rest): (&[u8], &[u8]) = (&[], &[]);
    loop {
        if a_rest.is_empty() {
            match a_pieces.next() {
                Some(piece) => a_rest = piece,
                None => return b_rest.is_empty() && b_pieces.all(<[u8]>::is_empty),
            }
            continue;
        }
        if b_rest.is_empty() {
            match b_pieces.next() {
                Some(piece) => b_rest = piece,
                None => return false,
            }
            continue;
        }
        let n = a_rest.len().min(b_rest.len());
        let (a_head, a_tail) = a_rest.split_at(a_rest.len() - n);
        let (b_head, b_tail) = b_rest.split_at(b_rest.len() - n);
        if a_tail != b_tail {
            return false;
        }
        a_rest = a_head;
        b_rest = b_head;
    }
}

impl PartialEq for KvState {
    fn eq(&self, other: &KvState) -> bool {
        if self.len != other.len || self.content_hash != other.content_hash {
            return false;
        }
        let same_list = match (&self.last, &other.last) {
            (Some(a), Some(b)) => Rc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        };
        same_list || same_content(self, other)
    }
}

impl Eq for KvState {}

impl Hash for KvState {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.len.hash(state);
        self.content_hash.hash(state);
    }
}

impl std::fmt::Debug for KvState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.to_text())
    }
}

impl Model for KvModel {
    type Input = KvInput;
    type Output = KvOutput;
    type State = KvState;

    fn init(&self) -> KvState {
        KvState::default()
    }

    fn step(&self, state: &KvState, input: &KvInput, output: Option<&KvOutput>) -> Option<KvState> {
        match input.op {
            KvOp::Get => match output {
                Some(output) if !state.equals_str(&output.value) => None,
                _ => Some(state.clone()),
            },
            KvOp::Put => Some(KvState::new(&input.value)),
            KvOp::Append => Some(state.appended(&input.value)),
        }
    }

    fn is_read_only(&self, input: &KvInput) -> bool {
        input.op == KvOp::Get
    }

    /// Gets and appends only ever extend a value.
    fn is_monotone(&self, input: &KvInput) -> bool {
        input.op != KvOp::Put
    }

    /// Appends only extend a value, so a get can still read `output` later only if the
    /// value now is a prefix of it.
    fn may_lead_to(&self, state: &KvState, input: &KvInput, output: &KvOutput) -> bool {
        input.op != KvOp::Get || state.is_prefix_of(&output.value)
    }

    /// One partition per key, in key order.
    fn partition(&self, history: &[Operation<KvInput, KvOutput>]) -> Vec<Partition> {
        let mut by_key: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (index, operation) in history.iter().enumerate() {
            by_key.entry(&operation.input.key).or_default().push(index);
        }
        by_key
            .into_iter()
            .map(|(key, operations)| Partition {
                name: format!("key {key:?}"),
                operations,
            })
            .collect()
    }

    fn describe_operation(&self, input: &KvInput, output: Option<&KvOutput>) -> String {
        match input.op {
            KvOp::Get => match output {
                Some(output) => format!("get({:?}) -> {:?}", input.key, output.value),
                None => format!("get({:?}) -> ?", input.key),
            },
            KvOp::Put => format!("put({:?}, {:?})", input.key, input.value),
            KvOp::Append => format!("append({:?}, {:?})", input.key, input.value),
        }
    }

    fn describe_state(&self, state: &KvState) -> String {
        format!("{:?}", state.to_text())
    }
}

impl JsonModel for KvModel {
    fn name(&self) -> &'static str {
        "kv"
    }

    /// `{"op": "get"|"put"|"append", "key": K, "value": V}`; no value for a get.
    fn parse_input(&self, input: &Value) -> Result<KvInput, LineError> {
        let fields = object(input, "input")?;
        let op = match fields.get("op") {
            None => return Err(LineError::MissingField("input.op")),
            Some(Value::String(op)) => match op.as_str() {
                "get" => KvOp::Get,
                "put" => KvOp::Put,
                "append" => KvOp::Append,
                _ => {
                    return Err(LineError::UnknownOp {
                        op: op.clone(),
                        model: "kv",
                        known: "get, put, append",
                    })
                }
            },
            Some(_) => {
                return Err(LineError::WrongType {
                    field: "input.op",
                    expected: "a string",
                })
            }
        };
        let key = string_field(fields, "key").map_err(|e| rename(e, "input.key"))?;
        let value = match op {
            KvOp::Get => String::new(),
            KvOp::Put | KvOp::Append => {
                string_field(fields, "value").map_err(|e| rename(e, "input.value"))?
            }
        };
        Ok(KvInput { op, key, value })
    }

    /// `{"value": V}` for a get; put and append have no output (absent, `{}` or a value).
    fn parse_output(&self, input: &KvInput, output: Option<&Value>) -> Result<KvOutput, LineError> {
        let Some(output) = output else {
            return match input.op {
                KvOp::Get => Err(LineError::MissingField("output")),
                KvOp::Put | KvOp::Append => Ok(KvOutput::default()),
            };
        };
        let fields = object(output, "output")?;
        match (input.op, fields.contains_key("value")) {
            (KvOp::Put | KvOp::Append, false) => Ok(KvOutput::default()),
            _ => Ok(KvOutput {
                value: string_field(fields, "value").map_err(|e| rename(e, "output.value"))?,
            }),
        }
    }

    fn input_json(&self, input: &KvInput) -> Value {
        match input.op {
            KvOp::Get => json!({"op": "get", "key": input.key}),
            KvOp::Put => json!({"op": "put", "key": input.key, "value": input.value}),
            KvOp::Append => json!({"op": "append", "key": input.key, "value": input.value}),
        }
    }

    fn output_json(&self, output: &KvOutput) -> Value {
        json!({"value": output.value})
    }
}

/// Names a nested field in full.
pub(crate) fn rename(error: LineError, field: &'static str) -> LineError {
    match error {
        LineError::MissingField(_) => LineError::MissingField(field),
        LineError::WrongType { expected, .. } => LineError::WrongType { field, expected },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_compare_by_content_whatever_their_pieces() {
        let whole = KvState::new("abcdef");
        let pieces = KvState::new("a")
            .appended("bc")
            .appended("")
            .appended("def");
        let other = KvState::new("abc").appended("deg");
        assert_eq!(whole, pieces);
        assert_ne!(whole, other);
        assert_ne!(whole, KvState::new("abcde"));
        assert!(pieces.equals_str("abcdef"));
        assert!(!pieces.equals_str("abcdeg"));
        assert!(!pieces.equals_str("abcde"));
        assert_eq!(pieces.to_text(), "abcdef");
        assert!(KvState::default().equals_str(""));
        assert_eq!(KvState::default(), KvState::new(""));
    }

    #[test]
    fn a_long_value_drops_without_recursion() {
        let mut state = KvState::default();
        for n in 0..200_000 {
            state = state.appended(&format!("x 0 {n} y"));
        }
        assert!(state.len() > 1_000_000);
        drop(state);
    }

    #[test]
    fn get_put_append_follow_the_lab_model() {
        let model = KvModel;
        let s0 = model.init();
        let s1 = model.step(&s0, &KvInput::put("k", "a"), None).unwrap();
        let s2 = model.step(&s1, &KvInput::append("k", "b"), None).unwrap();
        assert!(model
            .step(&s2, &KvInput::get("k"), Some(&KvOutput::new("ab")))
            .is_some());
        assert!(model
            .step(&s2, &KvInput::get("k"), Some(&KvOutput::new("a")))
            .is_none());
        assert!(model.step(&s2, &KvInput::get("k"), None).is_some());
    }
}
