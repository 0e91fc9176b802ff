//! The OpenAI-compatible adapter (OpenAI, Groq, Together, vLLM, Ollama, ...) and its Azure
//! variant: the body passes through untouched except `model`, `stream` and `stream_options`.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use async_trait::async_trait;
use bytes::Bytes;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};
use switchboard_config::{ErrorKind, ProviderConfig, ProviderKind};

use crate::body_limit::{body_stream, read_body};
use crate::chunk::{ChunkReader, StreamChunk};
use crate::error::ProviderError;
use crate::http_client::{HttpClient, UpstreamResponse};
use crate::provider::{ChatRequest, ChunkStream, Completion, Provider};
use crate::sse_decode::{SseError, SseEvent, sse_events};
use http::Uri;

/// An OpenAI-compatible chat completions API (or an Azure OpenAI resource).
pub struct OpenAiProvider {
    kind: ProviderKind,
    base_url: String,
    /// `{base_url}/chat/completions`, parsed once: parsing it per request was ~1.5 % of a
    /// request's instructions. `None` for Azure (its URL names the deployment) and for a base
    /// URL that does not parse (each request then fails with what is wrong with it).
    chat_url: Option<Uri>,
    api_version: Option<String>,
    headers: http::HeaderMap,
    client: HttpClient,
    body_limit: usize,
}

impl OpenAiProvider {
    /// An adapter for `config` (kind `openai` or `azure`) using the shared `client`.
    pub fn new(
        name: &str,
        config: &ProviderConfig,
        client: HttpClient,
        body_limit: usize,
    ) -> Result<OpenAiProvider, ProviderError> {
        let mut headers = crate::headers::extra_headers(name, &config.headers)?;
        if let Some(key) = config.api_key.as_deref().filter(|k| !k.is_empty()) {
            let (header, value) = match config.kind {
                ProviderKind::Azure => ("api-key", key.to_owned()),
                _ => ("authorization", format!("Bearer {key}")),
            };
            headers.insert(header, crate::headers::secret_value(name, &value)?);
        }
        let base_url = config.base_url.trim_end_matches('/').to_owned();
        let chat_url = match config.kind {
            ProviderKind::Azure => None,
            _ => format!("{base_url}/chat/completions").parse::<Uri>().ok(),
        };
        Ok(OpenAiProvider {
            kind: config.kind,
            base_url,
            chat_url,
            api_version: config.api_version.clone(),
            headers,
            client,
            body_limit,
        })
    }

    fn url(&self, model: &str) -> String {
        match (self.kind, &self.api_version) {
            (ProviderKind::Azure, Some(version)) => format!(
                "{}/openai/deployments/{}/chat/completions?api-version={}",
                self.base_url,
                url::form_urlencoded::byte_serialize(model.as_bytes()).collect::<String>(),
                url::form_urlencoded::byte_serialize(version.as_bytes()).collect::<String>(),
            ),
            _ => format!("{}/chat/completions", self.base_url),
        }
    }

    async fn send(&self, request: ChatRequest<'_>) -> Result<UpstreamResponse, ProviderError> {
        let body = crate::post_json::encode(&UpstreamBody(request))?;
        let uri = match &self.chat_url {
            Some(uri) => uri.clone(),
            None => crate::post_json::parse_uri(&self.url(request.model))?,
        };
        let (client, headers, trace) = (&self.client, &self.headers, request.trace);
        crate::post_json::post_json(client, uri, headers, trace, body, self.body_limit).await
    }
}

#[async_trait]
impl Provider for OpenAiProvider {
    async fn complete(&self, request: ChatRequest<'_>) -> Result<Completion, ProviderError> {
        let response = self
            .send(ChatRequest {
                stream: false,
                ..request
            })
            .await?;
        let body = read_body(response, self.body_limit).await?;
        Completion::from_body(body)
    }

    async fn stream(&self, request: ChatRequest<'_>) -> Result<ChunkStream, ProviderError> {
        let response = self
            .send(ChatRequest {
                stream: true,
                ..request
            })
            .await?;
        Ok(openai_sse(body_stream(response), self.body_limit))
    }

    fn otel_name(&self) -> &'static str {
        match self.kind {
            ProviderKind::Azure => "azure.ai.openai",
            _ => "openai",
        }
    }
}

