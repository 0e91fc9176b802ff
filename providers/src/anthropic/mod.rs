//! The Anthropic Messages API adapter: OpenAI chat requests translated into Messages API
//! requests, and Anthropic's answers and event streams translated back into OpenAI's shapes.
//!
//! [`to_messages_request`] builds the upstream body (and [`dropped_fields`] names what it had to
//! leave out, for the record's warnings), [`to_chat_completion`] reads a whole answer,
//! [`anthropic_sse`] reads an event stream; [`AnthropicProvider`] is the adapter itself (URL,
//! headers, HTTP errors).

mod request;
mod response;
mod stream;

use async_trait::async_trait;
use serde_json::{Map, Value};
use switchboard_config::ProviderConfig;

use crate::error::ProviderError;
use crate::provider::{ChatRequest, ChunkStream, Completion, Provider};

pub use request::{DEFAULT_MAX_TOKENS, dropped_fields, to_messages_request};
pub use response::{finish_reason, to_chat_completion};
pub use stream::{anthropic_sse, error_kind};

/// The `anthropic-version` header value this adapter speaks.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// Anthropic's Messages API (`POST {base_url}/v1/messages`).
pub struct AnthropicProvider {
    url: String,
    /// `url`, parsed once (see the OpenAI adapter); `None` when it does not parse.
    parsed_url: Option<reqwest::Url>,
    default_max_tokens: Option<u32>,
    headers: reqwest::header::HeaderMap,
    client: reqwest::Client,
    body_limit: usize,
}

impl AnthropicProvider {
    /// An adapter for `config` (kind `anthropic`, `base_url` like `https://api.anthropic.com`)
    /// using the shared `client`. Sends `x-api-key`, `anthropic-version` (unless the config's
    /// `headers` set it) and the config's extra headers.
    pub fn new(
        name: &str,
        config: &ProviderConfig,
        client: reqwest::Client,
        body_limit: usize,
    ) -> Result<AnthropicProvider, ProviderError> {
        let mut headers = crate::headers::extra_headers(name, &config.headers)?;
        if !headers.contains_key("anthropic-version") {
            headers.insert(
                "anthropic-version",
                reqwest::header::HeaderValue::from_static(ANTHROPIC_VERSION),
            );
        }
        if let Some(key) = config.api_key.as_deref().filter(|k| !k.is_empty()) {
            headers.insert("x-api-key", crate::headers::secret_value(name, key)?);
        }
        let url = format!("{}/v1/messages", config.base_url.trim_end_matches('/'));
        Ok(AnthropicProvider {
            parsed_url: reqwest::Url::parse(&url).ok(),
            url,
            default_max_tokens: config.default_max_tokens,
            headers,
            client,
            body_limit,
        })
    }

    async fn send(
        &self,
        request: ChatRequest<'_>,
        stream: bool,
    ) -> Result<reqwest::Response, ProviderError> {
        let body =
            to_messages_request(request.body, request.model, stream, self.default_max_tokens)?;
        let body = crate::post_json::encode(&body)?;
        let (client, headers, trace) = (&self.client, &self.headers, request.trace);
        match &self.parsed_url {
            Some(url) => {
                let url = url.clone();
                crate::post_json::post_json(client, url, headers, trace, body, self.body_limit)
                    .await
            }
            None => {
                let url = self.url.as_str();
                crate::post_json::post_json(client, url, headers, trace, body, self.body_limit)
                    .await
            }
        }
    }
}

#[async_trait]
impl Provider for AnthropicProvider {
    async fn complete(&self, request: ChatRequest<'_>) -> Result<Completion, ProviderError> {
        let response = self.send(request, false).await?;
        let body = crate::body_limit::read_body(response, self.body_limit).await?;
        to_chat_completion(&body)
    }

    async fn stream(&self, request: ChatRequest<'_>) -> Result<ChunkStream, ProviderError> {
        let response = self.send(request, true).await?;
        let body = crate::body_limit::limit_events(response.bytes_stream(), self.body_limit);
        Ok(anthropic_sse(body))
    }

    fn dropped_fields(&self, body: &Map<String, Value>) -> Vec<String> {
        dropped_fields(body)
    }

    fn otel_name(&self) -> &'static str {
        "anthropic"
    }
}
