//! The record of one request, built as it goes and submitted exactly once: by `finish`, or by
//! `Drop` when the request future is dropped because the client went away.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use switchboard_providers::RequestBody;
use switchboard_record::{JsonBody, LogRecord, LogSink, RequestStatus, Usage, rfc3339};
use time::OffsetDateTime;

use http::{HeaderValue, Response};
use metrics::Gauge;
use tokio::sync::OwnedSemaphorePermit;

use switchboard_otel::{
    AttemptSpan, RequestFacts, RequestParams, RequestSpans, SpanExport, TraceContext,
};

use crate::engine::fallback::{ChainNotes, NotedAttempt};
use crate::http::body::ResponseBody;
use crate::http::error::GatewayError;
use crate::http::header_names;
use crate::request::identity::Identity;
use crate::telemetry::metadata_labels::SeriesLabels;
use crate::telemetry::target_metrics::TargetMetrics;

/// The target that served (or was last tried) and its prices.
#[derive(Debug, Clone, Default)]
pub struct Served {
    /// Provider config name.
    pub provider: String,
    /// Provider model.
    pub model: String,
    /// USD per million prompt tokens.
    pub input_cost_per_mtok: Option<f64>,
    /// USD per million completion tokens.
    pub output_cost_per_mtok: Option<f64>,
}

/// What every request's record starts from: where it goes and what it counts into.
pub struct RecordContext {
    sink: Arc<dyn LogSink>,
    capture_bodies: bool,
    unrouted: Arc<TargetMetrics>,
    inflight: Gauge,
    spans: Option<Arc<SpanExport>>,
}

impl RecordContext {
    /// Records go to `sink`; `capture_bodies` is `logging.capture_bodies`. Call after the
    /// metrics recorder is installed (the handles are taken here).
    pub fn new(sink: Arc<dyn LogSink>, capture_bodies: bool) -> RecordContext {
        RecordContext {
            sink,
            capture_bodies,
            unrouted: Arc::new(TargetMetrics::new(Arc::from("unknown"), Arc::from(""))),
            inflight: metrics::gauge!("switchboard_inflight_requests"),
            spans: None,
        }
    }

    /// Every request's spans also go to `spans` (`[otel]`).
    pub fn with_spans(mut self, spans: Arc<SpanExport>) -> RecordContext {
        self.spans = Some(spans);
        self
    }

    /// Where spans go, with `[otel]`.
    pub fn spans(&self) -> Option<&Arc<SpanExport>> {
        self.spans.as_ref()
    }

    /// Where records go.
    pub fn sink(&self) -> &Arc<dyn LogSink> {
        &self.sink
    }
}

/// A request's record in the making.
pub struct RequestLog {
    /// The record id (UUIDv7), sent as `x-switchboard-request-id`.
    pub id: String,
    started: Instant,
    start_time: OffsetDateTime,
    sink: Arc<dyn LogSink>,
    capture_bodies: bool,
    inflight: Gauge,
    /// The series this request counts into: `model="unknown"` until it routed, then its
    /// route's, then those of the target that served it (or was tried last).
    pub metrics: Arc<TargetMetrics>,
    /// Its `[metrics] metadata_labels` values, added to every series it counts into.
    pub labels: SeriesLabels,
    /// Its place under `server.max_concurrent_requests`, given back when the record is done.
    pub permit: Option<OwnedSemaphorePermit>,
    /// The model the client named; empty until the body is read.
    pub model: String,
    /// `stream: true`.
    pub stream: bool,
    /// Identity and metadata.
    pub identity: Identity,
    /// The request body, for `input`, `tools` and `response_format`.
    pub body: Option<RequestBody>,
    /// The chain's attempts (each with its position in the order tried), skipped targets
    /// and warnings.
    pub chain: ChainNotes,
    /// Who served, or was tried last.
    pub served: Option<Served>,
    /// Request start to the first content-bearing chunk sent to the client.
    pub time_to_first_token: Option<Duration>,
    /// Longest gap between content-bearing chunks sent to the client.
    pub max_stall: Option<Duration>,
    /// Token counts.
    pub usage: Option<Usage>,
    /// The assistant message.
    pub output: Option<Value>,
    /// The JSON check's verdict.
    pub json_valid: Option<bool>,
    /// Non-fatal problems.
    pub warnings: Vec<String>,
    /// The status already sent to the client (streams), if any.
    pub status_sent: Option<u16>,
    /// Another target finished the stream (`mid_stream = "continue"`).
    pub continued: bool,
    /// Its place in a trace, with `[otel]` (spans are recorded when the caller samples).
    pub trace: Option<TraceContext>,
    /// The answer's `id` (noted only for spans).
    pub response_id: Option<String>,
    /// Each choice's `finish_reason` (noted only for spans).
    pub finish_reasons: Vec<String>,
    spans: Option<Arc<SpanExport>>,
    submitted: bool,
}

