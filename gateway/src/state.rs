//! What every request handler shares: config, routes, the record context, metrics, secrets,
//! the concurrency limit, the drain flag, and the service mounted under `/api/`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use metrics_exporter_prometheus::PrometheusHandle;
use switchboard_config::Config;
use switchboard_providers::Providers;
use switchboard_record::LogSink;
use tokio::sync::Semaphore;

use crate::request::routing::Routes;
use crate::request_log::RecordContext;
use crate::routes::Mount;
use crate::telemetry::redact::Redactor;

/// Shared by every connection.
pub struct AppState {
    /// The loaded config.
    pub config: Arc<Config>,
    /// Model name -> chain.
    pub routes: Routes,
    /// Where records go and what they count into.
    pub records: Arc<RecordContext>,
    /// Renders `/metrics` (`None` when another recorder owns the process).
    pub metrics: Option<PrometheusHandle>,
    /// Keeps credentials out of messages.
    pub redactor: Redactor,
    /// One permit per chat request in flight (`server.max_concurrent_requests`).
    pub requests: Arc<Semaphore>,
    /// Serves `/api/*` (the logs API), when the binary mounted one.
    pub api: Option<Arc<dyn Mount>>,
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
        let providers = Providers::from_config(&config)?;
        Ok(AppState {
            routes: Routes::new(&config, providers),
            records: Arc::new(RecordContext::new(sink, config.logging.capture_bodies)),
            redactor: Redactor::from_config(&config),
            requests: Arc::new(Semaphore::new(config.server.max_concurrent_requests)),
            metrics,
            config: Arc::new(config),
            api: None,
            draining: AtomicBool::new(false),
        })
    }

    /// Mounts `api` under `/api/`.
    pub fn with_api(mut self, api: Arc<dyn Mount>) -> AppState {
        self.api = Some(api);
        self
    }

    /// Where records go.
    pub fn sink(&self) -> &Arc<dyn LogSink> {
        self.records.sink()
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
