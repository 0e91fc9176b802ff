//! The export side: a bounded queue the request path drops its spans into without waiting,
//! and one thread that turns them into span data, batches them and sends each batch with
//! `opentelemetry-otlp`'s HTTP/protobuf exporter.
//!
//! Written here rather than using the SDK's `BatchSpanProcessor` for two reasons: that
//! processor takes spans from the SDK's tracer, which picks span ids itself when a span
//! starts, while an attempt's id must be known before it starts (it goes upstream in the
//! attempt's `traceparent`) and the spans are only built once the request is over; and it
//! counts the spans it drops in a private field, where `switchboard_otel_spans_dropped_total`
//! needs them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use metrics::Counter;
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanExporter as _};
use switchboard_config::OtelConfig;
use tokio::sync::{mpsc, oneshot};

use crate::error::OtelError;
use crate::genai::{BodyRedactor, to_span_data};
use crate::request_spans::RequestSpans;

/// Spans sent in one OTLP request at most.
const MAX_BATCH_SPANS: usize = 512;
/// How often a failing collector is written about in the gateway's log.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// The handle requests give their spans to; cheap to share.
pub struct SpanExport {
    tx: mpsc::Sender<RequestSpans>,
    capture_bodies: bool,
    dropped_queue_full: Counter,
    stop: Mutex<Option<Stop>>,
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
    /// Starts the export thread for `config` (whose `endpoint` must be set: `Ok(None)`
    /// otherwise). `redact` rewrites captured bodies (`[logging] redact`). Call after the
    /// metrics recorder is installed.
    pub fn start(
        config: &OtelConfig,
        redact: Option<BodyRedactor>,
    ) -> Result<Option<SpanExport>, OtelError> {
        let Some(endpoint) = config.endpoint.as_deref() else {
            return Ok(None);
        };
        let url = traces_url(endpoint)?;
        let timeout = Duration::from_millis(config.export_timeout_ms);
        // reqwest is built without a default crypto provider; the gateway's is ring (a second
        // install is a no-op error, ignored).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| OtelError::Exporter(e.to_string()))?;
        let headers: HashMap<String, String> = config
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(client)
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(url.clone())
            .with_timeout(timeout)
            .with_headers(headers)
            .build()
            .map_err(|e| OtelError::Exporter(e.to_string()))?;
        let resource = Resource::builder_empty()
            .with_service_name(config.service_name.clone())
            .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
            .build();
        exporter.set_resource(&resource);
        let (tx, rx) = mpsc::channel(config.queue_capacity);
        let (signal, stopped) = oneshot::channel();
        let (done_tx, done) = std::sync::mpsc::channel();
        let worker = Worker {
            rx,
            exporter,
            scope: InstrumentationScope::builder("switchboard")
                .with_version(env!("CARGO_PKG_VERSION"))
                .build(),
            redact,
            interval: Duration::from_millis(config.export_interval_ms),
            endpoint: url,
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
            stop: Mutex::new(Some(Stop { signal, done })),
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
    exporter: opentelemetry_otlp::SpanExporter,
    scope: InstrumentationScope,
    redact: Option<BodyRedactor>,
    interval: Duration,
    endpoint: String,
    exported: Counter,
    dropped_failed: Counter,
    last_warning: Option<Instant>,
    dropped_since_warning: u64,
}

impl Worker {
    async fn run(mut self, mut stopped: oneshot::Receiver<()>) {
        let mut batch: Vec<SpanData> = Vec::with_capacity(MAX_BATCH_SPANS);
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                _ = &mut stopped => break,
                next = self.rx.recv() => match next {
                    Some(spans) => {
                        self.add(spans, &mut batch);
                        if batch.len() >= MAX_BATCH_SPANS {
                            self.export(&mut batch).await;
                        }
                    }
                    None => break,
                },
                _ = tick.tick() => self.export(&mut batch).await,
            }
        }
        // Shutting down: what is queued still goes, in full batches.
        while let Ok(spans) = self.rx.try_recv() {
            self.add(spans, &mut batch);
            if batch.len() >= MAX_BATCH_SPANS {
                self.export(&mut batch).await;
            }
        }
        self.export(&mut batch).await;
        let _ = self.exporter.shutdown();
    }

    fn add(&self, spans: RequestSpans, batch: &mut Vec<SpanData>) {
        to_span_data(spans, &self.scope, self.redact.as_ref(), batch);
    }

    async fn export(&mut self, batch: &mut Vec<SpanData>) {
        if batch.is_empty() {
            return;
        }
        let spans = std::mem::replace(batch, Vec::with_capacity(MAX_BATCH_SPANS));
        let count = spans.len() as u64;
        match self.exporter.export(spans).await {
            Ok(()) => self.exported.increment(count),
            Err(e) => {
                self.dropped_failed.increment(count);
                self.dropped_since_warning += count;
                let due = self
                    .last_warning
                    .is_none_or(|at| at.elapsed() >= WARN_EVERY);
                if due {
                    tracing::warn!(
                        "OpenTelemetry export to {} failed ({e}): {} span(s) dropped since the last warning; requests are not affected",
                        self.endpoint,
                        self.dropped_since_warning
                    );
                    self.last_warning = Some(Instant::now());
                    self.dropped_since_warning = 0;
                }
            }
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
