//! One register with read, write and compare-and-swap, the shape of Jepsen's etcd
//! histories, so that histories of other systems can be checked. The register starts
//! empty (Jepsen's `nil`); values are integers or strings.

use std::fmt;

use serde_json::{json, Map, Value};

use crate::linearizability::history::{object, JsonModel, LineError};
use crate::linearizability::model::Model;

/// A value held by the register.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RegisterValue {
    /// An integer.
    Int(i64),
    /// A string.
    Text(String),
}

impl fmt::Display for RegisterValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegisterValue::Int(value) => write!(f, "{value}"),
            RegisterValue::Text(text) => write!(f, "{text:?}"),
        }
    }
}

/// A request to the register.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RegisterInput {
    /// Read the value.
    Read,
    /// Set the value.
    Write(RegisterValue),
    /// Set the value to `to` if it is `from`.
    Cas {
        /// The value expected.
        from: RegisterValue,
        /// The value to set.
        to: RegisterValue,
    },
}

/// What came back.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RegisterOutput {
    /// The value read; `None` if the register was never written.
    Read(Option<RegisterValue>),
    /// A write was acknowledged.
    Written,
    /// Whether a compare-and-swap swapped.
    Cas(bool),
}

/// The register model; the state is the value, `None` before the first write.
#[derive(Clone, Copy, Debug, Default)]
pub struct RegisterModel;

impl Model for RegisterModel {
    type Input = RegisterInput;
    type Output = RegisterOutput;
    type State = Option<RegisterValue>;

    fn init(&self) -> Self::State {
        None
    }

    fn step(
        &self,
        state: &Self::State,
        input: &RegisterInput,
        output: Option<&RegisterOutput>,
    ) -> Option<Self::State> {
        match (input, output) {
            (RegisterInput::Read, None) => Some(state.clone()),
            (RegisterInput::Read, Some(RegisterOutput::Read(read))) => {
                (read == state).then(|| state.clone())
            }
            (RegisterInput::Write(value), None | Some(RegisterOutput::Written)) => {
                Some(Some(value.clone()))
            }
            (RegisterInput::Cas { from, to }, output) => {
                let matches = state.as_ref() == Some(from);
                match output {
                    None => Some(if matches {
                        Some(to.clone())
                    } else {
                        state.clone()
                    }),
                    Some(RegisterOutput::Cas(true)) => matches.then(|| Some(to.clone())),
                    Some(RegisterOutput::Cas(false)) => (!matches).then(|| state.clone()),
                    Some(_) => None,
                }
            }
            // An output of another kind of operation: no state answers that.
            (RegisterInput::Read | RegisterInput::Write(_), Some(_)) => None,
        }
    }

    fn is_read_only(&self, input: &RegisterInput) -> bool {
        matches!(input, RegisterInput::Read)
    }

    fn describe_operation(&self, input: &RegisterInput, output: Option<&RegisterOutput>) -> String {
        let answer = match output {
            None => "?".to_string(),
            Some(RegisterOutput::Read(value)) => describe_value(value.as_ref()),
            Some(RegisterOutput::Written) => "ok".to_string(),
            Some(RegisterOutput::Cas(ok)) => ok.to_string(),
        };
        match input {
            RegisterInput::Read => format!("read() -> {answer}"),
            RegisterInput::Write(value) => match output {
                None => format!("write({value}) -> ?"),
                Some(_) => format!("write({value})"),
            },
            RegisterInput::Cas { from, to } => format!("cas({from}, {to}) -> {answer}"),
        }
    }

    fn describe_state(&self, state: &Self::State) -> String {
        describe_value(state.as_ref())
    }
}

fn describe_value(value: Option<&RegisterValue>) -> String {
    value.map_or_else(|| "nil".to_string(), ToString::to_string)
}

