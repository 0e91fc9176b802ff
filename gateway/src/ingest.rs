//! Records sent to `POST /api/logs` (SPEC section 7): Respan's create-log shape, validated and
//! turned into a [`LogRecord`] so that it travels the same pipeline as a proxied request's.
//!
//! Accepted fields (aliases after the slash): `id`, `log_type`, `model`, `provider_id`,
//! `provider_model`, `stream`, `status_code`, `status`, `error_message`, `start_time`,
//! `timestamp`, `latency` / `generation_time`, `time_to_first_token` / `ttft`, `max_stall`,
//! `usage` or `prompt_tokens` / `completion_tokens` / `total_tokens`, `cost`, `input` /
//! `prompt_messages`, `output` / `completion_message`, `tools`, `response_format`,
//! `customer_identifier` (or `customer_params.customer_identifier`), `thread_identifier`,
//! `metadata`, `trace_unique_id`, `span_unique_id`, `span_parent_id`, `span_name`, `retries`,
//! `fallback_used`, `json_valid`, `attempts`, `warnings`, and `full_request` (its `messages`,
//! `tools`, `response_format` and `stream` fill in what the record does not give). Other fields
//! are ignored and named in the record's `warnings`. Missing fields are filled: `id` a new
//! UUIDv7, times from now and the latency, `status_code` 200 (500 with an `error_message`),
//! `status` from the status code, `log_type` `chat`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use switchboard_config::ErrorKind;
use switchboard_providers::Usage;
use time::format_description::well_known::{Iso8601, Rfc3339};
use time::{Duration, OffsetDateTime, PrimitiveDateTime};

use crate::identity::json_type;
use crate::record::{AttemptRecord, LogRecord, RequestStatus};

/// Respan's log types; `log_type` must be one of them.
pub const LOG_TYPES: [&str; 16] = [
    "chat",
    "completion",
    "response",
    "embedding",
    "transcription",
    "speech",
    "workflow",
    "task",
    "tool",
    "agent",
    "handoff",
    "guardrail",
    "function",
    "custom",
    "generation",
    "unknown",
];

/// Reads a request body: one record object or an array of them. The error names the field at
/// fault (prefixed with the record's index in an array, e.g. `records[2]: ttft must be a
/// number`).
pub fn records_from_json(body: Value, now: OffsetDateTime) -> Result<Vec<LogRecord>, String> {
    match body {
        Value::Array(items) => {
            if items.is_empty() {
                return Err("the array of records is empty".to_owned());
            }
            items
                .into_iter()
                .enumerate()
                .map(|(index, item)| {
                    record_from_json(item, now).map_err(|e| format!("records[{index}]: {e}"))
                })
                .collect()
        }
        other => Ok(vec![record_from_json(other, now)?]),
    }
}