impl RequestLog {
    /// Starts the record of a request that just arrived.
    pub fn start(context: &RecordContext) -> RequestLog {
        context.inflight.increment(1.0);
        RequestLog {
            id: uuid::Uuid::now_v7().to_string(),
            started: Instant::now(),
            start_time: OffsetDateTime::now_utc(),
            sink: context.sink.clone(),
            capture_bodies: context.capture_bodies,
            inflight: context.inflight.clone(),
            metrics: context.unrouted.clone(),
            labels: SeriesLabels::default(),
            permit: None,
            model: String::new(),
            stream: false,
            identity: Identity::default(),
            body: None,
            chain: ChainNotes::default(),
            served: None,
            time_to_first_token: None,
            max_stall: None,
            usage: None,
            output: None,
            json_valid: None,
            warnings: Vec::new(),
            status_sent: None,
            continued: false,
            trace: None,
            response_id: None,
            finish_reasons: Vec::new(),
            spans: context.spans.clone(),
            submitted: false,
        }
    }

    /// True when this request's spans are exported (`[otel]`): the caller then reads its trace
    /// context.
    pub fn traced(&self) -> bool {
        self.spans.is_some()
    }

    /// When the request arrived.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Answers `error` (with `x-switchboard-request-id`, as every other answer has) and ends
    /// the record with it.
    pub fn reject(self, error: GatewayError) -> Response<ResponseBody> {
        let mut response = error.response();
        if let Ok(id) = HeaderValue::from_str(&self.id) {
            response.headers_mut().insert(header_names::REQUEST_ID, id);
        }
        self.finish(
            RequestStatus::Error,
            error.status().as_u16(),
            Some(error.to_string()),
        );
        response
    }

    /// Ends the record with `status` and submits it.
    pub fn finish(mut self, status: RequestStatus, status_code: u16, error: Option<String>) {
        self.submit(status, status_code, error);
    }

    fn submit(&mut self, status: RequestStatus, status_code: u16, error: Option<String>) {
        if self.submitted {
            return;
        }
        self.submitted = true;
        self.permit = None;
        self.inflight.decrement(1.0);
        let latency = self.started.elapsed();
        self.metrics.request_finished(status, latency);
        if let Some(usage) = self.usage {
            self.metrics
                .tokens(usage.prompt_tokens, usage.completion_tokens);
        }
        let traced = match (&self.spans, &self.trace) {
            (Some(spans), Some(trace)) if trace.sampled => {
                Some(self.span_parts(spans.capture_bodies()))
            }
            _ => None,
        };
        let mut record = self.build(status, status_code, error, latency);
        if let (Some(parts), Some(spans), Some(trace)) =
            (traced, self.spans.take(), self.trace.take())
        {
            // The record names the spans it is part of.
            record
                .trace_unique_id
                .get_or_insert_with(|| trace.trace_id_hex());
            record
                .span_unique_id
                .get_or_insert_with(|| trace.span_id_hex());
            spans.submit(parts.into_spans(&record, trace, self.start_time, latency));
        }
        self.sink.submit(record);
    }

    /// What the spans need that `build` consumes: each attempt with its start, the request's
    /// settings and, with `capture`, its bodies.
    fn span_parts(&mut self, capture: bool) -> SpanParts {
        let started = self.started;
        let attempts = self
            .chain
            .attempts
            .iter()
            .map(|NotedAttempt { record, start, .. }| AttemptSpan {
                span_id: start.span_id,
                offset: start.at.into_std().saturating_duration_since(started),
                provider_name: start.provider,
                record: record.clone(),
            })
            .collect();
        let body = self.body.as_ref();
        let capture = capture && !self.identity.disable_log;
        SpanParts {
            attempts,
            params: body
                .map(|b| RequestParams::from_body(&b.fields))
                .unwrap_or_default(),
            input: body
                .filter(|_| capture)
                .and_then(RequestBody::messages_value),
            output: self.output.as_ref().filter(|_| capture).cloned(),
            response_id: self.response_id.take(),
            finish_reasons: std::mem::take(&mut self.finish_reasons),
            time_to_first_token: self.time_to_first_token,
        }
    }

