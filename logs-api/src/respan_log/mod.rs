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

mod fields;
mod nested;
#[cfg(test)]
mod tests;
mod times;

use serde_json::{Map, Value};
use switchboard_record::{JsonBody, LogRecord, RequestStatus, json_type, rfc3339};
use time::OffsetDateTime;

use fields::{Fields, must};
use nested::{attempts, metadata, usage};
use times::times;

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
    let full_request = f.object(&["full_request"])?;
    let customer_params = f.object(&["customer_params"])?;
    let id = match f.string(&["id"])? {
        Some(id) if id.is_empty() => return Err("`id` must not be empty".to_owned()),
        Some(id) => id,
        None => uuid::Uuid::now_v7().to_string(),
    };
    let log_type = log_type(&mut f)?;
    let (status_code, status, error_message) = outcome(&mut f)?;
    let latency = f.non_negative(&["latency", "generation_time"])?;
    let start = f.time(&["start_time"])?;
    let end = f.time(&["timestamp"])?;
    let (start, end, latency) = times(start, end, latency, now)?;
    let usage = usage(&mut f)?;
    let mut warnings = f.warnings()?;
    let customer_identifier = customer(&mut f, &customer_params)?;
    let request = RequestParts::take(&mut f, full_request)?;
    let provider_id = f.string(&["provider_id"])?;
    let attempts = attempts(&mut f, provider_id.as_deref())?;
    let record = LogRecord {
        id,
        timestamp: rfc3339(end),
        start_time: rfc3339(start),
        log_type,
        model: f.string(&["model"])?.unwrap_or_default(),
        provider_id,
        provider_model: f.string(&["provider_model"])?,
        stream: request.stream,
        status_code,
        status,
        error_message,
        latency,
        time_to_first_token: f.non_negative(&["time_to_first_token", "ttft"])?,
        max_stall: f.non_negative(&["max_stall"])?,
        usage,
        cost: f.non_negative(&["cost"])?,
        input: request.input.map(JsonBody::from),
        output: f.json(&["output", "completion_message"])?,
        tools: request.tools,
        response_format: request.response_format,
        customer_identifier,
        thread_identifier: f.string(&["thread_identifier"])?,
        metadata: metadata(&mut f)?,
        trace_unique_id: f.string(&["trace_unique_id"])?,
        span_unique_id: f.string(&["span_unique_id"])?,
        span_parent_id: f.string(&["span_parent_id"])?,
        span_name: f.string(&["span_name"])?,
        retries: retries(&mut f, attempts.len())?,
        fallback_used: f.boolean(&["fallback_used"])?.unwrap_or(false),
        continued: f.boolean(&["continued"])?.unwrap_or(false),
        json_valid: f.boolean(&["json_valid"])?,
        attempts,
        skipped_targets: Vec::new(),
        warnings: Vec::new(),
    };
    let ignored: Vec<String> = f.map.keys().cloned().collect();
    if !ignored.is_empty() {
        warnings.push(format!("ignored fields: {}", ignored.join(", ")));
    }
    Ok(LogRecord { warnings, ..record })
}

/// `log_type`, one of [`LOG_TYPES`] (default `chat`).
fn log_type(f: &mut Fields) -> Result<&'static str, String> {
    match f.string(&["log_type"])? {
        None => Ok("chat"),
        Some(name) => LOG_TYPES
            .into_iter()
            .find(|t| *t == name)
            .ok_or_else(|| format!("`log_type` must be one of {}", LOG_TYPES.join(", "))),
    }
}

/// `status_code` (200, or 500 with an `error_message`), `status` (from the code when absent)
/// and `error_message`.
fn outcome(f: &mut Fields) -> Result<(u16, RequestStatus, Option<String>), String> {
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
    Ok((status_code, status, error_message))
}

/// `customer_identifier`, or `customer_params.customer_identifier`.
fn customer(f: &mut Fields, params: &Map<String, Value>) -> Result<Option<String>, String> {
    if let Some(customer) = f.string(&["customer_identifier"])? {
        return Ok(Some(customer));
    }
    match params.get("customer_identifier") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(must(
            "customer_params.customer_identifier",
            "a string",
            other,
        )),
    }
}

/// What the record says of the request, each part filled from `full_request` when absent.
struct RequestParts {
    input: Option<Value>,
    tools: Option<Value>,
    response_format: Option<Value>,
    stream: bool,
}

impl RequestParts {
    fn take(f: &mut Fields, mut full_request: Map<String, Value>) -> Result<RequestParts, String> {
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
        Ok(RequestParts {
            input,
            tools,
            response_format,
            stream,
        })
    }
}

/// `retries`, else one less than the attempts.
fn retries(f: &mut Fields, attempts: usize) -> Result<u32, String> {
    match f.integer(&["retries"])? {
        Some((_, n)) if n >= 0 => Ok(u32::try_from(n).unwrap_or(u32::MAX)),
        Some((name, _)) => Err(format!("`{name}` must not be negative")),
        None => Ok(attempts.saturating_sub(1) as u32),
    }
}

fn derived_status(code: u16) -> RequestStatus {
    match code {
        499 => RequestStatus::ClientDisconnected,
        400.. => RequestStatus::Error,
        _ => RequestStatus::Success,
    }
}
