//! The export side: a bounded queue the request path drops its span facts into without
//! waiting, and one thread that encodes them as OTLP protobuf ([`crate::otlp`]), batches them
//! and posts each batch to the collector's `/v1/traces`.
//!
//! Not the SDK's `BatchSpanProcessor` and `opentelemetry-otlp` exporter: that processor takes
//! spans from the SDK's tracer, which picks span ids itself when a span starts, while an
//! attempt's id must be known before it starts (it goes upstream in the attempt's
//! `traceparent`) and the spans are only built once the request is over; it counts the spans
//! it drops in a private field, where `switchboard_otel_spans_dropped_total` needs them; and
//! the exporter's conversion costs six times the CPU budget (see [`crate::otlp`]). The
//! retry policy below is the one the OTLP specification recommends.

use std::time::{Duration, Instant};

use bytes::Bytes;
use metrics::Counter;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use switchboard_config::OtelConfig;
use tokio::sync::{mpsc, oneshot};

use crate::error::OtelError;
use crate::genai::{BodyRedactor, write_spans};
use crate::otlp::{ExportHead, SpanBuffer};
use crate::request_spans::RequestSpans;

/// Spans sent in one OTLP request at most.
const MAX_BATCH_SPANS: usize = 512;
/// The queue is read at least this often (and every `export_interval_ms` when that is
/// shorter): at 8,192 requests of queue, up to 80k requests a second pass without a drop.
const MAX_DRAIN_INTERVAL: Duration = Duration::from_millis(100);
/// Tries after the first for an export the collector may take later (429, 502, 503, 504, or
/// no connection), backing off from 100 ms, doubling, at most 1.6 s or its Retry-After.
const RETRIES: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_millis(1600);
/// How often a failing collector is written about in the gateway's log.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// The handle requests give their spans to; cheap to share.
pub struct SpanExport {
    tx: mpsc::Sender<RequestSpans>,
    capture_bodies: bool,
    dropped_queue_full: Counter,
    stop: std::sync::Mutex<Option<Stop>>,
}

struct Stop {
    signal: oneshot::Sender<()>,
    done: std::sync::mpsc::Receiver<()>,
}

impl std::fmt::Debug for SpanExport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpanExport")
            .field("capture_bodies", &self.capture_bodies)
            .finish_non_exhaustive()
    }
}

impl SpanExport {
    /// Starts the export thread for `config` (`Ok(None)` when `endpoint` is not set).
    /// `redact` rewrites captured bodies (`[logging] redact`). Call after the metrics
    /// recorder is installed.
    pub fn start(
        config: &OtelConfig,
        redact: Option<BodyRedactor>,
    ) -> Result<Option<SpanExport>, OtelError> {
        let Some(endpoint) = config.endpoint.as_deref() else {
            return Ok(None);
        };
        let url = traces_url(endpoint)?;
        let mut headers = HeaderMap::new();
        for (name, value) in &config.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| OtelError::Header(name.clone()))?;
            let mut value =
                HeaderValue::from_str(value).map_err(|_| OtelError::Header(name.to_string()))?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-protobuf"),
        );
        // reqwest is built without a default crypto provider; the gateway's is ring (a second
        // install is a no-op error, ignored).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.export_timeout_ms))
            .tcp_nodelay(true)
            .build()
            .map_err(|e| OtelError::Client(e.without_url().to_string()))?;
        let (tx, rx) = mpsc::channel(config.queue_capacity);
        let (signal, stopped) = oneshot::channel();
        let (done_tx, done) = std::sync::mpsc::channel();
        let worker = Worker {
            rx,
            client,
            url,
            headers,
            head: ExportHead::new(&config.service_name, env!("CARGO_PKG_VERSION")),
            buffer: SpanBuffer::default(),
            redact,
            interval: Duration::from_millis(config.export_interval_ms),
            exported: metrics::counter!("switchboard_otel_spans_exported_total"),
            dropped_failed: metrics::counter!(
                "switchboard_otel_spans_dropped_total",
                "reason" => "export_failed"
            ),
            last_warning: None,
            dropped_since_warning: 0,
        };
        std::thread::Builder::new()
            .name("switchboard-otel".to_owned())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                match runtime {
                    Ok(runtime) => runtime.block_on(worker.run(stopped)),
                    Err(e) => tracing::error!("span export runtime failed to start: {e}"),
                }
                let _ = done_tx.send(());
            })
            .map_err(OtelError::Thread)?;
        Ok(Some(SpanExport {
            tx,
            capture_bodies: config.capture_bodies,
            dropped_queue_full: metrics::counter!(
                "switchboard_otel_spans_dropped_total",
                "reason" => "queue_full"
            ),
            stop: std::sync::Mutex::new(Some(Stop { signal, done })),
        }))
    }

    /// `[otel] capture_bodies`.
    pub fn capture_bodies(&self) -> bool {
        self.capture_bodies
    }

    /// Queues one request's spans; never waits. When the queue is full (the collector is
    /// slow or gone) they are dropped and counted.
    pub fn submit(&self, spans: RequestSpans) {
        if let Err(e) = self.tx.try_send(spans) {
            let spans = match e {
                mpsc::error::TrySendError::Full(s) | mpsc::error::TrySendError::Closed(s) => s,
            };
            self.dropped_queue_full
                .increment(1 + spans.attempts.len() as u64);
        }
    }

    /// Sends what is queued and stops the thread, waiting at most `within`; `true` when
    /// everything queued was handed to the collector (or dropped and counted) in time.
    pub fn shutdown(&self, within: Duration) -> bool {
        let stop = match self.stop.lock() {
            Ok(mut stop) => stop.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        let Some(Stop { signal, done }) = stop else {
            return true;
        };
        let _ = signal.send(());
        done.recv_timeout(within).is_ok()
    }
}

