//! What the gateway hands over when a request ends: the facts its spans are made of, owned,
//! so building and encoding them happens on the export thread, not on the request path.

use std::time::{Duration, SystemTime};

use opentelemetry::trace::SpanId;
use serde_json::Value;
use switchboard_record::{AttemptRecord, RequestStatus, Usage};

use crate::trace_context::TraceContext;

/// One request's spans: the `chat {model}` span and one child per upstream attempt.
#[derive(Debug, Clone)]
pub struct RequestSpans {
    /// Where they sit in the trace.
    pub context: TraceContext,
    /// When the request arrived.
    pub start: SystemTime,
    /// Arrival to the end of the answer (or of the stream).
    pub duration: Duration,
    /// The request span's facts.
    pub request: RequestFacts,
    /// Every upstream attempt, in the order the record lists them.
    pub attempts: Vec<AttemptSpan>,
}

/// The facts of the request span (GenAI attributes and Switchboard's own).
#[derive(Debug, Clone, Default)]
pub struct RequestFacts {
    /// The record id (`x-switchboard-request-id`).
    pub request_id: String,
    /// The model the client named.
    pub model: String,
    /// `stream: true`.
    pub stream: bool,
    /// How the request ended.
    pub status: Option<RequestStatus>,
    /// The HTTP status the client got.
    pub status_code: u16,
    /// What failed (already free of credentials, as in the record).
    pub error_message: Option<String>,
    /// The error kind the request failed with, for `error.type`.
    pub error_type: Option<String>,
    /// The OpenTelemetry name of the serving provider's API (`openai`, `anthropic`, ...).
    pub provider_name: Option<&'static str>,
    /// The serving provider's config name.
    pub provider_id: Option<String>,
    /// The model that answered.
    pub response_model: Option<String>,
    /// The answer's `id`.
    pub response_id: Option<String>,
    /// `finish_reason` of each choice.
    pub finish_reasons: Vec<String>,
    /// Token counts.
    pub usage: Option<Usage>,
    /// `thread_identifier` (e.g. the phone call).
    pub conversation_id: Option<String>,
    /// Arrival to the first content-bearing chunk sent.
    pub time_to_first_token: Option<Duration>,
    /// Another target served than the first tried.
    pub fallback_used: bool,
    /// Sampling and length settings of the request.
    pub params: RequestParams,
    /// The request's `messages` (only with `[otel] capture_bodies`).
    pub input: Option<Value>,
    /// The assistant message (only with `[otel] capture_bodies`).
    pub output: Option<Value>,
}

/// The request settings the GenAI conventions name (`gen_ai.request.*`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestParams {
    /// `temperature`.
    pub temperature: Option<f64>,
    /// `top_p`.
    pub top_p: Option<f64>,
    /// `max_completion_tokens`, else `max_tokens`.
    pub max_tokens: Option<i64>,
    /// `frequency_penalty`.
    pub frequency_penalty: Option<f64>,
    /// `presence_penalty`.
    pub presence_penalty: Option<f64>,
    /// `seed`.
    pub seed: Option<i64>,
    /// `n`, when not 1.
    pub choice_count: Option<i64>,
    /// `stop`, as a list.
    pub stop_sequences: Vec<String>,
}

impl RequestParams {
    /// Reads them off an OpenAI chat request body (one pass over its keys: a body holds a
    /// handful, fewer than the settings looked for).
    pub fn from_body(body: &serde_json::Map<String, Value>) -> RequestParams {
        let mut params = RequestParams::default();
        let mut max_completion_tokens = None;
        for (key, value) in body {
            match key.as_str() {
                "temperature" => params.temperature = value.as_f64(),
                "top_p" => params.top_p = value.as_f64(),
                "max_tokens" => params.max_tokens = value.as_i64(),
                "max_completion_tokens" => max_completion_tokens = value.as_i64(),
                "frequency_penalty" => params.frequency_penalty = value.as_f64(),
                "presence_penalty" => params.presence_penalty = value.as_f64(),
                "seed" => params.seed = value.as_i64(),
                "n" => params.choice_count = value.as_i64().filter(|n| *n != 1),
                "stop" => {
                    params.stop_sequences = match value {
                        Value::String(s) => vec![s.clone()],
                        Value::Array(items) => items
                            .iter()
                            .filter_map(|v| v.as_str().map(str::to_owned))
                            .collect(),
                        _ => Vec::new(),
                    }
                }
                _ => {}
            }
        }
        if max_completion_tokens.is_some() {
            params.max_tokens = max_completion_tokens;
        }
        params
    }
}

/// One upstream attempt's span.
#[derive(Debug, Clone)]
pub struct AttemptSpan {
    /// Its id, the parent named in the `traceparent` the attempt sent upstream.
    pub span_id: SpanId,
    /// From the request's arrival to the attempt's start.
    pub offset: Duration,
    /// The OpenTelemetry name of the provider's API.
    pub provider_name: &'static str,
    /// The attempt as the record keeps it (provider, model, status, error kind, TTFT, hedge,
    /// cancelled, continuation).
    pub record: AttemptRecord,
}

/// The OpenTelemetry `gen_ai.provider.name` of a provider kind of the config.
pub fn provider_name(kind: switchboard_config::ProviderKind) -> &'static str {
    use switchboard_config::ProviderKind;
    match kind {
        ProviderKind::Openai => "openai",
        ProviderKind::Anthropic => "anthropic",
        ProviderKind::Azure => "azure.ai.openai",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn request_settings_are_read_as_the_conventions_name_them() {
        let body = json!({
            "temperature": 0.2, "top_p": 1, "max_tokens": 64, "max_completion_tokens": 80,
            "seed": 7, "n": 1, "stop": "\n", "presence_penalty": 0.5
        });
        let params = RequestParams::from_body(body.as_object().unwrap());
        assert_eq!(params.temperature, Some(0.2));
        assert_eq!(params.top_p, Some(1.0));
        assert_eq!(params.max_tokens, Some(80));
        assert_eq!(params.seed, Some(7));
        assert_eq!(params.choice_count, None);
        assert_eq!(params.stop_sequences, vec!["\n".to_owned()]);
        assert_eq!(params.presence_penalty, Some(0.5));
        assert_eq!(params.frequency_penalty, None);
    }
}