fn parse_value(
    fields: &Map<String, Value>,
    field: &'static str,
    name: &'static str,
) -> Result<Option<RegisterValue>, LineError> {
    match fields.get(field) {
        None => Err(LineError::MissingField(name)),
        Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(RegisterValue::Text(text.clone()))),
        Some(value) => {
            value
                .as_i64()
                .map(|n| Some(RegisterValue::Int(n)))
                .ok_or(LineError::WrongType {
                    field: name,
                    expected: "an integer, a string or null",
                })
        }
    }
}

fn required_value(
    fields: &Map<String, Value>,
    field: &'static str,
    name: &'static str,
) -> Result<RegisterValue, LineError> {
    parse_value(fields, field, name)?.ok_or(LineError::WrongType {
        field: name,
        expected: "an integer or a string",
    })
}

fn value_json(value: Option<&RegisterValue>) -> Value {
    match value {
        None => Value::Null,
        Some(RegisterValue::Int(n)) => json!(n),
        Some(RegisterValue::Text(text)) => json!(text),
    }
}

impl JsonModel for RegisterModel {
    fn name(&self) -> &'static str {
        "register"
    }

    /// `{"op": "read"}`, `{"op": "write", "value": V}` or `{"op": "cas", "from": V, "to": V}`.
    fn parse_input(&self, input: &Value) -> Result<RegisterInput, LineError> {
        let fields = object(input, "input")?;
        match fields.get("op") {
            None => Err(LineError::MissingField("input.op")),
            Some(Value::String(op)) => match op.as_str() {
                "read" => Ok(RegisterInput::Read),
                "write" => Ok(RegisterInput::Write(required_value(
                    fields,
                    "value",
                    "input.value",
                )?)),
                "cas" => Ok(RegisterInput::Cas {
                    from: required_value(fields, "from", "input.from")?,
                    to: required_value(fields, "to", "input.to")?,
                }),
                _ => Err(LineError::UnknownOp {
                    op: op.clone(),
                    model: "register",
                    known: "read, write, cas",
                }),
            },
            Some(_) => Err(LineError::WrongType {
                field: "input.op",
                expected: "a string",
            }),
        }
    }

    /// A read: `{"value": V}` (null if never written); a write: nothing (absent or `{}`);
    /// a compare-and-swap: `{"ok": true|false}`.
    fn parse_output(
        &self,
        input: &RegisterInput,
        output: Option<&Value>,
    ) -> Result<RegisterOutput, LineError> {
        let Some(output) = output else {
            return match input {
                RegisterInput::Write(_) => Ok(RegisterOutput::Written),
                RegisterInput::Read | RegisterInput::Cas { .. } => {
                    Err(LineError::MissingField("output"))
                }
            };
        };
        let fields = object(output, "output")?;
        match input {
            RegisterInput::Read => Ok(RegisterOutput::Read(parse_value(
                fields,
                "value",
                "output.value",
            )?)),
            RegisterInput::Write(_) => Ok(RegisterOutput::Written),
            RegisterInput::Cas { .. } => match fields.get("ok") {
                None => Err(LineError::MissingField("output.ok")),
                Some(Value::Bool(ok)) => Ok(RegisterOutput::Cas(*ok)),
                Some(_) => Err(LineError::WrongType {
                    field: "output.ok",
                    expected: "true or false",
                }),
            },
        }
    }

    fn input_json(&self, input: &RegisterInput) -> Value {
        match input {
            RegisterInput::Read => json!({"op": "read"}),
            RegisterInput::Write(value) => json!({"op": "write", "value": value_json(Some(value))}),
            RegisterInput::Cas { from, to } => json!({
                "op": "cas",
                "from": value_json(Some(from)),
                "to": value_json(Some(to)),
            }),
        }
    }

    fn output_json(&self, output: &RegisterOutput) -> Value {
        match output {
            RegisterOutput::Read(value) => json!({"value": value_json(value.as_ref())}),
            RegisterOutput::Written => json!({}),
            RegisterOutput::Cas(ok) => json!({"ok": ok}),
        }
    }
}