    fn build(
        &mut self,
        status: RequestStatus,
        status_code: u16,
        error_message: Option<String>,
        latency: Duration,
    ) -> LogRecord {
        let capture = self.capture_bodies && !self.identity.disable_log;
        let mut body = self.body.take().unwrap_or_default();
        let served = self.served.take().unwrap_or_default();
        let cost = self.usage.and_then(|u| {
            let input = served.input_cost_per_mtok?;
            let output = served.output_cost_per_mtok.unwrap_or(0.0);
            Some((u.prompt_tokens as f64 * input + u.completion_tokens as f64 * output) / 1e6)
        });
        let ChainNotes {
            attempts,
            skipped,
            warnings: chain_warnings,
            // The attempts say it (`hedge`, `cancelled`).
            hedged: _,
        } = std::mem::take(&mut self.chain);
        // A hedge hung up on is not a fallback: the first target served.
        let fallback_used = attempts
            .iter()
            .any(|noted| noted.position > 0 && !noted.record.cancelled);
        let identity = std::mem::take(&mut self.identity);
        let mut warnings = std::mem::take(&mut self.warnings);
        warnings.extend(identity.warnings);
        warnings.extend(chain_warnings);
        let end_time = self.start_time + latency;
        LogRecord {
            id: std::mem::take(&mut self.id),
            timestamp: rfc3339(end_time),
            start_time: rfc3339(self.start_time),
            log_type: "chat",
            model: std::mem::take(&mut self.model),
            provider_id: (!served.provider.is_empty()).then_some(served.provider),
            provider_model: (!served.model.is_empty()).then_some(served.model),
            stream: self.stream,
            status_code,
            status,
            error_message,
            latency: latency.as_secs_f64(),
            time_to_first_token: self.time_to_first_token.map(|d| d.as_secs_f64()),
            max_stall: self.max_stall.map(|d| d.as_secs_f64()),
            usage: self.usage,
            cost,
            input: if capture {
                body.messages.map(JsonBody::Raw)
            } else {
                None
            },
            output: if capture { self.output.take() } else { None },
            tools: body.fields.remove("tools"),
            response_format: body.fields.remove("response_format"),
            customer_identifier: identity.customer_identifier,
            thread_identifier: identity.thread_identifier,
            metadata: identity.metadata,
            trace_unique_id: identity.trace_unique_id,
            span_unique_id: identity.span_unique_id,
            span_parent_id: identity.span_parent_id,
            span_name: identity.span_name,
            retries: attempts.len().saturating_sub(1) as u32,
            fallback_used,
            continued: self.continued,
            json_valid: self.json_valid,
            attempts: attempts.into_iter().map(|noted| noted.record).collect(),
            skipped_targets: skipped,
            warnings,
        }
    }
}

/// A request's span facts taken before its record is built.
struct SpanParts {
    attempts: Vec<AttemptSpan>,
    params: RequestParams,
    input: Option<Value>,
    output: Option<Value>,
    response_id: Option<String>,
    finish_reasons: Vec<String>,
    time_to_first_token: Option<Duration>,
}

impl SpanParts {
    fn into_spans(
        self,
        record: &LogRecord,
        context: TraceContext,
        start_time: OffsetDateTime,
        latency: Duration,
    ) -> RequestSpans {
        let error_type = match record.attempts.last().and_then(|a| a.error_kind) {
            Some(kind) => Some(kind.as_str().to_owned()),
            None => (record.status == RequestStatus::Error).then(|| record.status_code.to_string()),
        };
        RequestSpans {
            context,
            start: start_time.into(),
            duration: latency,
            request: RequestFacts {
                request_id: record.id.clone(),
                model: record.model.clone(),
                stream: record.stream,
                status: Some(record.status),
                status_code: record.status_code,
                error_message: record.error_message.clone(),
                error_type,
                provider_name: self.attempts.last().map(|a| a.provider_name),
                provider_id: record.provider_id.clone(),
                response_model: record.provider_model.clone(),
                response_id: self.response_id,
                finish_reasons: self.finish_reasons,
                usage: record.usage,
                conversation_id: record.thread_identifier.clone(),
                time_to_first_token: self.time_to_first_token,
                fallback_used: record.fallback_used,
                params: self.params,
                input: self.input,
                output: self.output,
            },
            attempts: self.attempts,
        }
    }
}

impl Drop for RequestLog {
    fn drop(&mut self) {
        if !self.submitted {
            // The request future was dropped: the client went away before the end.
            let code = self.status_sent.unwrap_or(499);
            self.submit(
                RequestStatus::ClientDisconnected,
                code,
                Some(
                    "the client closed the connection before the response was complete".to_owned(),
                ),
            );
        }
    }
}
