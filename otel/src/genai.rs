//! A finished request as OpenTelemetry spans, named and attributed by the GenAI semantic
//! conventions (`gen_ai.*`), plus Switchboard's own `switchboard.*` attributes, written as
//! OTLP protobuf ([`crate::otlp`]).
//!
//! The request span is `chat {model}` (kind server: the gateway received it); each upstream
//! attempt is a child `chat {provider model}` (kind client: the gateway made it), whose id is
//! the parent the attempt's `traceparent` named upstream.

use std::time::{Duration, SystemTime};

use switchboard_record::RequestStatus;

use crate::names as semconv;
use crate::otlp::{AttrValue, Kind, SpanBuffer, StatusCode};
use crate::request_spans::{AttemptSpan, RequestFacts, RequestParams, RequestSpans};

/// The name of the event carrying the first token's time on an attempt span.
pub const FIRST_TOKEN_EVENT: &str = "first_token";
/// The name of the event carrying the bodies (`[otel] capture_bodies`).
pub const BODIES_EVENT: &str = "gen_ai.client.inference.operation.details";

/// Rewrites a body before it leaves the process (`[logging] redact`).
pub type BodyRedactor = std::sync::Arc<dyn Fn(&mut serde_json::Value) + Send + Sync>;

/// Writes the spans of one request into `out`; bodies pass through `redact` first.
pub fn write_spans(spans: RequestSpans, redact: Option<&BodyRedactor>, out: &mut SpanBuffer) {
    let RequestSpans {
        context,
        start,
        duration,
        mut request,
        attempts,
    } = spans;
    let trace_id = context.trace_id.to_bytes();
    let request_span = context.span_id.to_bytes();
    let state = context.tracestate.as_deref();
    let start_ns = unix_nanos(start);
    for attempt in &attempts {
        let begin = start_ns.saturating_add(nanos(attempt.offset));
        write_attempt(
            out,
            trace_id,
            request_span,
            state,
            begin,
            request.stream,
            attempt,
        );
    }
    let end_ns = start_ns.saturating_add(nanos(duration));
    let bodies = take_bodies(&mut request, redact);
    let mut span = out.span();
    span.ids(
        trace_id,
        request_span,
        context.parent_id.map(|p| p.to_bytes()),
        state,
    )
    .name(
        if request.model.is_empty() {
            "chat"
        } else {
            "chat "
        },
        &request.model,
    )
    .kind(Kind::Server)
    .times(start_ns, end_ns)
    .flags(context.parent_id.is_some());
    let failed = request.status == Some(RequestStatus::Error);
    request_attributes(&mut span, &request, failed);
    if !bodies.is_empty() {
        let attributes: Vec<(&str, AttrValue<'_>)> = bodies
            .iter()
            .map(|(key, text)| (*key, AttrValue::Str(text)))
            .collect();
        span.event(BODIES_EVENT, end_ns, &attributes);
    }
    match (failed, request.error_message.as_deref()) {
        (true, message) => span.status(StatusCode::Error, message.unwrap_or("")),
        (false, _) => span.status(StatusCode::Unset, ""),
    };
    span.finish();
}

fn request_attributes(
    span: &mut crate::otlp::SpanWriter<'_>,
    request: &RequestFacts,
    failed: bool,
) {
    let RequestFacts {
        request_id,
        model,
        stream,
        status,
        status_code,
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
        ..
    } = request;
    span.attr(semconv::GEN_AI_OPERATION_NAME, AttrValue::Str("chat"));
    if !model.is_empty() {
        span.attr(semconv::GEN_AI_REQUEST_MODEL, AttrValue::Str(model));
    }
    span.attr(semconv::GEN_AI_REQUEST_STREAM, AttrValue::Bool(*stream));
    if let Some(name) = provider_name {
        span.attr(semconv::GEN_AI_PROVIDER_NAME, AttrValue::Str(name));
    }
    if let Some(model) = response_model {
        span.attr(semconv::GEN_AI_RESPONSE_MODEL, AttrValue::Str(model));
    }
    if let Some(id) = response_id {
        span.attr(semconv::GEN_AI_RESPONSE_ID, AttrValue::Str(id));
    }
    if !finish_reasons.is_empty() {
        span.attr(
            semconv::GEN_AI_RESPONSE_FINISH_REASONS,
            AttrValue::StrArray(finish_reasons),
        );
    }
    if let Some(usage) = usage {
        span.attr(
            semconv::GEN_AI_USAGE_INPUT_TOKENS,
            AttrValue::Int(saturating_i64(usage.prompt_tokens)),
        );
        span.attr(
            semconv::GEN_AI_USAGE_OUTPUT_TOKENS,
            AttrValue::Int(saturating_i64(usage.completion_tokens)),
        );
    }
    if let Some(id) = conversation_id {
        span.attr(semconv::GEN_AI_CONVERSATION_ID, AttrValue::Str(id));
    }
    write_params(span, params);
    if let (true, Some(ttft)) = (*stream, time_to_first_token) {
        span.attr(
            semconv::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
            AttrValue::Double(ttft.as_secs_f64()),
        );
    }
    span.attr(
        semconv::HTTP_RESPONSE_STATUS_CODE,
        AttrValue::Int(i64::from(*status_code)),
    );
    if let Some(kind) = error_type.as_deref().filter(|_| failed) {
        span.attr(semconv::ERROR_TYPE, AttrValue::Str(kind));
    }
    span.attr("switchboard.request.id", AttrValue::Str(request_id));
    if let Some(id) = provider_id {
        span.attr("switchboard.provider", AttrValue::Str(id));
    }
    if let Some(status) = status {
        span.attr("switchboard.status", AttrValue::Str(status.as_str()));
    }
    span.attr("switchboard.fallback_used", AttrValue::Bool(*fallback_used));
}

fn write_params(span: &mut crate::otlp::SpanWriter<'_>, params: &RequestParams) {
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
            span.attr(key, AttrValue::Double(*value));
        }
    }
    let ints = [
        (semconv::GEN_AI_REQUEST_MAX_TOKENS, max_tokens),
        (semconv::GEN_AI_REQUEST_SEED, seed),
        (semconv::GEN_AI_REQUEST_CHOICE_COUNT, choice_count),
    ];
    for (key, value) in ints {
        if let Some(value) = value {
            span.attr(key, AttrValue::Int(*value));
        }
    }
    if !stop_sequences.is_empty() {
        span.attr(
            semconv::GEN_AI_REQUEST_STOP_SEQUENCES,
            AttrValue::StrArray(stop_sequences),
        );
    }
}

