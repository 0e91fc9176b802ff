//! What every request handler shares: the live config (swapped by a reload), the record
//! context, metrics, the concurrency limit, the drain flag, and the service mounted under
//! `/api/`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arc_swap::ArcSwap;
use metrics::counter;
use metrics_exporter_prometheus::PrometheusHandle;
use switchboard_config::Config;
use switchboard_record::LogSink;
use tokio::sync::{Mutex, Semaphore};

use crate::live::{ConfigSource, Live, ReloadError, Reloaded, keep_restart_settings};
use crate::request_log::RecordContext;
use crate::routes::Mount;
use crate::targets::TargetStates;
use crate::targets::shared::SharedOverrides;
use crate::telemetry::metadata_labels::MetadataLabels;

/// Shared by every connection.
pub struct AppState {
    /// The config the process started with: what the listener, limits and sink run on.
    pub config: Arc<Config>,
    /// The config in effect for requests, and what is built from it.
    pub live: Arc<ArcSwap<Live>>,
    /// Where records go and what they count into.
    pub records: Arc<RecordContext>,
    /// Renders `/metrics` (`None` when another recorder owns the process).
    pub metrics: Option<PrometheusHandle>,
    /// One permit per chat request in flight (`server.max_concurrent_requests`).
    pub requests: Arc<Semaphore>,
    /// Serves `/api/*` (the logs API), when the binary mounted one.
    pub api: Option<Arc<dyn Mount>>,
    /// `[metrics] metadata_labels` and the values each has admitted (for the process's life).
    pub metadata_labels: MetadataLabels,
    /// Every target's overrides, breaker and recent health, kept across reloads.
    pub targets: Arc<TargetStates>,
    /// The fleet's overrides in Redis (with `logging.redis_url`), else `None`.
    pub shared_overrides: Option<SharedOverrides>,
    source: Option<ConfigSource>,
    /// One reload at a time.
    reloading: Mutex<()>,
    draining: AtomicBool,
}

impl AppState {
    /// Builds the state for `config`, sending records to `sink`; nothing is mounted yet.
    pub fn new(
        config: Config,
        sink: Arc<dyn LogSink>,
    ) -> Result<AppState, switchboard_providers::ProviderError> {
        // The recorder first: handles taken before it exists would count nothing.
        let metrics = crate::telemetry::metrics::install();
        let targets = Arc::new(TargetStates::default());
        let shared_overrides = match &config.logging.redis_url {
            Some(url) => match SharedOverrides::new(url, &config.logging.stream) {
                Ok(shared) => Some(shared),
                Err(e) => {
                    tracing::warn!("{e}: target overrides stay this process's own");
                    None
                }
            },
            None => None,
        };
        let live = Live::build(config.clone(), 1, &targets, None)?;
        Ok(AppState {
            records: Arc::new(RecordContext::new(sink, config.logging.capture_bodies)),
            requests: Arc::new(Semaphore::new(config.server.max_concurrent_requests)),
            live: Arc::new(ArcSwap::from_pointee(live)),
            metrics,
            metadata_labels: MetadataLabels::from_config(&config.metrics),
            config: Arc::new(config),
            api: None,
            targets,
            shared_overrides,
            source: None,
            reloading: Mutex::new(()),
            draining: AtomicBool::new(false),
        })
    }

    /// Sends every request's spans to `spans` (`[otel]`).
    pub fn with_spans(mut self, spans: Arc<switchboard_otel::SpanExport>) -> AppState {
        let context = RecordContext::new(self.sink().clone(), self.config.logging.capture_bodies);
        self.records = Arc::new(context.with_spans(spans));
        self
    }

    /// Mounts `api` under `/api/`.
    pub fn with_api(mut self, api: Arc<dyn Mount>) -> AppState {
        self.api = Some(api);
        self
    }

    /// Lets [`AppState::reload`] re-read the config from `source`.
    pub fn with_reload(mut self, source: ConfigSource) -> AppState {
        self.source = Some(source);
        self
    }

    /// The config in effect now (a request keeps the one it started with).
    pub fn live(&self) -> Arc<Live> {
        self.live.load_full()
    }

    /// Where records go.
    pub fn sink(&self) -> &Arc<dyn LogSink> {
        self.records.sink()
    }

    /// Re-reads the config source and, when it is valid, makes it the config of new requests.
    /// Counted in `switchboard_config_reloads_total{result}`.
    pub async fn reload(&self) -> Result<Reloaded, ReloadError> {
        let _one_at_a_time = self.reloading.lock().await;
        let outcome = self.try_reload();
        let result = if outcome.is_ok() { "ok" } else { "error" };
        counter!("switchboard_config_reloads_total", "result" => result).increment(1);
        match &outcome {
            Ok(done) => tracing::info!(
                "config reloaded: version {}{}",
                done.version,
                if done.warnings.is_empty() {
                    ""
                } else {
                    " (some changes need a restart)"
                }
            ),
            Err(e) => tracing::warn!("config reload refused, the running config stays:\n{e}"),
        }
        outcome
    }

    fn try_reload(&self) -> Result<Reloaded, ReloadError> {
        let source = self.source.as_ref().ok_or(ReloadError::NoSource)?;
        let next = source()?;
        let (next, warnings) = keep_restart_settings(&self.config, next);
        let previous = self.live.load_full();
        let version = previous.version + 1;
        let next = Live::build(next, version, &self.targets, Some(&previous))?;
        self.live.store(Arc::new(next));
        Ok(Reloaded { version, warnings })
    }

    /// True once a shutdown began: `/readyz` answers 503.
    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// Marks the gateway as leaving (SIGTERM).
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }
}
