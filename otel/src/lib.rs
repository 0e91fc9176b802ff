//! OpenTelemetry traces of the gateway (SPEC section 13).
//!
//! A request's trace context comes from the caller ([`trace_context`]); each upstream attempt
//! carries a `traceparent` naming its own span. When the request ends, the gateway hands its
//! facts over ([`request_spans`]) to [`export::SpanExport`], which never blocks: the export
//! thread writes them as spans with the GenAI conventions ([`genai`]) in OTLP protobuf
//! ([`otlp`]) and posts them in batches to the collector. A full queue or a failed export
//! loses spans, counted in `switchboard_otel_spans_dropped_total`, never requests.

pub mod error;
pub mod export;
pub mod genai;
pub mod names;
pub mod otlp;
pub mod request_spans;
pub mod trace_context;

pub use error::OtelError;
pub use export::SpanExport;
pub use genai::BodyRedactor;
pub use opentelemetry::trace::{SpanId, TraceId};
pub use request_spans::{AttemptSpan, RequestFacts, RequestParams, RequestSpans, provider_name};
pub use trace_context::{CallerTrace, TraceContext, Traceparent, new_span_id, parse_traceparent};
