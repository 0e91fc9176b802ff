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
use crate::http_client::{HttpClient, UpstreamResponse};
use crate::provider::{ChatRequest, ChunkStream, Completion, Provider};

pub use request::{DEFAULT_MAX_TOKENS, dropped_fields, to_messages_request, translate_request};
pub use response::{finish_reason, to_chat_completion};
pub use stream::{anthropic_sse, error_kind};

/// The `anthropic-version` header value this adapter speaks.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// Anthropic's Messages API (`POST {base_url}/v1/messages`).
pub struct AnthropicProvider {
    url: String,
    /// `url`, parsed once (see the OpenAI adapter); `None` when it does not parse.
    parsed_url: Option<http::Uri>,
    default_max_tokens: Option<u32>,
    headers: http::HeaderMap,
    client: HttpClient,
    body_limit: usize,
}

impl AnthropicProvider {
    /// An adapter for `config` (kind `anthropic`, `base_url` like `https://api.anthropic.com`)
    /// using the shared `client`. Sends `x-api-key`, `anthropic-version` (unless the config's
    /// `headers` set it) and the config's extra headers.
    pub fn new(
        name: &str,
        config: &ProviderConfig,
        client: HttpClient,
        body_limit: usize,
    ) -> Result<AnthropicProvider, ProviderError> {
        let mut headers = crate::headers::extra_headers(name, &config.headers)?;
        if !headers.contains_key("anthropic-version") {
            headers.insert(
                "anthropic-version",
                http::HeaderValue::from_static(ANTHROPIC_VERSION),
            );
        }
        if let Some(key) = config.api_key.as_deref().filter(|k| !k.is_empty()) {
            headers.insert("x-api-key", crate::headers::secret_value(name, key)?);
        }
        let url = format!("{}/v1/messages", config.base_url.trim_end_matches('/'));
        Ok(AnthropicProvider {
            parsed_url: url.parse::<http::Uri>().ok(),
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
    ) -> Result<UpstreamResponse, ProviderError> {
        let body = translate_request(request.body, request.model, stream, self.default_max_tokens)?;
        let body = crate::post_json::encode(&body)?;
        let uri = match &self.parsed_url {
            Some(uri) => uri.clone(),
            None => crate::post_json::parse_uri(&self.url)?,
        };
        let (client, headers, trace) = (&self.client, &self.headers, request.trace);
        crate::post_json::post_json(client, uri, headers, trace, body, self.body_limit).await
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
        Ok(anthropic_sse(
            crate::body_limit::body_stream(response),
            self.body_limit,
        ))
    }

    fn dropped_fields(&self, body: &Map<String, Value>) -> Vec<String> {
        dropped_fields(body)
    }

    fn otel_name(&self) -> &'static str {
        "anthropic"
    }
}