/// The request body for upstream: `model`, `messages` as the client's text, the client's other
/// fields in key order (a serde_json `Map`, a `BTreeMap` without the `preserve_order` feature),
/// then `stream` and (for streams) `stream_options` with `include_usage` set by the gateway, so
/// usage is always reported. Serialised straight from the borrowed body, without cloning it.
struct UpstreamBody<'a>(ChatRequest<'a>);

impl Serialize for UpstreamBody<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let request = &self.0;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("model", request.model)?;
        if let Some(messages) = &request.body.messages {
            map.serialize_entry("messages", messages)?;
        }
        for (key, value) in &request.body.fields {
            match key.as_str() {
                "model" | "stream" | "messages" => {}
                "stream_options" if request.stream => {}
                _ => map.serialize_entry(key, value)?,
            }
        }
        map.serialize_entry("stream", &request.stream)?;
        if request.stream {
            let mut options = request
                .body
                .fields
                .get("stream_options")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_else(Map::new);
            options.insert("include_usage".to_owned(), Value::Bool(true));
            map.serialize_entry("stream_options", &options)?;
        }
        map.end()
    }
}

/// Decodes an OpenAI SSE body into chunks: `[DONE]` ends it, an `{"error": ...}` event fails it,
/// and an end without `[DONE]` or a finish reason is a cut stream; an event past `limit` bytes
/// fails it with [`ProviderError::TooLarge`].
pub fn openai_sse<S, E>(body: S, limit: usize) -> ChunkStream
where
    S: futures_util::Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: Into<ProviderError> + Send + 'static,
{
    Box::pin(OpenAiChunks {
        events: sse_events(Box::pin(body), limit),
        reader: ChunkReader::default(),
        finished: false,
        done: false,
    })
}

/// The stream [`openai_sse`] returns. A plain `poll_next` rather than `stream::unfold`: the
/// unfold built and dropped a future per chunk.
struct OpenAiChunks<T> {
    events: T,
    reader: ChunkReader,
    /// A finish reason was seen: an end without `[DONE]` is then a clean end.
    finished: bool,
    done: bool,
}

impl<T, E> futures_util::Stream for OpenAiChunks<T>
where
    T: futures_util::Stream<Item = Result<SseEvent, SseError<E>>> + Unpin,
    E: Into<ProviderError>,
{
    type Item = Result<StreamChunk, ProviderError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            let item = match ready!(Pin::new(&mut this.events).poll_next(cx)) {
                None => {
                    this.done = true;
                    if this.finished {
                        return Poll::Ready(None);
                    }
                    return Poll::Ready(Some(Err(ProviderError::closed_before("[DONE]"))));
                }
                Some(Err(e)) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(e.into())));
                }
                Some(Ok(event)) => event,
            };
            if item.data.is_empty() {
                continue;
            }
            if item.data.trim_ascii() == b"[DONE]" {
                this.done = true;
                return Poll::Ready(None);
            }
            let chunk = match this.reader.read(item.data.clone()) {
                Ok(chunk) => chunk,
                // One unreadable event does not end a healthy stream (SPEC 10.1).
                Err(e) => {
                    let why = unreadable(&e, item.name());
                    return Poll::Ready(Some(Ok(StreamChunk::skipped(why))));
                }
            };
            if chunk.info.finish_reason.is_some() {
                this.finished = true;
            }
            if chunk.info.no_choices
                && chunk.info.usage.is_none()
                && let Some(err) = error_event(&chunk.data)
            {
                this.done = true;
                return Poll::Ready(Some(Err(err)));
            }
            return Poll::Ready(Some(Ok(chunk)));
        }
    }
}

fn unreadable(e: &serde_json::Error, event: &str) -> String {
    let suffix = if event.is_empty() || event == "message" {
        String::new()
    } else {
        format!(" (event `{event}`)")
    };
    format!("a stream chunk is not valid JSON{suffix}: {e}")
}

/// An OpenAI mid-stream error: `{"error": {"message": ...}}` with no choices.
fn error_event(data: &[u8]) -> Option<ProviderError> {
    let value: Value = serde_json::from_slice(data).ok()?;
    let error = value.get("error")?;
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("upstream sent an error event")
        .to_owned();
    let kind = match error
        .get("code")
        .or_else(|| error.get("type"))
        .and_then(Value::as_str)
    {
        Some(code) if code.contains("rate_limit") => ErrorKind::RateLimited,
        _ => ErrorKind::ServerError,
    };
    Some(ProviderError::StreamError { message, kind })
}
