//! A finished request as OpenTelemetry spans, named and attributed by the GenAI semantic
//! conventions (`gen_ai.*`), plus Switchboard's own `switchboard.*` attributes.
//!
//! The request span is `chat {model}` (kind server: the gateway received it); each upstream
//! attempt is a child `chat {provider model}` (kind client: the gateway made it), whose id is
//! the parent the attempt's `traceparent` named upstream.

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{Event, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceState};
use opentelemetry::{Array, InstrumentationScope, KeyValue, StringValue, Value};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use switchboard_record::RequestStatus;

use crate::names as semconv;

use crate::request_spans::{AttemptSpan, RequestFacts, RequestParams, RequestSpans};

/// The name of the event carrying the first token's time on an attempt span.
pub const FIRST_TOKEN_EVENT: &str = "first_token";
/// The name of the event carrying the bodies (`[otel] capture_bodies`).
pub const BODIES_EVENT: &str = "gen_ai.client.inference.operation.details";

/// Rewrites a body before it leaves the process (`[logging] redact`).
pub type BodyRedactor = std::sync::Arc<dyn Fn(&mut serde_json::Value) + Send + Sync>;

/// Turns `spans` into span data under `scope`; bodies pass through `redact` first.
pub fn to_span_data(
    spans: RequestSpans,
    scope: &InstrumentationScope,
    redact: Option<&BodyRedactor>,
    out: &mut Vec<SpanData>,
) {
    let RequestSpans {
        context,
        start,
        duration,
        request,
        attempts,
    } = spans;
    let state = context
        .tracestate
        .as_deref()
        .and_then(|s| s.parse::<TraceState>().ok())
        .unwrap_or_default();
    let span_context = |span_id: SpanId| {
        SpanContext::new(
            context.trace_id,
            span_id,
            TraceFlags::SAMPLED,
            false,
            state.clone(),
        )
    };
    let stream = request.stream;
    for attempt in attempts {
        let start = start + attempt.offset;
        out.push(attempt_span(
            span_context(attempt.span_id),
            context.span_id,
            start,
            stream,
            attempt,
            scope,
        ));
    }
    let end = start + duration;
    let name = match request.model.as_str() {
        "" => Cow::Borrowed("chat"),
        model => Cow::Owned(format!("chat {model}")),
    };
    let (attributes, status, events) = request_attributes(request, end, redact);
    out.push(SpanData {
        span_context: span_context(context.span_id),
        parent_span_id: context.parent_id.unwrap_or(SpanId::INVALID),
        parent_span_is_remote: context.parent_id.is_some(),
        span_kind: SpanKind::Server,
        name,
        start_time: start,
        end_time: end,
        attributes,
        dropped_attributes_count: 0,
        events: span_events(events),
        links: SpanLinks::default(),
        status,
        instrumentation_scope: scope.clone(),
    });
}

fn request_attributes(
    request: RequestFacts,
    end: SystemTime,
    redact: Option<&BodyRedactor>,
) -> (Vec<KeyValue>, Status, Vec<Event>) {
    let RequestFacts {
        request_id,
        model,
        stream,
        status,
        status_code,
        error_message,
        error_type,
        provider_name,
        provider_id,
        response_model,
        response_id,
        finish_reasons,
        usage,
        conversation_id,
        time_to_first_token,
        fallback_used,
        params,
        input,
        output,
    } = request;
    let mut attributes = Vec::with_capacity(24);
    attributes.push(KeyValue::new(semconv::GEN_AI_OPERATION_NAME, "chat"));
    if !model.is_empty() {
        attributes.push(KeyValue::new(semconv::GEN_AI_REQUEST_MODEL, model));
    }
    attributes.push(KeyValue::new(semconv::GEN_AI_REQUEST_STREAM, stream));
    if let Some(name) = provider_name {
        attributes.push(KeyValue::new(semconv::GEN_AI_PROVIDER_NAME, name));
    }
    if let Some(model) = response_model {
        attributes.push(KeyValue::new(semconv::GEN_AI_RESPONSE_MODEL, model));
    }
    if let Some(id) = response_id {
        attributes.push(KeyValue::new(semconv::GEN_AI_RESPONSE_ID, id));
    }
    if !finish_reasons.is_empty() {
        let reasons = finish_reasons.into_iter().map(StringValue::from).collect();
        attributes.push(KeyValue::new(
            semconv::GEN_AI_RESPONSE_FINISH_REASONS,
            Value::Array(Array::String(reasons)),
        ));
    }
    if let Some(usage) = usage {
        attributes.push(KeyValue::new(
            semconv::GEN_AI_USAGE_INPUT_TOKENS,
            saturating_i64(usage.prompt_tokens),
        ));
        attributes.push(KeyValue::new(
            semconv::GEN_AI_USAGE_OUTPUT_TOKENS,
            saturating_i64(usage.completion_tokens),
        ));
    }
    if let Some(id) = conversation_id {
        attributes.push(KeyValue::new(semconv::GEN_AI_CONVERSATION_ID, id));
    }
    push_params(params, &mut attributes);
    if let (true, Some(ttft)) = (stream, time_to_first_token) {
        attributes.push(KeyValue::new(
            semconv::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
            ttft.as_secs_f64(),
        ));
    }
    attributes.push(KeyValue::new(
        semconv::HTTP_RESPONSE_STATUS_CODE,
        i64::from(status_code),
    ));
    let failed = status == Some(RequestStatus::Error);
    if let Some(kind) = error_type.filter(|_| failed) {
        attributes.push(KeyValue::new(semconv::ERROR_TYPE, kind));
    }
    attributes.push(KeyValue::new("switchboard.request.id", request_id));
    if let Some(id) = provider_id {
        attributes.push(KeyValue::new("switchboard.provider", id));
    }
    if let Some(status) = status {
        attributes.push(KeyValue::new("switchboard.status", status.as_str()));
    }
    attributes.push(KeyValue::new("switchboard.fallback_used", fallback_used));
    let status = match (failed, error_message) {
        (true, Some(message)) => Status::error(message),
        (true, None) => Status::error(""),
        (false, _) => Status::Unset,
    };
    let mut events = Vec::new();
    if input.is_some() || output.is_some() {
        events.push(bodies_event(input, output, end, redact));
    }
    (attributes, status, events)
}

