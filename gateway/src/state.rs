//! What every request handler shares: config, routes, the log sink, metrics, secrets, and the
//! service mounted under `/api/`.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use switchboard_config::Config;
use switchboard_providers::Providers;
use switchboard_record::LogSink;

use crate::request::routing::Routes;
use crate::routes::Mount;
use crate::telemetry::redact::Redactor;

/// Shared by every connection.
pub struct AppState {
    /// The loaded config.
    pub config: Arc<Config>,
    /// Model name -> chain.
    pub routes: Routes,
    /// Where records go.
    pub sink: Arc<dyn LogSink>,
    /// Renders `/metrics` (`None` when another recorder owns the process).
    pub metrics: Option<PrometheusHandle>,
    /// Keeps credentials out of messages.
    pub redactor: Redactor,
    /// Serves `/api/*` (the logs API), when the binary mounted one.
    pub api: Option<Arc<dyn Mount>>,
}

impl AppState {
    /// Builds the state for `config`, sending records to `sink`; nothing is mounted yet.
    pub fn new(
        config: Config,
        sink: Arc<dyn LogSink>,
    ) -> Result<AppState, switchboard_providers::ProviderError> {
        let providers = Providers::from_config(&config)?;
        Ok(AppState {
            routes: Routes::new(&config, providers),
            redactor: Redactor::from_config(&config),
            metrics: crate::telemetry::metrics::install(),
            sink,
            config: Arc::new(config),
            api: None,
        })
    }

    /// Mounts `api` under `/api/`.
    pub fn with_api(mut self, api: Arc<dyn Mount>) -> AppState {
        self.api = Some(api);
        self
    }
}