/// The captured bodies as JSON text, redacted: `gen_ai.input.messages`, and
/// `gen_ai.output.messages` as a list (the conventions keep one message per choice).
fn take_bodies(
    request: &mut RequestFacts,
    redact: Option<&BodyRedactor>,
) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let output = request
        .output
        .take()
        .map(|m| serde_json::Value::Array(vec![m]));
    for (key, value) in [
        (semconv::GEN_AI_INPUT_MESSAGES, request.input.take()),
        (semconv::GEN_AI_OUTPUT_MESSAGES, output),
    ] {
        let Some(mut value) = value else { continue };
        if let Some(redact) = redact {
            redact(&mut value);
        }
        out.push((key, value.to_string()));
    }
    out
}

fn write_attempt(
    out: &mut SpanBuffer,
    trace_id: [u8; 16],
    parent: [u8; 8],
    state: Option<&str>,
    start_ns: u64,
    stream: bool,
    attempt: &AttemptSpan,
) {
    let AttemptSpan {
        span_id,
        provider_name,
        record,
        ..
    } = attempt;
    let latency = Duration::from_secs_f64(record.latency.max(0.0));
    let mut span = out.span();
    span.ids(trace_id, span_id.to_bytes(), Some(parent), state)
        .name("chat ", &record.provider_model)
        .kind(Kind::Client)
        .times(start_ns, start_ns.saturating_add(nanos(latency)))
        .flags(false)
        .attr(semconv::GEN_AI_OPERATION_NAME, AttrValue::Str("chat"))
        .attr(semconv::GEN_AI_PROVIDER_NAME, AttrValue::Str(provider_name))
        .attr(
            semconv::GEN_AI_REQUEST_MODEL,
            AttrValue::Str(&record.provider_model),
        )
        .attr(semconv::GEN_AI_REQUEST_STREAM, AttrValue::Bool(stream));
    if let Some(status) = record.status_code {
        span.attr(
            semconv::HTTP_RESPONSE_STATUS_CODE,
            AttrValue::Int(i64::from(status)),
        );
    }
    if let Some(kind) = record.error_kind {
        span.attr(semconv::ERROR_TYPE, AttrValue::Str(kind.as_str()));
    }
    if let Some(ttft) = record.time_to_first_token {
        span.attr(
            semconv::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
            AttrValue::Double(ttft),
        );
        let at = start_ns.saturating_add(nanos(Duration::from_secs_f64(ttft.max(0.0))));
        span.event(FIRST_TOKEN_EVENT, at, &[]);
    }
    span.attr("switchboard.provider", AttrValue::Str(&record.provider_id))
        .attr("switchboard.attempt.hedge", AttrValue::Bool(record.hedge))
        .attr(
            "switchboard.attempt.cancelled",
            AttrValue::Bool(record.cancelled),
        )
        .attr(
            "switchboard.attempt.continuation",
            AttrValue::Bool(record.continuation),
        );
    match (record.error_kind, record.error_message.as_deref()) {
        (Some(_), Some(message)) => span.status(StatusCode::Error, message),
        (Some(kind), None) => span.status(StatusCode::Error, kind.as_str()),
        (None, _) => span.status(StatusCode::Unset, ""),
    };
    span.finish();
}