fn push_params(params: RequestParams, attributes: &mut Vec<KeyValue>) {
    let RequestParams {
        temperature,
        top_p,
        max_tokens,
        frequency_penalty,
        presence_penalty,
        seed,
        choice_count,
        stop_sequences,
    } = params;
    let floats = [
        (semconv::GEN_AI_REQUEST_TEMPERATURE, temperature),
        (semconv::GEN_AI_REQUEST_TOP_P, top_p),
        (semconv::GEN_AI_REQUEST_FREQUENCY_PENALTY, frequency_penalty),
        (semconv::GEN_AI_REQUEST_PRESENCE_PENALTY, presence_penalty),
    ];
    for (key, value) in floats {
        if let Some(value) = value {
            attributes.push(KeyValue::new(key, value));
        }
    }
    let ints = [
        (semconv::GEN_AI_REQUEST_MAX_TOKENS, max_tokens),
        (semconv::GEN_AI_REQUEST_SEED, seed),
        (semconv::GEN_AI_REQUEST_CHOICE_COUNT, choice_count),
    ];
    for (key, value) in ints {
        if let Some(value) = value {
            attributes.push(KeyValue::new(key, value));
        }
    }
    if !stop_sequences.is_empty() {
        let stops = stop_sequences.into_iter().map(StringValue::from).collect();
        attributes.push(KeyValue::new(
            semconv::GEN_AI_REQUEST_STOP_SEQUENCES,
            Value::Array(Array::String(stops)),
        ));
    }
}

fn bodies_event(
    input: Option<serde_json::Value>,
    output: Option<serde_json::Value>,
    at: SystemTime,
    redact: Option<&BodyRedactor>,
) -> Event {
    let mut attributes = Vec::with_capacity(2);
    for (key, value) in [
        (semconv::GEN_AI_INPUT_MESSAGES, input),
        // The conventions keep output messages as a list, one per choice.
        (
            semconv::GEN_AI_OUTPUT_MESSAGES,
            output.map(|m| serde_json::Value::Array(vec![m])),
        ),
    ] {
        let Some(mut value) = value else { continue };
        if let Some(redact) = redact {
            redact(&mut value);
        }
        attributes.push(KeyValue::new(key, value.to_string()));
    }
    Event::new(BODIES_EVENT, at, attributes, 0)
}

fn attempt_span(
    span_context: SpanContext,
    parent: SpanId,
    start: SystemTime,
    stream: bool,
    attempt: AttemptSpan,
    scope: &InstrumentationScope,
) -> SpanData {
    let AttemptSpan {
        provider_name,
        record,
        ..
    } = attempt;
    let end = start + Duration::from_secs_f64(record.latency.max(0.0));
    let name = Cow::Owned(format!("chat {}", record.provider_model));
    let mut attributes = Vec::with_capacity(12);
    attributes.push(KeyValue::new(semconv::GEN_AI_OPERATION_NAME, "chat"));
    attributes.push(KeyValue::new(semconv::GEN_AI_PROVIDER_NAME, provider_name));
    attributes.push(KeyValue::new(
        semconv::GEN_AI_REQUEST_MODEL,
        record.provider_model,
    ));
    attributes.push(KeyValue::new(semconv::GEN_AI_REQUEST_STREAM, stream));
    if let Some(status) = record.status_code {
        attributes.push(KeyValue::new(
            semconv::HTTP_RESPONSE_STATUS_CODE,
            i64::from(status),
        ));
    }
    if let Some(kind) = record.error_kind {
        attributes.push(KeyValue::new(semconv::ERROR_TYPE, kind.as_str()));
    }
    let mut events = Vec::new();
    if let Some(ttft) = record.time_to_first_token {
        attributes.push(KeyValue::new(
            semconv::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
            ttft,
        ));
        let at = start + Duration::from_secs_f64(ttft.max(0.0));
        events.push(Event::new(FIRST_TOKEN_EVENT, at, Vec::new(), 0));
    }
    attributes.push(KeyValue::new("switchboard.provider", record.provider_id));
    attributes.push(KeyValue::new("switchboard.attempt.hedge", record.hedge));
    attributes.push(KeyValue::new(
        "switchboard.attempt.cancelled",
        record.cancelled,
    ));
    attributes.push(KeyValue::new(
        "switchboard.attempt.continuation",
        record.continuation,
    ));
    let status = match (record.error_kind, record.error_message) {
        (Some(_), Some(message)) => Status::error(message),
        (Some(kind), None) => Status::error(kind.as_str()),
        (None, _) => Status::Unset,
    };
    SpanData {
        span_context,
        parent_span_id: parent,
        parent_span_is_remote: false,
        span_kind: SpanKind::Client,
        name,
        start_time: start,
        end_time: end,
        attributes,
        dropped_attributes_count: 0,
        events: span_events(events),
        links: SpanLinks::default(),
        status,
        instrumentation_scope: scope.clone(),
    }
}

fn span_events(events: Vec<Event>) -> SpanEvents {
    let mut span_events = SpanEvents::default();
    span_events.events = events;
    span_events
}

fn saturating_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