/// Reads one record in Respan's create-log shape; `now` fills missing times.
pub fn record_from_json(value: Value, now: OffsetDateTime) -> Result<LogRecord, String> {
    let Value::Object(map) = value else {
        return Err(format!(
            "a record must be a JSON object, not {}",
            json_type(&value)
        ));
    };
    let mut f = Fields { map };
    let mut full_request = match f.take(&["full_request"])? {
        Some((_, Value::Object(request))) => request,
        Some((name, other)) => return Err(must(name, "an object", &other)),
        None => Map::new(),
    };
    let customer_params = match f.take(&["customer_params"])? {
        Some((_, Value::Object(params))) => params,
        Some((name, other)) => return Err(must(name, "an object", &other)),
        None => Map::new(),
    };

    let id = match f.string(&["id"])? {
        Some(id) if id.is_empty() => return Err("`id` must not be empty".to_owned()),
        Some(id) => id,
        None => uuid::Uuid::now_v7().to_string(),
    };
    let log_type = match f.string(&["log_type"])? {
        None => "chat",
        Some(name) => LOG_TYPES
            .into_iter()
            .find(|t| *t == name)
            .ok_or_else(|| format!("`log_type` must be one of {}", LOG_TYPES.join(", ")))?,
    };
    let error_message = f.string(&["error_message"])?.filter(|m| !m.is_empty());
    let status_code = match f.integer(&["status_code"])? {
        None if error_message.is_some() => 500,
        None => 200,
        Some((_, code)) if (100..=599).contains(&code) => code as u16,
        Some((name, _)) => return Err(format!("`{name}` must be an HTTP status (100 to 599)")),
    };
    let status = match f.string(&["status"])?.as_deref() {
        None => derived_status(status_code),
        Some("success") => RequestStatus::Success,
        Some("error") => RequestStatus::Error,
        Some("client_disconnected") => RequestStatus::ClientDisconnected,
        Some(_) => {
            return Err("`status` must be success, error or client_disconnected".to_owned());
        }
    };

    let latency = f.non_negative(&["latency", "generation_time"])?;
    let start = f.time(&["start_time"])?;
    let end = f.time(&["timestamp"])?;
    let (start, end, latency) = times(start, end, latency, now)?;

    let usage = usage(&mut f)?;
    let mut warnings = f.warnings()?;
    let customer_identifier = match f.string(&["customer_identifier"])? {
        Some(customer) => Some(customer),
        None => match customer_params.get("customer_identifier") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(other) => {
                return Err(must(
                    "customer_params.customer_identifier",
                    "a string",
                    other,
                ));
            }
        },
    };
    let input = f
        .json(&["input", "prompt_messages"])?
        .or_else(|| full_request.remove("messages"));
    let tools = f.json(&["tools"])?.or_else(|| full_request.remove("tools"));
    let response_format = f
        .json(&["response_format"])?
        .or_else(|| full_request.remove("response_format"));
    let stream = match f.boolean(&["stream"])? {
        Some(stream) => stream,
        None => full_request
            .get("stream")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    };
    let attempts = attempts(&mut f)?;
    let provider_id = f.string(&["provider_id"])?;
    let record = LogRecord {
        id,
        timestamp: rfc3339(end),
        start_time: rfc3339(start),
        log_type,
        model: f.string(&["model"])?.unwrap_or_default(),
        provider_model: f.string(&["provider_model"])?,
        stream,
        status_code,
        status,
        error_message,
        latency,
        time_to_first_token: f.non_negative(&["time_to_first_token", "ttft"])?,
        max_stall: f.non_negative(&["max_stall"])?,
        usage,
        cost: f.non_negative(&["cost"])?,
        input,
        output: f.json(&["output", "completion_message"])?,
        tools,
        response_format,
        customer_identifier,
        thread_identifier: f.string(&["thread_identifier"])?,
        metadata: metadata(&mut f)?,
        trace_unique_id: f.string(&["trace_unique_id"])?,
        span_unique_id: f.string(&["span_unique_id"])?,
        span_parent_id: f.string(&["span_parent_id"])?,
        span_name: f.string(&["span_name"])?,
        retries: match f.integer(&["retries"])? {
            Some((_, n)) if n >= 0 => u32::try_from(n).unwrap_or(u32::MAX),
            Some((name, _)) => return Err(format!("`{name}` must not be negative")),
            None => attempts.len().saturating_sub(1) as u32,
        },
        fallback_used: f.boolean(&["fallback_used"])?.unwrap_or(false),
        json_valid: f.boolean(&["json_valid"])?,
        attempts: attempts
            .into_iter()
            .map(|mut a| {
                if a.provider_id.is_empty() {
                    a.provider_id = provider_id.clone().unwrap_or_default();
                }
                a
            })
            .collect(),
        provider_id,
        warnings: Vec::new(),
    };
    let ignored: Vec<String> = f.map.keys().cloned().collect();
    if !ignored.is_empty() {
        warnings.push(format!("ignored fields: {}", ignored.join(", ")));
    }
    Ok(LogRecord { warnings, ..record })
}

/// The fields of one record, taken out one by one (what is left at the end was not understood).
struct Fields {
    map: Map<String, Value>,
}