fn unix_nanos(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH).map_or(0, nanos)
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

fn saturating_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    //! Golden checks: the bytes are decoded with the `opentelemetry-proto` definitions.

    use super::*;
    use crate::otlp::ExportHead;
    use crate::request_spans::RequestParams;
    use crate::trace_context::{CallerTrace, TraceContext};
    use opentelemetry::trace::SpanId;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    use opentelemetry_proto::tonic::trace::v1::Span;
    use prost::Message;
    use switchboard_record::{AttemptRecord, ErrorKind, Usage};

    fn attempt(model: &str, kind: Option<ErrorKind>, ttft: Option<f64>) -> AttemptRecord {
        AttemptRecord {
            provider_id: "primary".to_owned(),
            provider_model: model.to_owned(),
            status_code: kind.map_or(Some(200), |_| Some(503)),
            error_kind: kind,
            error_message: kind.map(|_| "HTTP 503: overloaded".to_owned()),
            latency: 0.25,
            time_to_first_token: ttft,
            hedge: false,
            cancelled: false,
            continuation: false,
        }
    }

    fn value(span: &Span, key: &str) -> Option<Value> {
        span.attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.clone()?.value)
    }

    fn export(spans: RequestSpans) -> ExportTraceServiceRequest {
        let mut buffer = SpanBuffer::default();
        write_spans(spans, None, &mut buffer);
        let body = buffer.take_request(&ExportHead::new("voice-gateway", "1.2.3"));
        assert!(buffer.is_empty());
        ExportTraceServiceRequest::decode(body.as_slice()).expect("a valid OTLP export")
    }

    const EPOCH_NS: u64 = 1_800_000_000_000_000_000;

    #[test]
    fn a_failed_attempt_and_its_fallback_become_children_of_the_request_span() {
        let context = TraceContext::for_request(CallerTrace {
            trace_id: Some("0af7651916cd43dd8448eb211c80319c"),
            parent_id: Some("b7ad6b7169203331"),
            tracestate: Some("edge=1"),
            ..CallerTrace::default()
        });
        let start = SystemTime::UNIX_EPOCH + Duration::from_nanos(EPOCH_NS);
        let spans = RequestSpans {
            context: context.clone(),
            start,
            duration: Duration::from_millis(600),
            request: RequestFacts {
                request_id: "req-1".to_owned(),
                model: "voice-fast".to_owned(),
                stream: true,
                status: Some(RequestStatus::Success),
                status_code: 200,
                provider_name: Some("anthropic"),
                provider_id: Some("backup".to_owned()),
                response_model: Some("claude".to_owned()),
                finish_reasons: vec!["stop".to_owned()],
                usage: Some(Usage {
                    prompt_tokens: 12,
                    completion_tokens: 30,
                    total_tokens: 42,
                }),
                conversation_id: Some("call-7".to_owned()),
                time_to_first_token: Some(Duration::from_millis(420)),
                fallback_used: true,
                params: RequestParams {
                    temperature: Some(0.3),
                    seed: Some(-7),
                    stop_sequences: vec!["\n".to_owned(), "END".to_owned()],
                    ..RequestParams::default()
                },
                ..RequestFacts::default()
            },
            attempts: vec![
                AttemptSpan {
                    span_id: SpanId::from(1),
                    offset: Duration::from_millis(1),
                    provider_name: "openai",
                    record: attempt("gpt-4o-mini", Some(ErrorKind::ServerError), None),
                },
                AttemptSpan {
                    span_id: SpanId::from(2),
                    offset: Duration::from_millis(300),
                    provider_name: "anthropic",
                    record: attempt("claude", None, Some(0.12)),
                },
            ],
        };
        let request = export(spans);
        let resource_spans = &request.resource_spans[0];
        let resource = resource_spans.resource.as_ref().unwrap();
        assert_eq!(resource.attributes[0].key, "service.name");
        assert_eq!(
            resource.attributes[0].value.clone().unwrap().value,
            Some(Value::StringValue("voice-gateway".to_owned()))
        );
        let scope_spans = &resource_spans.scope_spans[0];
        assert_eq!(scope_spans.scope.as_ref().unwrap().name, "switchboard");
        assert_eq!(scope_spans.scope.as_ref().unwrap().version, "1.2.3");
        let [failed, served, chat] = &scope_spans.spans[..] else {
            panic!("three spans, not {}", scope_spans.spans.len());
        };

        assert_eq!(chat.name, "chat voice-fast");
        assert_eq!(chat.kind, 2);
        assert_eq!(chat.trace_id, context.trace_id.to_bytes());
        assert_eq!(chat.span_id, context.span_id.to_bytes());
        assert_eq!(chat.parent_span_id, context.parent_id.unwrap().to_bytes());
        assert_eq!(chat.flags, 0x301, "sampled, with a remote parent");
        assert_eq!(chat.trace_state, "edge=1");
        assert_eq!(chat.start_time_unix_nano, EPOCH_NS);
        assert_eq!(chat.end_time_unix_nano, EPOCH_NS + 600_000_000);
        assert_eq!(chat.status, None, "unset");
        assert_eq!(
            value(chat, "gen_ai.usage.output_tokens"),
            Some(Value::IntValue(30))
        );
        assert_eq!(
            value(chat, "gen_ai.request.seed"),
            Some(Value::IntValue(-7))
        );
        assert_eq!(
            value(chat, "gen_ai.request.temperature"),
            Some(Value::DoubleValue(0.3))
        );
        assert_eq!(
            value(chat, "gen_ai.response.time_to_first_chunk"),
            Some(Value::DoubleValue(0.42))
        );
        assert_eq!(
            value(chat, "switchboard.fallback_used"),
            Some(Value::BoolValue(true))
        );
        let Some(Value::ArrayValue(stops)) = value(chat, "gen_ai.request.stop_sequences") else {
            panic!("stop sequences are an array");
        };
        let stops: Vec<_> = stops.values.into_iter().filter_map(|v| v.value).collect();
        assert_eq!(
            stops,
            vec![
                Value::StringValue("\n".to_owned()),
                Value::StringValue("END".to_owned())
            ]
        );
        assert_eq!(value(chat, "error.type"), None);

        for child in [failed, served] {
            assert_eq!(child.kind, 3);
            assert_eq!(child.parent_span_id, context.span_id.to_bytes());
            assert_eq!(child.trace_id, context.trace_id.to_bytes());
            assert_eq!(child.flags, 0x101, "sampled, a local parent");
        }
        assert_eq!(failed.name, "chat gpt-4o-mini");
        assert_eq!(failed.start_time_unix_nano, EPOCH_NS + 1_000_000);
        assert_eq!(failed.end_time_unix_nano, EPOCH_NS + 251_000_000);
        let status = failed.status.as_ref().unwrap();
        assert_eq!(
            (status.code, status.message.as_str()),
            (2, "HTTP 503: overloaded")
        );
        assert_eq!(
            value(failed, "error.type"),
            Some(Value::StringValue("5xx".to_owned()))
        );
        assert_eq!(
            value(failed, "http.response.status_code"),
            Some(Value::IntValue(503))
        );
        assert!(failed.events.is_empty());

        assert_eq!(served.span_id, SpanId::from(2).to_bytes());
        assert_eq!(
            value(served, "gen_ai.provider.name"),
            Some(Value::StringValue("anthropic".to_owned()))
        );
        let first_token = &served.events[0];
        assert_eq!(first_token.name, FIRST_TOKEN_EVENT);
        assert_eq!(first_token.time_unix_nano, EPOCH_NS + 420_000_000);
    }

    #[test]
    fn a_request_refused_before_routing_is_an_error_span_named_chat() {
        let request = export(RequestSpans {
            context: TraceContext::for_request(CallerTrace::default()),
            start: SystemTime::UNIX_EPOCH,
            duration: Duration::from_millis(1),
            request: RequestFacts {
                status: Some(RequestStatus::Error),
                status_code: 400,
                error_type: Some("400".to_owned()),
                error_message: Some("the body is not JSON".to_owned()),
                ..RequestFacts::default()
            },
            attempts: Vec::new(),
        });
        let span = &request.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(span.name, "chat");
        assert!(span.parent_span_id.is_empty());
        assert_eq!(span.flags, 0x101);
        let status = span.status.as_ref().unwrap();
        assert_eq!(
            (status.code, status.message.as_str()),
            (2, "the body is not JSON")
        );
        assert_eq!(
            value(span, "error.type"),
            Some(Value::StringValue("400".to_owned()))
        );
    }

    #[test]
    fn captured_bodies_are_redacted_on_their_event() {
        let redact: BodyRedactor = std::sync::Arc::new(|value: &mut serde_json::Value| {
            if let Some(text) = value.pointer_mut("/0/content") {
                *text = serde_json::json!("[redacted]");
            }
        });
        let mut buffer = SpanBuffer::default();
        write_spans(
            RequestSpans {
                context: TraceContext::for_request(CallerTrace::default()),
                start: SystemTime::UNIX_EPOCH,
                duration: Duration::from_millis(1),
                request: RequestFacts {
                    input: Some(serde_json::json!([{"role": "user", "content": "secret"}])),
                    output: Some(serde_json::json!({"role": "assistant", "content": "ok"})),
                    ..RequestFacts::default()
                },
                attempts: Vec::new(),
            },
            Some(&redact),
            &mut buffer,
        );
        let body = buffer.take_request(&ExportHead::new("s", "v"));
        let request = ExportTraceServiceRequest::decode(body.as_slice()).unwrap();
        let event = &request.resource_spans[0].scope_spans[0].spans[0].events[0];
        assert_eq!(event.name, BODIES_EVENT);
        let texts: Vec<_> = event
            .attributes
            .iter()
            .map(|kv| (kv.key.as_str(), kv.value.clone().unwrap().value.unwrap()))
            .collect();
        assert_eq!(
            texts,
            vec![
                (
                    "gen_ai.input.messages",
                    Value::StringValue(r#"[{"content":"[redacted]","role":"user"}]"#.to_owned())
                ),
                (
                    "gen_ai.output.messages",
                    Value::StringValue(
                        r#"[{"content":"[redacted]","role":"assistant"}]"#.to_owned()
                    )
                ),
            ]
        );
    }
}
