//! What a reload swaps (SPEC section 9.1): the config in effect and what requests build from it
//! (routes and their providers, the secrets to redact, the client and admin keys). Each request
//! takes the current [`Live`] when it arrives and keeps it to its end, so requests in flight
//! finish under the config they started with.
//!
//! Settings read once at start (the listener, connection limits, the log sink, the metric
//! labels) cannot change this way: a reload that changes them is applied without them, and
//! names them in its warnings.

use std::sync::Arc;

use switchboard_config::{Config, ConfigError};
use switchboard_providers::{ProviderError, Providers};

use crate::request::routing::Routes;
use crate::targets::TargetStates;
use crate::telemetry::redact::Redactor;

/// One generation of the config, as requests use it.
pub struct Live {
    /// 1 at start, one more per applied reload.
    pub version: u64,
    /// The config in effect (settings that need a restart keep their running values).
    pub config: Arc<Config>,
    /// Model name -> chain.
    pub routes: Routes,
    /// Keeps credentials out of messages.
    pub redactor: Redactor,
    /// `server.api_keys`.
    pub client_keys: Arc<[String]>,
    /// `server.admin_key`.
    pub admin_key: Option<Arc<str>>,
}

impl Live {
    /// Builds generation `version` of `config`, its targets' state taken from `states`; with
    /// the `previous` generation, over its HTTP client (its open upstream connections).
    pub fn build(
        config: Config,
        version: u64,
        states: &Arc<TargetStates>,
        previous: Option<&Live>,
    ) -> Result<Live, ProviderError> {
        let providers = match previous {
            Some(previous) => previous.routes.providers().rebuilt(&config)?,
            None => Providers::from_config(&config)?,
        };
        Ok(Live {
            version,
            routes: Routes::new(&config, providers, states.clone()),
            redactor: Redactor::from_config(&config),
            client_keys: config.server.api_keys.as_slice().into(),
            admin_key: config.server.admin_key.as_deref().map(Arc::from),
            config: Arc::new(config),
        })
    }
}

/// Where a reload reads the config from (the file `serve` started with).
pub type ConfigSource = Arc<dyn Fn() -> Result<Config, ConfigError> + Send + Sync>;

/// Why a reload was refused (the running config stays).
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The file has problems: every one of them, one per line.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// The providers could not be set up.
    #[error("{0}")]
    Providers(#[from] ProviderError),
    /// `serve` was started without a source to re-read.
    #[error("this gateway has no config source to reload from")]
    NoSource,
}

/// An applied reload.
#[derive(Debug)]
pub struct Reloaded {
    /// The new generation.
    pub version: u64,
    /// Changes that need a restart, not applied.
    pub warnings: Vec<String>,
}

/// `next` with every setting that only takes effect at start put back to its `running` value;
/// the names of those that differed.
pub fn keep_restart_settings(running: &Config, mut next: Config) -> (Config, Vec<String>) {
    let mut changed = Vec::new();
    let (old, new) = (&running.server, &mut next.server);
    macro_rules! keep {
        ($($field:ident),*) => {$(
            if old.$field != new.$field {
                changed.push(concat!("server.", stringify!($field)));
                new.$field = old.$field.clone();
            }
        )*};
    }
    keep!(
        listen,
        header_timeout_ms,
        idle_timeout_ms,
        max_connections,
        max_concurrent_requests,
        drain_delay_ms,
        shutdown_grace_ms
    );
    if running.logging != next.logging {
        changed.push("[logging]");
        next.logging = running.logging.clone();
    }
    if running.otel != next.otel {
        changed.push("[otel]");
        next.otel = running.otel.clone();
    }
    if running.metrics != next.metrics {
        changed.push("[metrics]");
        next.metrics = running.metrics.clone();
    }
    let warnings = changed
        .into_iter()
        .map(|key| format!("{key} changed: it takes effect at the next restart, not now"))
        .collect();
    (next, warnings)
}
