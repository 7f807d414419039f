//! Operations of a history, the JSON-lines history format (parsing and writing), and the
//! typed errors of bad input.
//!
//! One operation per line, in any order:
//!
//! ```text
//! {"client": 1, "input": {"op": "append", "key": "k", "value": "x 1 0 y"}, "output": {}, "call": 10, "return": 25}
//! {"client": 2, "input": {"op": "get", "key": "k"}, "output": {"value": "x 1 0 y"}, "call": 12, "return": 30}
//! {"client": 3, "input": {"op": "put", "key": "k", "value": "v"}, "call": 40, "return": null}
//! ```
//!
//! `client` is an unsigned integer, `call` and `return` unsigned integers in any one unit
//! (`return` is `null` if the operation never returned; then `output` must be absent or
//! `null`). `input` and `output` are the model's (see [`JsonModel`]). Blank lines are
//! skipped; fields not named here are ignored.

use serde_json::{Map, Value};
use thiserror::Error;

/// One operation of a history, as a client saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation<I, O> {
    /// Who issued it (one row of the view per client).
    pub client_id: u64,
    /// What was asked.
    pub input: I,
    /// What came back; `None` if it is unknown (the operation never returned, or its
    /// answer was lost). The checker ignores it when `return_time` is `None`.
    pub output: Option<O>,
    /// When it was called.
    pub call: u64,
    /// When it returned; `None` if it never did (it may take effect at any later time,
    /// or never).
    pub return_time: Option<u64>,
}

impl<I, O> Operation<I, O> {
    /// An operation that returned `output` at `return_time`.
    pub fn returned(client_id: u64, input: I, output: O, call: u64, return_time: u64) -> Self {
        Operation {
            client_id,
            input,
            output: Some(output),
            call,
            return_time: Some(return_time),
        }
    }

    /// An operation that was called and never returned.
    pub fn pending(client_id: u64, input: I, call: u64) -> Self {
        Operation {
            client_id,
            input,
            output: None,
            call,
            return_time: None,
        }
    }

    /// The output the checker uses: `None` unless the operation returned.
    pub fn known_output(&self) -> Option<&O> {
        self.return_time.and(self.output.as_ref())
    }
}

/// A history that cannot be checked.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum HistoryError {
    /// A line of a history file is wrong (lines count from 1).
    #[error("line {line}: {error}")]
    Line {
        /// The line number, from 1.
        line: usize,
        /// What is wrong with it.
        error: LineError,
    },
    /// An operation handed to the checker returns before its call.
    #[error("operation {index}: returns at {return_time}, before its call at {call}")]
    ReturnBeforeCall {
        /// Its index in the history.
        index: usize,
        /// Its call time.
        call: u64,
        /// Its return time.
        return_time: u64,
    },
}

/// What is wrong with one line of a history file.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum LineError {
    /// Not JSON.
    #[error("malformed JSON: {0}")]
    Malformed(String),
    /// JSON, but not an object.
    #[error("expected a JSON object, one operation per line")]
    NotAnObject,
    /// A required field is absent.
    #[error("missing field `{0}`")]
    MissingField(&'static str),
    /// A field has the wrong type.
    #[error("field `{field}` must be {expected}")]
    WrongType {
        /// The field.
        field: &'static str,
        /// What it must be.
        expected: &'static str,
    },
    /// The input names an operation the model does not have.
    #[error("unknown operation `{op}` (the {model} model has {known})")]
    UnknownOp {
        /// The name given.
        op: String,
        /// The model.
        model: &'static str,
        /// The names it knows.
        known: &'static str,
    },
    /// The return time precedes the call time.
    #[error("returns at {return_time}, before its call at {call}")]
    ReturnBeforeCall {
        /// The call time.
        call: u64,
        /// The return time.
        return_time: u64,
    },
    /// An output is given although the operation never returned.
    #[error(
        "an output is given but `return` is null (an operation that never returned has no output)"
    )]
    OutputWithoutReturn,
}

