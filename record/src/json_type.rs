//! Names of JSON types, for messages that tell a client what it sent instead.

use serde_json::Value;

/// `"a string"`, `"an array"`, ...: the type of `value` as a sentence names it.
pub fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
