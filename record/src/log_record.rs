//! The log record of SPEC section 4: one JSON object per request, Respan's field names.

use std::collections::BTreeMap;

use crate::json_body::JsonBody;
use crate::{ErrorKind, Usage};
use serde::Serialize;
use serde_json::Value;

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    /// The client got a complete answer.
    Success,
    /// The client got an error (or a stream that ended in an error event).
    Error,
    /// The client went away before the end.
    ClientDisconnected,
}

impl RequestStatus {
    /// The name used in records and metric labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Success => "success",
            RequestStatus::Error => "error",
            RequestStatus::ClientDisconnected => "client_disconnected",
        }
    }
}

/// One upstream attempt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttemptRecord {
    /// The provider's config name.
    pub provider_id: String,
    /// The model asked of it.
    pub provider_model: String,
    /// Its HTTP status, when it answered.
    pub status_code: Option<u16>,
    /// Why it failed; `None` for the attempt that served the request.
    pub error_kind: Option<ErrorKind>,
    /// What failed, for people (never a credential).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// Seconds from its start to its end (for a winning stream: to its last chunk).
    pub latency: f64,
    /// Seconds from its start to its first content-bearing chunk.
    pub time_to_first_token: Option<f64>,
    /// Started in parallel with a slow attempt (`hedge_after_ms`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub hedge: bool,
    /// Stopped because the attempt it raced produced a content token first (its upstream
    /// connection was closed).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cancelled: bool,
    /// Asked to continue the text a failed stream had sent (`mid_stream = "continue"`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub continuation: bool,
}

/// A target the chain passed over without trying it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SkippedTarget {
    /// The provider's config name.
    pub provider_id: String,
    /// The model it would have been asked for.
    pub provider_model: String,
    /// `disabled` (by an operator) or `circuit_open`.
    pub reason: &'static str,
}

/// The record of one request.
#[derive(Debug, Clone, Serialize)]
pub struct LogRecord {
    /// UUIDv7, also sent to the client as `x-switchboard-request-id`.
    pub id: String,
    /// RFC 3339 time the request ended.
    pub timestamp: String,
    /// RFC 3339 time the request started.
    pub start_time: String,
    /// Always `chat` for proxied requests.
    pub log_type: &'static str,
    /// The model the client named.
    pub model: String,
    /// The provider that served it (or the last one tried).
    pub provider_id: Option<String>,
    /// The provider's model (or the last one tried).
    pub provider_model: Option<String>,
    /// `stream: true`.
    pub stream: bool,
    /// The status the client got.
    pub status_code: u16,
    /// How it ended.
    pub status: RequestStatus,
    /// Why it failed, when it did.
    pub error_message: Option<String>,
    /// Seconds, start to end.
    pub latency: f64,
    /// Seconds, start to the first content-bearing chunk the client got (streams).
    pub time_to_first_token: Option<f64>,
    /// Seconds, the longest gap between content-bearing chunks the client got (streams).
    pub max_stall: Option<f64>,
    /// Tokens, as the provider reported them.
    pub usage: Option<Usage>,
    /// USD, from the target's configured prices.
    pub cost: Option<f64>,
    /// The request's messages (absent with `capture_bodies = false` or `disable_log`).
    pub input: Option<JsonBody>,
    /// The assistant message (absent likewise).
    pub output: Option<Value>,
    /// The request's `tools`.
    pub tools: Option<Value>,
    /// The request's `response_format`.
    pub response_format: Option<Value>,
    /// The caller's customer.
    pub customer_identifier: Option<String>,
    /// The conversation (e.g. the phone call).
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
    /// Attempts after the first (retries and fallbacks together).
    pub retries: u32,
    /// A target other than the first was tried.
    pub fallback_used: bool,
    /// A stream that failed after its first token was finished by another target
    /// (`mid_stream = "continue"`): `output` is the whole answer.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub continued: bool,
    /// The JSON check's verdict, where JSON was checked.
    pub json_valid: Option<bool>,
    /// Every upstream attempt, in order.
    pub attempts: Vec<AttemptRecord>,
    /// Targets passed over (disabled, or with an open circuit).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped_targets: Vec<SkippedTarget>,
    /// Things that did not fail the request but are worth knowing.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}
