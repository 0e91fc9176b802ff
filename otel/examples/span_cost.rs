//! What the export thread spends on one request's spans, timed in a tight loop (no valgrind,
//! no network): the request span and one attempt, as a plain non-stream call makes them,
//! written as OTLP protobuf and framed into exports of 512 spans.
//!
//!   cargo run --release -p switchboard-otel --example span_cost [-- ITERATIONS]
//!
//! Run it under `valgrind --tool=callgrind` with a small ITERATIONS to count the same work in
//! instructions: the two together convert the gateway's callgrind figures into CPU time on
//! this machine (BENCHMARKS.md, "OpenTelemetry").

use std::time::{Duration, Instant, SystemTime};

use switchboard_otel::genai::write_spans;
use switchboard_otel::otlp::{ExportHead, SpanBuffer};
use switchboard_otel::{
    AttemptSpan, CallerTrace, RequestFacts, RequestSpans, TraceContext, new_span_id,
};
use switchboard_record::{AttemptRecord, RequestStatus, Usage};

fn template() -> RequestSpans {
    RequestSpans {
        context: TraceContext::for_request(CallerTrace::default()),
        start: SystemTime::now(),
        duration: Duration::from_micros(900),
        request: RequestFacts {
            request_id: "019ad8f0-8b7e-7c31-9a2f-5b1e0c6d7a40".to_owned(),
            model: "ns".to_owned(),
            stream: false,
            status: Some(RequestStatus::Success),
            status_code: 200,
            provider_name: Some("openai"),
            provider_id: Some("mock".to_owned()),
            response_model: Some("gpt-4o-mini".to_owned()),
            response_id: Some("chatcmpl-123".to_owned()),
            finish_reasons: vec!["stop".to_owned()],
            usage: Some(Usage {
                prompt_tokens: 9,
                completion_tokens: 12,
                total_tokens: 21,
            }),
            ..RequestFacts::default()
        },
        attempts: vec![AttemptSpan {
            span_id: new_span_id(),
            offset: Duration::from_micros(40),
            provider_name: "openai",
            record: AttemptRecord {
                provider_id: "mock".to_owned(),
                provider_model: "gpt-4o-mini".to_owned(),
                status_code: Some(200),
                error_kind: None,
                error_message: None,
                latency: 0.0008,
                time_to_first_token: None,
                hedge: false,
                cancelled: false,
                continuation: false,
            },
        }],
    }
}

fn main() {
    let iterations: u32 = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(200_000);
    let head = ExportHead::new("switchboard", "bench");
    let template = template();
    let mut buffer = SpanBuffer::default();
    let mut bytes = 0usize;
    let mut runs = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        for _ in 0..iterations {
            // The clone stands for the copies the request path makes of the record's fields.
            write_spans(template.clone(), None, &mut buffer);
            if buffer.len() >= 512 {
                bytes += buffer.take_request(&head).len();
            }
        }
        runs.push(started.elapsed().as_nanos() as f64 / f64::from(iterations));
    }
    runs.sort_by(f64::total_cmp);
    println!(
        "{iterations} requests x 5 runs: median {:.0} ns per request (min {:.0}, max {:.0}); {} export bytes",
        runs[2], runs[0], runs[4], bytes
    );
}
