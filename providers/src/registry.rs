//! Every configured provider, built once at start-up and looked up by name per request.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use switchboard_config::{Config, ProviderKind};

use crate::anthropic::AnthropicProvider;
use crate::error::ProviderError;
use crate::openai::OpenAiProvider;
use crate::provider::Provider;

/// The providers of a config, sharing one pooled HTTP client.
#[derive(Clone)]
pub struct Providers {
    by_name: HashMap<String, Arc<dyn Provider>>,
    client: reqwest::Client,
}

impl Providers {
    /// Builds an adapter for every `[providers.<name>]`.
    pub fn from_config(config: &Config) -> Result<Providers, ProviderError> {
        Providers::with_client(config, http_client()?)
    }

    /// The adapters of `config` (a reload) over this generation's HTTP client, so the
    /// connections already open to the providers stay in use: a reload costs no handshakes.
    pub fn rebuilt(&self, config: &Config) -> Result<Providers, ProviderError> {
        Providers::with_client(config, self.client.clone())
    }

    fn with_client(config: &Config, client: reqwest::Client) -> Result<Providers, ProviderError> {
        let body_limit = config.server.max_upstream_body_bytes;
        let mut by_name: HashMap<String, Arc<dyn Provider>> = HashMap::new();
        for (name, provider) in &config.providers {
            let adapter: Arc<dyn Provider> = match provider.kind {
                ProviderKind::Openai | ProviderKind::Azure => Arc::new(OpenAiProvider::new(
                    name,
                    provider,
                    client.clone(),
                    body_limit,
                )?),
                ProviderKind::Anthropic => Arc::new(AnthropicProvider::new(
                    name,
                    provider,
                    client.clone(),
                    body_limit,
                )?),
            };
            by_name.insert(name.clone(), adapter);
        }
        Ok(Providers { by_name, client })
    }

    /// The provider called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Provider>> {
        self.by_name.get(name)
    }
}

/// One pooled client for every upstream: rustls, HTTP/2 where the server offers it, Nagle off,
/// idle connections kept warm. Timeouts are the engine's, per attempt, not the client's.
fn http_client() -> Result<reqwest::Client, ProviderError> {
    // reqwest is built without a default crypto provider (ring compiles faster and smaller than
    // aws-lc); install ring once per process. A second install is a no-op error, ignored.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .tls_backend_rustls()
        .tcp_nodelay(true)
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(1024)
        .connect_timeout(Duration::from_secs(10))
        // A gateway must not silently re-send a completion to wherever a 3xx points.
        .redirect(reqwest::redirect::Policy::none())
        .tcp_keepalive(Duration::from_secs(30))
        .build()
        .map_err(|e| ProviderError::Connect {
            message: format!(
                "cannot build the HTTP client: {}",
                crate::headers::describe(&e)
            ),
        })
}
