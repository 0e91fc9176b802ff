//! Reading the indexed columns out of a log record (SPEC section 4), tolerantly.

use serde_json::{Map, Value};

use crate::timefmt;

/// The parts of a record that the store indexes; everything else stays in the JSON text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Indexed {
    pub(crate) id: String,
    /// `start_time` in unix microseconds, `None` when missing or unreadable.
    pub(crate) start_time: Option<i64>,
    /// `timestamp` (the end of the request) in unix microseconds.
    pub(crate) end_time: Option<i64>,
    pub(crate) model: Option<String>,
    pub(crate) provider_id: Option<String>,
    pub(crate) status: Option<String>,
    pub(crate) status_code: Option<i64>,
    pub(crate) thread_identifier: Option<String>,
    pub(crate) customer_identifier: Option<String>,
    pub(crate) trace_unique_id: Option<String>,
    pub(crate) span_unique_id: Option<String>,
    pub(crate) span_parent_id: Option<String>,
    pub(crate) fallback_used: Option<bool>,
    pub(crate) json_valid: Option<bool>,
    /// The numbers of the record that conditions compare (`latency`, `usage.total_tokens`, ...),
    /// in the order of [`NUMBER_FIELDS`]; kept as columns by PostgreSQL.
    pub(crate) numbers: [Option<f64>; NUMBER_FIELDS.len()],
    /// `stream` and `continued` (see [`FLAG_FIELDS`]).
    pub(crate) flags: [Option<bool>; FLAG_FIELDS.len()],
    /// `span_name`, `log_type`, `error_message`, `provider_model` (see [`TEXT_FIELDS`]).
    pub(crate) texts: [Option<String>; TEXT_FIELDS.len()],
    /// `metadata` as (key, value) text pairs.
    pub(crate) properties: Vec<(String, String)>,
    /// The distinct `attempts[].error_kind` values.
    pub(crate) error_kinds: Vec<String>,
}

/// Record numbers a condition can compare, as (column name, path of keys in the record).
pub(crate) const NUMBER_FIELDS: [(&str, &[&str]); 8] = [
    ("latency", &["latency"]),
    ("time_to_first_token", &["time_to_first_token"]),
    ("max_stall", &["max_stall"]),
    ("cost", &["cost"]),
    ("retries", &["retries"]),
    ("prompt_tokens", &["usage", "prompt_tokens"]),
    ("completion_tokens", &["usage", "completion_tokens"]),
    ("total_tokens", &["usage", "total_tokens"]),
];
/// Record booleans a condition can test.
pub(crate) const FLAG_FIELDS: [&str; 2] = ["stream", "continued"];
/// Record texts a condition can test.
pub(crate) const TEXT_FIELDS: [&str; 4] =
    ["span_name", "log_type", "error_message", "provider_model"];

fn at_path<'a>(record: &'a Map<String, Value>, path: &[&str]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    rest.iter()
        .try_fold(record.get(*first)?, |value, key| value.get(*key))
}

impl Indexed {
    /// Reads a record's JSON text; `Err` carries why the record cannot be stored.
    pub(crate) fn from_json(text: &str) -> Result<Indexed, String> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
        let Value::Object(record) = value else {
            return Err("not a JSON object".to_owned());
        };
        let id = match record.get("id") {
            Some(Value::String(id)) if !id.is_empty() => id.clone(),
            Some(Value::String(_)) => return Err("`id` is empty".to_owned()),
            None | Some(Value::Null) => return Err("`id` is missing".to_owned()),
            Some(_) => return Err("`id` is not a string".to_owned()),
        };
        Ok(Indexed {
            id,
            start_time: timefmt::lenient_micros(record.get("start_time")),
            end_time: timefmt::lenient_micros(record.get("timestamp")),
            model: text_field(&record, "model"),
            provider_id: text_field(&record, "provider_id"),
            status: text_field(&record, "status"),
            status_code: integer_field(&record, "status_code"),
            thread_identifier: text_field(&record, "thread_identifier"),
            customer_identifier: text_field(&record, "customer_identifier"),
            trace_unique_id: text_field(&record, "trace_unique_id"),
            span_unique_id: text_field(&record, "span_unique_id"),
            span_parent_id: text_field(&record, "span_parent_id"),
            fallback_used: bool_field(&record, "fallback_used"),
            json_valid: bool_field(&record, "json_valid"),
            numbers: NUMBER_FIELDS.map(|(_, path)| at_path(&record, path).and_then(Value::as_f64)),
            flags: FLAG_FIELDS.map(|key| record.get(key).and_then(Value::as_bool)),
            texts: TEXT_FIELDS.map(|key| match record.get(key) {
                Some(Value::String(text)) => Some(text.clone()),
                _ => None,
            }),
            properties: properties(&record),
            error_kinds: error_kinds(&record),
        })
    }
}

