//! Per-request identity and metadata (SPEC section 3): Switchboard's extra body fields and
//! headers, taken out of the request before it goes upstream.

use std::collections::BTreeMap;

use http::{HeaderMap, HeaderName};
use serde_json::{Map, Value};

use switchboard_record::json_type;

use crate::http::error::GatewayError;
use crate::http::header_names;

/// Who and what a request belongs to, for the log record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Identity {
    /// The caller's customer (`customer_identifier`).
    pub customer_identifier: Option<String>,
    /// The conversation, e.g. one phone call (`thread_identifier`).
    pub thread_identifier: Option<String>,
    /// Custom properties, values as strings.
    pub metadata: BTreeMap<String, String>,
    /// Trace id.
    pub trace_unique_id: Option<String>,
    /// This span's id.
    pub span_unique_id: Option<String>,
    /// The parent span's id.
    pub span_parent_id: Option<String>,
    /// This span's name.
    pub span_name: Option<String>,
    /// Keep `input`/`output` out of the record.
    pub disable_log: bool,
    /// Problems that did not fail the request (e.g. a malformed `traceparent`).
    pub warnings: Vec<String>,
}

const STRING_FIELDS: [&str; 6] = [
    "customer_identifier",
    "thread_identifier",
    "trace_unique_id",
    "span_unique_id",
    "span_parent_id",
    "span_name",
];

impl Identity {
    /// Reads headers, then removes Switchboard's fields from `body` (body values win).
    pub fn take(
        body: &mut Map<String, Value>,
        headers: &HeaderMap,
    ) -> Result<Identity, GatewayError> {
        let mut identity = Identity::default();
        identity.read_headers(headers)?;
        for field in STRING_FIELDS {
            if let Some(value) = body.remove(field)
                && let Some(text) = scalar_text(field, value)?
            {
                *identity.slot(field) = Some(text);
            }
        }
        let forward_openai_metadata = header(headers, header_names::FORWARD_METADATA)
            .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
        if !forward_openai_metadata && let Some(metadata) = body.remove("metadata") {
            identity.merge_metadata("metadata", metadata)?;
        }
        if let Some(flag) = body.remove("disable_log") {
            identity.disable_log = match flag {
                Value::Bool(b) => b,
                Value::Null => false,
                other => {
                    return Err(GatewayError::InvalidRequest(format!(
                        "`disable_log` must be a boolean, not {}",
                        json_type(&other)
                    )));
                }
            };
        }
        Ok(identity)
    }

    fn read_headers(&mut self, headers: &HeaderMap) -> Result<(), GatewayError> {
        self.customer_identifier = header(headers, header_names::CUSTOMER_ID).map(str::to_owned);
        self.thread_identifier = header(headers, header_names::THREAD_ID).map(str::to_owned);
        if let Some(text) = header(headers, header_names::METADATA) {
            let value: Value = serde_json::from_str(text).map_err(|e| {
                GatewayError::InvalidRequest(format!(
                    "header x-switchboard-metadata must be a JSON object: {e}"
                ))
            })?;
            self.merge_metadata("header x-switchboard-metadata", value)?;
        }
        if let Some(traceparent) = header(headers, header_names::TRACEPARENT) {
            match switchboard_otel::parse_traceparent(traceparent) {
                Some(parsed) => {
                    self.trace_unique_id = Some(parsed.trace_id.to_owned());
                    self.span_parent_id = Some(parsed.parent_id.to_owned());
                }
                None => self
                    .warnings
                    .push("ignored a malformed traceparent header".to_owned()),
            }
        }
        Ok(())
    }

    fn merge_metadata(&mut self, source: &str, value: Value) -> Result<(), GatewayError> {
        match value {
            Value::Object(map) => {
                for (key, value) in map {
                    let text = match value {
                        Value::String(s) => s,
                        Value::Null => continue,
                        other => other.to_string(),
                    };
                    self.metadata.insert(key, text);
                }
                Ok(())
            }
            Value::Null => Ok(()),
            other => Err(GatewayError::InvalidRequest(format!(
                "{source} must be a JSON object of custom properties, not {}",
                json_type(&other)
            ))),
        }
    }

    fn slot(&mut self, field: &str) -> &mut Option<String> {
        match field {
            "customer_identifier" => &mut self.customer_identifier,
            "thread_identifier" => &mut self.thread_identifier,
            "trace_unique_id" => &mut self.trace_unique_id,
            "span_unique_id" => &mut self.span_unique_id,
            "span_parent_id" => &mut self.span_parent_id,
            _ => &mut self.span_name,
        }
    }
}

/// A header's trimmed text, when present, non-empty and visible ASCII.
pub(crate) fn header(headers: &HeaderMap, name: HeaderName) -> Option<&str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn scalar_text(field: &str, value: Value) -> Result<Option<String>, GatewayError> {
    match value {
        Value::String(s) => Ok(Some(s)),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Null => Ok(None),
        other => Err(GatewayError::InvalidRequest(format!(
            "`{field}` must be a string, not {}",
            json_type(&other)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn body_fields_are_removed_and_typed() {
        let mut body = json!({
            "model": "m", "messages": [],
            "customer_identifier": 42, "thread_identifier": "call_1",
            "metadata": {"language": "es", "turn": 3, "flags": {"a": true}},
            "disable_log": true
        });
        let map = body.as_object_mut().unwrap();
        let id = Identity::take(map, &HeaderMap::new()).unwrap();
        assert_eq!(id.customer_identifier.as_deref(), Some("42"));
        assert_eq!(id.thread_identifier.as_deref(), Some("call_1"));
        assert_eq!(id.metadata["turn"], "3");
        assert_eq!(id.metadata["flags"], r#"{"a":true}"#);
        assert!(id.disable_log);
        assert_eq!(map.keys().collect::<Vec<_>>(), vec!["messages", "model"]);
    }

    #[test]
    fn headers_fill_in_and_traceparent_is_read() {
        let mut headers = HeaderMap::new();
        headers.insert("x-switchboard-thread-id", "call_9".parse().unwrap());
        headers.insert(
            "x-switchboard-metadata",
            r#"{"agent":"a1"}"#.parse().unwrap(),
        );
        headers.insert(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
                .parse()
                .unwrap(),
        );
        headers.insert("x-switchboard-forward-metadata", "true".parse().unwrap());
        let mut body = json!({"metadata": {"openai": "own"}});
        let map = body.as_object_mut().unwrap();
        let id = Identity::take(map, &headers).unwrap();
        assert_eq!(id.thread_identifier.as_deref(), Some("call_9"));
        assert_eq!(id.metadata.get("agent").map(String::as_str), Some("a1"));
        assert!(!id.metadata.contains_key("openai"));
        assert!(
            map.contains_key("metadata"),
            "OpenAI's own metadata is forwarded"
        );
        assert_eq!(
            id.trace_unique_id.as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(id.span_parent_id.as_deref(), Some("00f067aa0ba902b7"));
    }

    #[test]
    fn wrong_types_are_rejected_with_the_field_named() {
        let mut body = json!({"metadata": "es"});
        let err = Identity::take(body.as_object_mut().unwrap(), &HeaderMap::new()).unwrap_err();
        assert!(err.to_string().contains("metadata"));
        let mut body = json!({"thread_identifier": ["x"]});
        let err = Identity::take(body.as_object_mut().unwrap(), &HeaderMap::new()).unwrap_err();
        assert!(err.to_string().contains("thread_identifier"));
    }
}
