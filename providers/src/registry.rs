//! Every configured provider, built once at start-up and looked up by name per request.

use std::collections::HashMap;
use std::sync::Arc;

use switchboard_config::{Config, ProviderKind};

use crate::anthropic::AnthropicProvider;
use crate::error::ProviderError;
use crate::http_client::HttpClient;
use crate::openai::OpenAiProvider;
use crate::provider::Provider;

/// The providers of a config, sharing one pooled HTTP client.
#[derive(Clone)]
pub struct Providers {
    by_name: HashMap<String, Arc<dyn Provider>>,
    client: HttpClient,
}

impl Providers {
    /// Builds an adapter for every `[providers.<name>]`.
    pub fn from_config(config: &Config) -> Result<Providers, ProviderError> {
        Providers::with_client(config, HttpClient::new()?)
    }

    /// The adapters of `config` (a reload) over this generation's HTTP client, so the
    /// connections already open to the providers stay in use: a reload costs no handshakes.
    pub fn rebuilt(&self, config: &Config) -> Result<Providers, ProviderError> {
        Providers::with_client(config, self.client.clone())
    }

    fn with_client(config: &Config, client: HttpClient) -> Result<Providers, ProviderError> {
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