/// A scalar as text: strings as they are, numbers and booleans as JSON writes them.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

fn text_field(record: &Map<String, Value>, key: &str) -> Option<String> {
    record.get(key).and_then(scalar_text)
}

fn integer_field(record: &Map<String, Value>, key: &str) -> Option<i64> {
    match record.get(key)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn bool_field(record: &Map<String, Value>, key: &str) -> Option<bool> {
    match record.get(key)? {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s == "true" => Some(true),
        Value::String(s) if s == "false" => Some(false),
        _ => None,
    }
}

/// Metadata values are strings per the SPEC; numbers, booleans and nested values are kept as
/// their JSON text so they can still be filtered on, nulls are skipped.
fn properties(record: &Map<String, Value>) -> Vec<(String, String)> {
    let Some(Value::Object(metadata)) = record.get("metadata") else {
        return Vec::new();
    };
    metadata
        .iter()
        .filter_map(|(key, value)| {
            let text = match value {
                Value::Null => return None,
                Value::Array(_) | Value::Object(_) => value.to_string(),
                scalar => scalar_text(scalar)?,
            };
            Some((key.clone(), text))
        })
        .collect()
}

fn error_kinds(record: &Map<String, Value>) -> Vec<String> {
    let Some(Value::Array(attempts)) = record.get("attempts") else {
        return Vec::new();
    };
    let mut kinds: Vec<String> = attempts
        .iter()
        .filter_map(|attempt| attempt.get("error_kind").and_then(scalar_text))
        .collect();
    kinds.sort();
    kinds.dedup();
    kinds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_full_record() {
        let text = r#"{"id":"a","start_time":"2025-01-01T00:00:00Z","timestamp":"2025-01-01T00:00:01Z",
            "model":"voice-fast","provider_id":"openai","status":"success","status_code":"200",
            "thread_identifier":"call_1","customer_identifier":"acct","trace_unique_id":"t",
            "span_unique_id":"s","span_parent_id":null,"fallback_used":true,"json_valid":false,
            "metadata":{"language":"es","n":3,"gone":null},
            "attempts":[{"error_kind":"5xx"},{"error_kind":null},{"error_kind":"5xx"},{"error_kind":"429"}],
            "mystery":{"kept":true}}"#;
        let indexed = Indexed::from_json(text).expect("valid record");
        assert_eq!(indexed.start_time, Some(1_735_689_600_000_000));
        assert_eq!(indexed.end_time, Some(1_735_689_601_000_000));
        assert_eq!(indexed.status_code, Some(200));
        assert_eq!(indexed.span_parent_id, None);
        assert_eq!(indexed.fallback_used, Some(true));
        assert_eq!(indexed.json_valid, Some(false));
        assert_eq!(
            indexed.properties,
            vec![("language".into(), "es".into()), ("n".into(), "3".into())]
        );
        assert_eq!(
            indexed.error_kinds,
            vec!["429".to_owned(), "5xx".to_owned()]
        );
    }

    #[test]
    fn only_the_id_is_required() {
        let indexed = Indexed::from_json(r#"{"id":"x"}"#).expect("minimal record");
        assert_eq!(indexed.start_time, None);
        assert!(indexed.properties.is_empty());
        for (text, why) in [
            ("[1]", "not a JSON object"),
            ("{", "not valid JSON"),
            ("{}", "`id` is missing"),
            (r#"{"id":7}"#, "`id` is not a string"),
            (r#"{"id":""}"#, "`id` is empty"),
        ] {
            let err = Indexed::from_json(text).expect_err(text);
            assert!(err.starts_with(why), "{text}: {err}");
        }
    }
}
