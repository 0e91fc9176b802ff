//! Prometheus metrics of SPEC section 6: the recorder, and one function per event so names
//! and labels live in one place. Labels are low-cardinality: never customer, thread or call ids.

use std::sync::OnceLock;

use metrics::{counter, gauge};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0,
];

/// Time to first token on a phone call: what matters is tens of milliseconds (a human hears a
/// pause from ~300 ms), up to the few seconds a stalled provider takes.
const TTFT_BUCKETS: &[f64] = &[
    0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0,
    10.0,
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
                // A full name is matched before a suffix.
                .set_buckets_for_metric(
                    Matcher::Full("switchboard_time_to_first_token_seconds".to_owned()),
                    TTFT_BUCKETS,
                )
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            describe();
            spawn_upkeep(handle.clone());
            Some(handle)
        })
        .clone()
}

/// Histogram observations wait in the recorder until a render or an upkeep folds them in: with
/// no scrape they would pile up for ever (found by the soak: +0.2 MB a minute at 300 req/s).
/// A thread of its own folds them every few seconds, whoever scrapes.
fn spawn_upkeep(handle: PrometheusHandle) {
    let started = std::thread::Builder::new()
        .name("switchboard-metrics-upkeep".to_owned())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                handle.run_upkeep();
            }
        });
    if let Err(e) = started {
        tracing::error!("cannot start the metrics upkeep thread: {e}");
    }
}

/// How often histogram observations are folded in.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

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
        "switchboard_continuations_total",
        "Streams that failed after their first token and were finished by another target"
    );
    describe_counter!(
        "switchboard_stream_events_skipped_total",
        "Stream events that could not be read and were skipped (the stream went on)"
    );
    describe_counter!(
        "switchboard_hedges_total",
        "Hedges started beside a slow attempt, by whether the hedge won"
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
    describe_counter!(
        "switchboard_store_records_expired_total",
        "Logs removed from the store by logging.retention_days"
    );
    describe_counter!(
        "switchboard_overload_rejections_total",
        "Chat requests answered 503 past server.max_concurrent_requests"
    );
    describe_counter!(
        "switchboard_connections_rejected_total",
        "Connections closed at once past server.max_connections"
    );
}

/// A chat request was turned away: more than `server.max_concurrent_requests` in flight.
pub fn overload_rejected() {
    counter!("switchboard_overload_rejections_total").increment(1);
}

/// A connection was closed at once: more than `server.max_connections` open.
pub fn connection_rejected() {
    counter!("switchboard_connections_rejected_total").increment(1);
}

/// Chat requests in progress moved by `delta`.
pub fn inflight(delta: f64) {
    gauge!("switchboard_inflight_requests").increment(delta);
}
