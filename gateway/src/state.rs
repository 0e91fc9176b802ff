//! What every request handler shares: config, routes, the log sink, the store, metrics, secrets.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use switchboard_config::Config;
use switchboard_providers::Providers;

use crate::redact::Redactor;
use crate::routing::Routes;
use crate::sink::LogSink;
use crate::store_pool::StorePool;

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
    /// Read access to `logging.store` for the logs API.
    pub store: Arc<StorePool>,
}

impl AppState {
    /// Builds the state for `config`, sending records to `sink`.
    pub fn new(
        config: Config,
        sink: Arc<dyn LogSink>,
    ) -> Result<AppState, switchboard_providers::ProviderError> {
        let providers = Providers::from_config(&config)?;
        Ok(AppState {
            routes: Routes::new(&config, providers),
            redactor: Redactor::from_config(&config),
            metrics: crate::metrics::install(),
            store: Arc::new(StorePool::new(&config.logging.store)),
            sink,
            config: Arc::new(config),
        })
    }
}