/// A model whose inputs and outputs have a JSON form, so that its histories can be read
/// from and written to history files.
pub trait JsonModel: super::Model {
    /// The model's name in the CLI (`--model`).
    fn name(&self) -> &'static str;
    /// Reads an input object.
    fn parse_input(&self, input: &Value) -> Result<Self::Input, LineError>;
    /// Reads the output of `input`; `output` is `None` when the field is absent or null.
    fn parse_output(
        &self,
        input: &Self::Input,
        output: Option<&Value>,
    ) -> Result<Self::Output, LineError>;
    /// The JSON form of an input.
    fn input_json(&self, input: &Self::Input) -> Value;
    /// The JSON form of an output.
    fn output_json(&self, output: &Self::Output) -> Value;
}

/// An operation of `model`'s history.
pub type ModelOperation<M> = Operation<<M as super::Model>::Input, <M as super::Model>::Output>;

/// Reads a JSON-lines history. Operation `i` of the result is the `i`-th non-blank line.
pub fn parse_history<M: JsonModel>(
    model: &M,
    text: &str,
) -> Result<Vec<ModelOperation<M>>, HistoryError> {
    let mut history = Vec::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let operation = parse_line(model, line).map_err(|error| HistoryError::Line {
            line: number + 1,
            error,
        })?;
        history.push(operation);
    }
    Ok(history)
}

fn parse_line<M: JsonModel>(model: &M, line: &str) -> Result<ModelOperation<M>, LineError> {
    let value: Value =
        serde_json::from_str(line).map_err(|e| LineError::Malformed(e.to_string()))?;
    let Value::Object(fields) = value else {
        return Err(LineError::NotAnObject);
    };
    let client_id = required_u64(&fields, "client")?;
    let call = required_u64(&fields, "call")?;
    let return_time = match fields.get("return") {
        None => return Err(LineError::MissingField("return")),
        Some(Value::Null) => None,
        Some(value) => Some(value.as_u64().ok_or(LineError::WrongType {
            field: "return",
            expected: "an unsigned integer or null",
        })?),
    };
    if let Some(return_time) = return_time {
        if return_time < call {
            return Err(LineError::ReturnBeforeCall { call, return_time });
        }
    }
    let input = model.parse_input(
        fields
            .get("input")
            .ok_or(LineError::MissingField("input"))?,
    )?;
    let output = fields.get("output").filter(|value| !value.is_null());
    let output = match (return_time, output) {
        (None, None) => None,
        (None, Some(_)) => return Err(LineError::OutputWithoutReturn),
        (Some(_), output) => Some(model.parse_output(&input, output)?),
    };
    Ok(Operation {
        client_id,
        input,
        output,
        call,
        return_time,
    })
}

fn required_u64(fields: &Map<String, Value>, field: &'static str) -> Result<u64, LineError> {
    fields
        .get(field)
        .ok_or(LineError::MissingField(field))?
        .as_u64()
        .ok_or(LineError::WrongType {
            field,
            expected: "an unsigned integer",
        })
}

/// Writes a history in the JSON-lines format, one line per operation (each ending in a
/// newline); [`parse_history`] reads it back.
pub fn history_to_json_lines<M: JsonModel>(model: &M, history: &[ModelOperation<M>]) -> String {
    let mut text = String::new();
    for operation in history {
        let mut line = Map::new();
        line.insert("client".into(), operation.client_id.into());
        line.insert("input".into(), model.input_json(&operation.input));
        if let Some(output) = operation.known_output() {
            line.insert("output".into(), model.output_json(output));
        }
        line.insert("call".into(), operation.call.into());
        line.insert(
            "return".into(),
            operation.return_time.map_or(Value::Null, Value::from),
        );
        text.push_str(&Value::Object(line).to_string());
        text.push('\n');
    }
    text
}

/// A string field of an input or output object.
pub(crate) fn string_field(
    object: &Map<String, Value>,
    field: &'static str,
) -> Result<String, LineError> {
    match object.get(field) {
        None => Err(LineError::MissingField(field)),
        Some(Value::String(text)) => Ok(text.clone()),
        Some(_) => Err(LineError::WrongType {
            field,
            expected: "a string",
        }),
    }
}

/// The object of an `input` (or `output`) field.
pub(crate) fn object<'v>(
    value: &'v Value,
    field: &'static str,
) -> Result<&'v Map<String, Value>, LineError> {
    value.as_object().ok_or(LineError::WrongType {
        field,
        expected: "an object",
    })
}