/// The URL spans are posted to: `endpoint` itself when it has a path, else `endpoint` with
/// `/v1/traces` (how the OTLP exporter specification reads a base endpoint).
fn traces_url(endpoint: &str) -> Result<String, OtelError> {
    let mut url = reqwest::Url::parse(endpoint)
        .map_err(|e| OtelError::Endpoint(format!("\"{endpoint}\" is not a URL: {e}")))?;
    if url.path().is_empty() || url.path() == "/" {
        url.set_path("/v1/traces");
    }
    Ok(url.to_string())
}

struct Worker {
    rx: mpsc::Receiver<RequestSpans>,
    client: reqwest::Client,
    url: String,
    headers: HeaderMap,
    head: ExportHead,
    buffer: SpanBuffer,
    redact: Option<BodyRedactor>,
    interval: Duration,
    exported: Counter,
    dropped_failed: Counter,
    last_warning: Option<Instant>,
    dropped_since_warning: u64,
}

impl Worker {
    async fn run(mut self, mut stopped: oneshot::Receiver<()>) {
        // The queue is read on a timer, not awaited: a request handing its spans over then
        // never wakes this thread (a futex call and a context switch per request otherwise).
        let mut drain = tokio::time::interval(self.interval.min(MAX_DRAIN_INTERVAL));
        drain.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_export = Instant::now();
        loop {
            let stopping = tokio::select! {
                biased;
                _ = &mut stopped => true,
                _ = drain.tick() => false,
            };
            let closed = loop {
                match self.rx.try_recv() {
                    Ok(spans) => {
                        write_spans(spans, self.redact.as_ref(), &mut self.buffer);
                        if self.buffer.len() >= MAX_BATCH_SPANS {
                            self.export().await;
                            last_export = Instant::now();
                        }
                    }
                    Err(mpsc::error::TryRecvError::Empty) => break false,
                    Err(mpsc::error::TryRecvError::Disconnected) => break true,
                }
            };
            // Shutting down, what is queued still goes.
            if stopping || closed || last_export.elapsed() >= self.interval {
                self.export().await;
                last_export = Instant::now();
            }
            if stopping || closed {
                break;
            }
        }
    }

    async fn export(&mut self) {
        if self.buffer.is_empty() {
            return;
        }
        let count = self.buffer.len() as u64;
        let body = Bytes::from(self.buffer.take_request(&self.head));
        match self.post(body).await {
            Ok(()) => self.exported.increment(count),
            Err(why) => {
                self.dropped_failed.increment(count);
                self.dropped_since_warning += count;
                let due = self
                    .last_warning
                    .is_none_or(|at| at.elapsed() >= WARN_EVERY);
                if due {
                    tracing::warn!(
                        "OpenTelemetry export to {} failed ({why}): {} span(s) dropped since the last warning; requests are not affected",
                        self.url,
                        self.dropped_since_warning
                    );
                    self.last_warning = Some(Instant::now());
                    self.dropped_since_warning = 0;
                }
            }
        }
    }

    /// Posts one export, retrying what the collector may take later.
    async fn post(&self, body: Bytes) -> Result<(), String> {
        let mut backoff = FIRST_BACKOFF;
        let mut tries = 0;
        loop {
            let sent = self
                .client
                .post(&self.url)
                .headers(self.headers.clone())
                .body(body.clone())
                .send()
                .await;
            let (why, retry_after) = match sent {
                Ok(response) if response.status().is_success() => {
                    // Read to the end (a small ExportTraceServiceResponse) so the connection
                    // is reused.
                    let _ = response.bytes().await;
                    return Ok(());
                }
                Ok(response) => {
                    let status = response.status().as_u16();
                    if !matches!(status, 429 | 502 | 503 | 504) {
                        return Err(format!("the collector answered HTTP {status}"));
                    }
                    let retry_after = response
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    (format!("the collector answered HTTP {status}"), retry_after)
                }
                Err(e) => (e.without_url().to_string(), None),
            };
            if tries == RETRIES {
                return Err(why);
            }
            tries += 1;
            tokio::time::sleep(retry_after.unwrap_or(backoff).min(MAX_BACKOFF)).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base_endpoint_gets_the_traces_path_and_a_full_one_is_kept() {
        assert_eq!(
            traces_url("http://127.0.0.1:4318").unwrap(),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(
            traces_url("http://collector:4318/").unwrap(),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            traces_url("https://otlp.example.com/otlp/v1/traces").unwrap(),
            "https://otlp.example.com/otlp/v1/traces"
        );
        assert!(traces_url("not a url").is_err());
    }
}
