//! The client's chat request body as the gateway keeps it: every top-level field but
//! `messages` as a tree (routing, checks and translations read them), `messages` as the
//! client's JSON text.
//!
//! The conversation is most of a request (a voice agent's prompt is kilobytes) and nothing on
//! the OpenAI path needs to look inside it: kept as text it is forwarded upstream and written
//! into the record byte for byte. Parsed into a tree, its strings were re-encoded twice per
//! request; under callgrind that was ~19 instructions per prompt byte (BENCHMARKS.md, [perf]).
//! Adapters that translate it (Anthropic) and the continuation that extends it parse it.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// A chat request body, `messages` kept as text.
#[derive(Debug, Clone, Default)]
pub struct RequestBody {
    /// Every top-level field but `messages` (in key order: a `serde_json::Map`).
    pub fields: Map<String, Value>,
    /// `messages`, as the client's JSON text (any JSON value: the gateway checks it is an
    /// array before it routes).
    pub messages: Option<Box<RawValue>>,
}

impl RequestBody {
    /// A body of `fields` and the tree `messages` (continuations, tests).
    pub fn new(fields: Map<String, Value>, messages: &Value) -> RequestBody {
        RequestBody {
            fields,
            messages: serde_json::value::to_raw_value(messages).ok(),
        }
    }

    /// Splits a whole body object (its `messages` field moved out as text).
    pub fn from_object(mut object: Map<String, Value>) -> RequestBody {
        let messages = object.remove("messages");
        let mut body = RequestBody {
            fields: object,
            messages: None,
        };
        if let Some(messages) = messages {
            body.messages = serde_json::value::to_raw_value(&messages).ok();
        }
        body
    }

    /// `messages` parsed into a tree (`None` when absent).
    pub fn messages_value(&self) -> Option<Value> {
        let raw = self.messages.as_ref()?;
        serde_json::from_str(raw.get()).ok()
    }
}

impl<'de> Deserialize<'de> for RequestBody {
    /// Reads a JSON object; `messages` is taken as text, the rest as trees. The last of
    /// repeated keys wins, as with a `Map`.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<RequestBody, D::Error> {
        struct BodyVisitor;
        impl<'de> Visitor<'de> for BodyVisitor {
            type Value = RequestBody;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RequestBody, A::Error> {
                let mut body = RequestBody::default();
                while let Some(key) = map.next_key::<String>()? {
                    if key == "messages" {
                        body.messages = Some(map.next_value::<Box<RawValue>>()?);
                    } else {
                        let value: Value = map.next_value()?;
                        body.fields.insert(key, value);
                    }
                }
                Ok(body)
            }
        }
        deserializer.deserialize_map(BodyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn messages_are_kept_as_the_clients_text_and_the_rest_as_trees() {
        let text = r#"{"model":"m","messages": [ {"role":"user","content":"h\u00e9"} ],"n":1}"#;
        let body: RequestBody = serde_json::from_str(text).unwrap();
        assert_eq!(
            body.messages.as_ref().unwrap().get(),
            r#"[ {"role":"user","content":"h\u00e9"} ]"#
        );
        assert_eq!(
            body.fields,
            *json!({"model": "m", "n": 1}).as_object().unwrap()
        );
        assert_eq!(
            body.messages_value().unwrap(),
            json!([{"role": "user", "content": "hé"}])
        );
        assert!(serde_json::from_str::<RequestBody>("[1]").is_err());
        let split = RequestBody::from_object(
            json!({"model": "m", "messages": []})
                .as_object()
                .unwrap()
                .clone(),
        );
        assert_eq!(split.messages.unwrap().get(), "[]");
        assert!(!split.fields.contains_key("messages"));
    }
}
