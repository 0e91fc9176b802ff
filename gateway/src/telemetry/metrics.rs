//! Prometheus metrics of SPEC section 6: the recorder, and one function per event so names
//! and labels live in one place. Labels are low-cardinality: never customer, thread or call ids.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use switchboard_config::ErrorKind;

const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide Prometheus recorder (once; later calls return the same handle).
/// `None` when another recorder was installed first.
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), LATENCY_BUCKETS)
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            describe();
            Some(handle)
        })
        .clone()
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "switchboard_requests_total",
        "Requests by model, provider and end status"
    );
    describe_histogram!(
        "switchboard_request_duration_seconds",
        Unit::Seconds,
        "Request latency, client start to last byte"
    );
    describe_histogram!(
        "switchboard_time_to_first_token_seconds",
        Unit::Seconds,
        "Streams: request start to the first content-bearing chunk"
    );
    describe_counter!(
        "switchboard_retries_total",
        "Retries on the same target, by reason"
    );
    describe_counter!(
        "switchboard_fallbacks_total",
        "Moves to the next target, by reason"
    );
    describe_counter!(
        "switchboard_stream_timeouts_total",
        "Attempts ended by a first-token, stall or total timeout"
    );
    describe_counter!(
        "switchboard_invalid_json_total",
        "Outputs that failed the JSON check"
    );
    describe_counter!(
        "switchboard_tokens_total",
        "Tokens by type (prompt, completion)"
    );
    describe_gauge!("switchboard_inflight_requests", "Chat requests in progress");
}

/// One request ended.
pub fn request_finished(model: &str, provider: &str, status: &'static str, latency: Duration) {
    counter!("switchboard_requests_total", "model" => model.to_owned(), "provider" => provider.to_owned(), "status" => status)
        .increment(1);
    histogram!("switchboard_request_duration_seconds", "model" => model.to_owned(), "provider" => provider.to_owned())
        .record(latency.as_secs_f64());
}

/// A stream's first content-bearing chunk reached the client.
pub fn first_token(model: &str, provider: &str, since_start: Duration) {
    histogram!("switchboard_time_to_first_token_seconds", "model" => model.to_owned(), "provider" => provider.to_owned())
        .record(since_start.as_secs_f64());
}

/// The same target is tried again after a failure of `reason`.
pub fn retry(model: &str, provider: &str, reason: ErrorKind) {
    counter!("switchboard_retries_total", "model" => model.to_owned(), "provider" => provider.to_owned(), "reason" => reason.as_str())
        .increment(1);
}

/// The chain moves from one target's provider to the next after a failure of `reason`.
pub fn fallback(model: &str, from: &str, to: &str, reason: ErrorKind) {
    counter!("switchboard_fallbacks_total", "model" => model.to_owned(), "from_provider" => from.to_owned(), "to_provider" => to.to_owned(), "reason" => reason.as_str())
        .increment(1);
}

/// An attempt failed: counts the timeout and invalid-JSON kinds.
pub fn attempt_failed(model: &str, provider: &str, kind: ErrorKind) {
    let timeout_kind = match kind {
        ErrorKind::FirstTokenTimeout => "first_token",
        ErrorKind::Stall => "stall",
        ErrorKind::Timeout => "total",
        ErrorKind::InvalidJson => {
            invalid_json(model, provider);
            return;
        }
        _ => return,
    };
    counter!("switchboard_stream_timeouts_total", "model" => model.to_owned(), "provider" => provider.to_owned(), "kind" => timeout_kind)
        .increment(1);
}

/// An output failed the JSON check.
pub fn invalid_json(model: &str, provider: &str) {
    counter!("switchboard_invalid_json_total", "model" => model.to_owned(), "provider" => provider.to_owned())
        .increment(1);
}

/// Tokens used by a request.
pub fn tokens(model: &str, provider: &str, prompt: u64, completion: u64) {
    counter!("switchboard_tokens_total", "model" => model.to_owned(), "provider" => provider.to_owned(), "type" => "prompt")
        .increment(prompt);
    counter!("switchboard_tokens_total", "model" => model.to_owned(), "provider" => provider.to_owned(), "type" => "completion")
        .increment(completion);
}

/// Chat requests in progress moved by `delta`.
pub fn inflight(delta: f64) {
    gauge!("switchboard_inflight_requests").increment(delta);
}