impl Fields {
    /// Takes the first of `names` (a field and its aliases) that is present and not null.
    /// Giving two of them with different values is an error.
    fn take(&mut self, names: &[&'static str]) -> Result<Option<(&'static str, Value)>, String> {
        let mut found: Option<(&'static str, Value)> = None;
        for name in names {
            match self.map.remove(*name) {
                None | Some(Value::Null) => {}
                Some(value) => match &found {
                    Some((first, earlier)) if *earlier != value => {
                        return Err(format!("give only one of `{first}` and `{name}`"));
                    }
                    Some(_) => {}
                    None => found = Some((name, value)),
                },
            }
        }
        Ok(found)
    }

    fn string(&mut self, names: &[&'static str]) -> Result<Option<String>, String> {
        match self.take(names)? {
            None => Ok(None),
            Some((_, Value::String(s))) => Ok(Some(s)),
            Some((_, Value::Number(n))) => Ok(Some(n.to_string())),
            Some((name, other)) => Err(must(name, "a string", &other)),
        }
    }

    fn boolean(&mut self, names: &[&'static str]) -> Result<Option<bool>, String> {
        match self.take(names)? {
            None => Ok(None),
            Some((_, Value::Bool(b))) => Ok(Some(b)),
            Some((name, other)) => Err(must(name, "a boolean", &other)),
        }
    }

    /// A non-negative finite number (seconds, USD).
    fn non_negative(&mut self, names: &[&'static str]) -> Result<Option<f64>, String> {
        match self.take(names)? {
            None => Ok(None),
            Some((name, value)) => number(name, &value).map(Some),
        }
    }

    fn integer(&mut self, names: &[&'static str]) -> Result<Option<(&'static str, i64)>, String> {
        match self.take(names)? {
            None => Ok(None),
            Some((name, Value::Number(n))) => n
                .as_i64()
                .map(|i| Some((name, i)))
                .ok_or_else(|| format!("`{name}` must be an integer")),
            Some((name, other)) => Err(must(name, "an integer", &other)),
        }
    }

    fn json(&mut self, names: &[&'static str]) -> Result<Option<Value>, String> {
        Ok(self.take(names)?.map(|(_, value)| value))
    }

    /// RFC3339 (or ISO 8601 without offset, taken as UTC) or unix seconds.
    fn time(&mut self, names: &[&'static str]) -> Result<Option<OffsetDateTime>, String> {
        let Some((name, value)) = self.take(names)? else {
            return Ok(None);
        };
        let bad = || format!("`{name}` must be an RFC3339 time or unix seconds");
        let parsed = match &value {
            Value::String(text) => OffsetDateTime::parse(text, &Rfc3339).ok().or_else(|| {
                PrimitiveDateTime::parse(text, &Iso8601::DEFAULT)
                    .ok()
                    .map(PrimitiveDateTime::assume_utc)
            }),
            Value::Number(n) => n
                .as_f64()
                .filter(|s| s.is_finite())
                .and_then(|s| OffsetDateTime::from_unix_timestamp_nanos((s * 1e9) as i128).ok()),
            _ => None,
        };
        parsed.map(Some).ok_or_else(bad)
    }

    fn warnings(&mut self) -> Result<Vec<String>, String> {
        match self.take(&["warnings"])? {
            None => Ok(Vec::new()),
            Some((_, Value::String(s))) => Ok(vec![s]),
            Some((name, Value::Array(items))) => items
                .into_iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s),
                    other => Err(must(name, "a list of strings", &other)),
                })
                .collect(),
            Some((name, other)) => Err(must(name, "a list of strings", &other)),
        }
    }
}

fn must(name: &str, what: &str, got: &Value) -> String {
    format!("`{name}` must be {what}, not {}", json_type(got))
}

fn number(name: &str, value: &Value) -> Result<f64, String> {
    match value {
        Value::Number(n) => match n.as_f64() {
            Some(x) if x.is_finite() && x >= 0.0 => Ok(x),
            _ => Err(format!("`{name}` must not be negative")),
        },
        other => Err(must(name, "a number", other)),
    }
}

fn tokens(name: &str, value: &Value) -> Result<u64, String> {
    value
        .as_u64()
        .ok_or_else(|| format!("`{name}` must be a non-negative integer"))
}

fn derived_status(code: u16) -> RequestStatus {
    match code {
        499 => RequestStatus::ClientDisconnected,
        400.. => RequestStatus::Error,
        _ => RequestStatus::Success,
    }
}

/// Fills in whichever of start, end and latency is missing.
fn times(
    start: Option<OffsetDateTime>,
    end: Option<OffsetDateTime>,
    latency: Option<f64>,
    now: OffsetDateTime,
) -> Result<(OffsetDateTime, OffsetDateTime, f64), String> {
    // To the microsecond, so that 1.2 s is 1.2 s and not 1.199999999.
    let span = |seconds: f64| Duration::microseconds((seconds * 1e6).round() as i64);
    Ok(match (start, end, latency) {
        (Some(start), Some(end), latency) => {
            if end < start {
                return Err("`timestamp` (the end) is before `start_time`".to_owned());
            }
            (
                start,
                end,
                latency.unwrap_or((end - start).as_seconds_f64()),
            )
        }
        (Some(start), None, latency) => {
            let latency = latency.unwrap_or(0.0);
            (start, start + span(latency), latency)
        }
        (None, Some(end), latency) => {
            let latency = latency.unwrap_or(0.0);
            (end - span(latency), end, latency)
        }
        (None, None, latency) => {
            let latency = latency.unwrap_or(0.0);
            (now - span(latency), now, latency)
        }
    })
}

fn usage(f: &mut Fields) -> Result<Option<Usage>, String> {
    let flat = [
        f.take(&["prompt_tokens"])?,
        f.take(&["completion_tokens"])?,
        f.take(&["total_tokens"])?,
    ];
    let nested = match f.take(&["usage"])? {
        None => None,
        Some((_, Value::Object(usage))) => Some(usage),
        Some((name, other)) => return Err(must(name, "an object", &other)),
    };
    if nested.is_none() && flat.iter().all(Option::is_none) {
        return Ok(None);
    }
    let read = |key: &'static str, flat: &Option<(&'static str, Value)>| -> Result<_, String> {
        if let Some((name, value)) = flat {
            return tokens(name, value).map(Some);
        }
        match nested.as_ref().and_then(|u| u.get(key)) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => tokens(&format!("usage.{key}"), value).map(Some),
        }
    };
    let prompt = read("prompt_tokens", &flat[0])?.unwrap_or(0);
    let completion = read("completion_tokens", &flat[1])?.unwrap_or(0);
    let total = read("total_tokens", &flat[2])?.unwrap_or(prompt + completion);
    Ok(Some(Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: total,
    }))
}

fn metadata(f: &mut Fields) -> Result<BTreeMap<String, String>, String> {
    match f.take(&["metadata"])? {
        None => Ok(BTreeMap::new()),
        Some((_, Value::Object(map))) => Ok(map
            .into_iter()
            .filter_map(|(key, value)| match value {
                Value::Null => None,
                Value::String(s) => Some((key, s)),
                other => Some((key, other.to_string())),
            })
            .collect()),
        Some((name, other)) => Err(must(name, "an object of custom properties", &other)),
    }
}

fn attempts(f: &mut Fields) -> Result<Vec<AttemptRecord>, String> {
    let items = match f.take(&["attempts"])? {
        None => return Ok(Vec::new()),
        Some((_, Value::Array(items))) => items,
        Some((name, other)) => return Err(must(name, "an array", &other)),
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let Value::Object(map) = item else {
                return Err(must(&format!("attempts[{i}]"), "an object", &item));
            };
            attempt(map).map_err(|e| format!("attempts[{i}].{e}"))
        })
        .collect()
}

fn attempt(map: Map<String, Value>) -> Result<AttemptRecord, String> {
    let mut f = Fields { map };
    let error_kind = match f.string(&["error_kind"])? {
        None => None,
        Some(kind) => Some(kind.parse::<ErrorKind>().map_err(|_| {
            let kinds: Vec<&str> = ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
            format!("`error_kind` must be one of {}", kinds.join(", "))
        })?),
    };
    let status_code = match f.integer(&["status_code"])? {
        None => None,
        Some((_, code)) if (100..=599).contains(&code) => Some(code as u16),
        Some((name, _)) => return Err(format!("`{name}` must be an HTTP status (100 to 599)")),
    };
    Ok(AttemptRecord {
        provider_id: f.string(&["provider_id"])?.unwrap_or_default(),
        provider_model: f.string(&["provider_model"])?.unwrap_or_default(),
        status_code,
        error_kind,
        error_message: f.string(&["error_message"])?,
        latency: f.non_negative(&["latency"])?.unwrap_or(0.0),
        time_to_first_token: f.non_negative(&["time_to_first_token", "ttft"])?,
    })
}

fn rfc3339(time: OffsetDateTime) -> String {
    time.format(&Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap() // 2026-01-01T00:00:00Z
    }

    fn read(body: Value) -> Result<Value, String> {
        record_from_json(body, now()).map(|r| serde_json::to_value(r).unwrap())
    }

    #[test]
    fn respan_aliases_land_in_the_record_fields() {
        let record = read(json!({
            "model": "gpt-4o", "prompt_messages": [{"role": "user", "content": "hi"}],
            "completion_message": {"role": "assistant", "content": "hello"},
            "ttft": 0.2, "generation_time": 1.5, "prompt_tokens": 10, "completion_tokens": 5,
            "cost": 0.001, "customer_params": {"customer_identifier": "acct_1"},
            "thread_identifier": "call_1", "metadata": {"lang": "es", "turn": 3},
            "timestamp": "2026-01-01T00:00:10Z", "temperature": 0.3
        }))
        .unwrap();
        assert_eq!(record["input"][0]["content"], "hi");
        assert_eq!(record["output"]["content"], "hello");
        assert_eq!(record["time_to_first_token"], 0.2);
        assert_eq!(record["latency"], 1.5);
        assert_eq!(record["start_time"], "2026-01-01T00:00:08.5Z");
        assert_eq!(record["usage"]["total_tokens"], 15);
        assert_eq!(record["customer_identifier"], "acct_1");
        assert_eq!(record["metadata"]["turn"], "3");
        assert_eq!(record["status"], "success");
        assert_eq!(record["status_code"], 200);
        assert_eq!(record["log_type"], "chat");
        assert_eq!(record["warnings"][0], "ignored fields: temperature");
        assert!(uuid::Uuid::parse_str(record["id"].as_str().unwrap()).is_ok());
    }

    #[test]
    fn missing_times_come_from_now_and_errors_imply_a_status() {
        let record = read(json!({"error_message": "boom", "latency": 2})).unwrap();
        assert_eq!(record["timestamp"], "2026-01-01T00:00:00Z");
        assert_eq!(record["start_time"], "2025-12-31T23:59:58Z");
        assert_eq!(record["status_code"], 500);
        assert_eq!(record["status"], "error");
        let record = read(
            json!({"start_time": 1_767_225_600.0, "timestamp": "2026-01-01T00:00:03Z",
                                  "status_code": 499}),
        )
        .unwrap();
        assert_eq!(record["latency"], 3.0);
        assert_eq!(record["status"], "client_disconnected");
    }

    #[test]
    fn bad_fields_are_named() {
        for (body, field) in [
            (json!({"ttft": "fast"}), "`ttft` must be a number"),
            (json!({"latency": -1}), "`latency` must not be negative"),
            (json!({"metadata": [1]}), "`metadata` must be an object"),
            (json!({"start_time": "yesterday"}), "`start_time` must be"),
            (
                json!({"status_code": 42}),
                "`status_code` must be an HTTP status",
            ),
            (
                json!({"usage": {"prompt_tokens": -3}}),
                "`usage.prompt_tokens`",
            ),
            (json!({"log_type": "banana"}), "`log_type` must be one of"),
            (
                json!({"ttft": 1, "time_to_first_token": 2}),
                "give only one of",
            ),
            (
                json!({"attempts": [{"error_kind": "meh"}]}),
                "attempts[0].`error_kind`",
            ),
            (
                json!({"thread_identifier": {"a": 1}}),
                "`thread_identifier`",
            ),
            (json!("text"), "must be a JSON object"),
        ] {
            let error = read(body.clone()).unwrap_err();
            assert!(error.contains(field), "{body}: {error}");
        }
    }

    #[test]
    fn an_array_names_the_record_at_fault() {
        let error = records_from_json(json!([{}, {"ttft": "x"}]), now()).unwrap_err();
        assert!(error.starts_with("records[1]: `ttft`"), "{error}");
        assert_eq!(records_from_json(json!([{}, {}]), now()).unwrap().len(), 2);
        assert!(records_from_json(json!([]), now()).is_err());
    }
}
