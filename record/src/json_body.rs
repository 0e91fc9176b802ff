//! A part of a request body in the record (`input`): the client's JSON text as it came, or a
//! tree built for it.

use serde::{Serialize, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;

/// JSON the record carries: kept as the client's text where the proxy has it (written into the
/// record byte for byte: re-encoding a prompt's strings was the largest cost of a record with a
/// long prompt), or as a tree where something built or edited it.
#[derive(Debug, Clone)]
pub enum JsonBody {
    /// Valid JSON text, as it came.
    Raw(Box<RawValue>),
    /// A tree.
    Tree(Value),
}

impl JsonBody {
    /// The JSON as a tree (the raw text parsed; it is valid JSON, so nothing is lost).
    pub fn into_value(self) -> Value {
        match self {
            JsonBody::Raw(raw) => serde_json::from_str(raw.get()).unwrap_or(Value::Null),
            JsonBody::Tree(value) => value,
        }
    }

    /// The JSON as a tree to edit in place (raw text is parsed into one first).
    pub fn value_mut(&mut self) -> &mut Value {
        if let JsonBody::Raw(raw) = self {
            *self = JsonBody::Tree(serde_json::from_str(raw.get()).unwrap_or(Value::Null));
        }
        match self {
            JsonBody::Tree(value) => value,
            JsonBody::Raw(_) => unreachable!("turned into a tree above"),
        }
    }
}

impl From<Value> for JsonBody {
    fn from(value: Value) -> JsonBody {
        JsonBody::Tree(value)
    }
}

impl Serialize for JsonBody {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            JsonBody::Raw(raw) => raw.serialize(serializer),
            JsonBody::Tree(value) => value.serialize(serializer),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_text_is_written_as_it_came_and_reads_as_the_same_tree() {
        let text = r#"[ {"role":"user","content":"h\u00e9 \"x\""} ]"#;
        let raw = JsonBody::Raw(RawValue::from_string(text.to_owned()).unwrap());
        assert_eq!(serde_json::to_string(&raw).unwrap(), text);
        let mut edited = raw.clone();
        edited.value_mut()[0]["content"] = Value::from("y");
        assert_eq!(raw.into_value()[0]["content"], "hé \"x\"");
        assert_eq!(
            serde_json::to_string(&edited).unwrap(),
            r#"[{"content":"y","role":"user"}]"#
        );
    }
}
