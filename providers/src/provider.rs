//! The provider trait: one adapter per wire format, speaking OpenAI's format to the gateway.

use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::Stream;
use serde_json::{Map, Value};

use crate::chunk::{StreamChunk, Usage};
use crate::error::ProviderError;

/// OpenAI chat chunks from one upstream stream, in order; ends after the last chunk.
pub type ChunkStream = Pin<Box<dyn Stream<Item = Result<StreamChunk, ProviderError>> + Send>>;

/// One upstream call: the client's OpenAI request (gateway fields removed) and the target.
#[derive(Debug, Clone, Copy)]
pub struct ChatRequest<'a> {
    /// The OpenAI request body as the client sent it, without Switchboard's own fields.
    pub body: &'a Map<String, Value>,
    /// The model name this provider serves (the target's `model`).
    pub model: &'a str,
    /// Whether the gateway wants a stream.
    pub stream: bool,
    /// W3C trace context to send upstream (with `[otel]`), naming the attempt's span.
    pub trace: Option<UpstreamTrace<'a>>,
}

/// The `traceparent` and `tracestate` headers of one upstream call.
#[derive(Debug, Clone, Copy)]
pub struct UpstreamTrace<'a> {
    /// `00-<trace id>-<attempt span id>-01`.
    pub traceparent: &'a str,
    /// The caller's `tracestate`, as it came.
    pub tracestate: Option<&'a str>,
}

/// A whole (non-stream) answer, in OpenAI's `chat.completion` shape.
#[derive(Debug, Clone)]
pub struct Completion {
    /// The JSON text for the client.
    pub body: Bytes,
    /// The same, parsed (for JSON checks, usage and the log record).
    pub json: Value,
}

impl Completion {
    /// Parses `body`, which must be a JSON object.
    pub fn from_body(body: Bytes) -> Result<Completion, ProviderError> {
        let json: Value = serde_json::from_slice(&body).map_err(|e| ProviderError::Malformed {
            message: format!("response body is not JSON: {e}"),
        })?;
        if !json.is_object() {
            return Err(ProviderError::Malformed {
                message: "response body is not a JSON object".to_owned(),
            });
        }
        Ok(Completion { body, json })
    }

    /// `usage` of the answer, when reported.
    pub fn usage(&self) -> Option<Usage> {
        self.json
            .get("usage")
            .and_then(|u| serde_json::from_value(u.clone()).ok())
    }

    /// `choices[0].message`, when present.
    pub fn message(&self) -> Option<&Value> {
        self.json.pointer("/choices/0/message")
    }

    /// `model` as the provider reported it.
    pub fn served_model(&self) -> Option<&str> {
        self.json.get("model").and_then(Value::as_str)
    }
}

/// An upstream LLM API, spoken to in its own wire format and answering in OpenAI's.
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// A non-stream call: resolves with the whole answer or the failure.
    async fn complete(&self, request: ChatRequest<'_>) -> Result<Completion, ProviderError>;

    /// A stream call: resolves once the upstream response head is in and its status is a
    /// success; the stream then yields OpenAI chunks. Dropping the stream cancels the call.
    async fn stream(&self, request: ChatRequest<'_>) -> Result<ChunkStream, ProviderError>;

    /// The top-level OpenAI fields of `body` this provider leaves out of its upstream request
    /// because its API has no equivalent, in the body's key order (for the record's
    /// `warnings`). The default, for APIs that take OpenAI's body as is, is none (and does not
    /// allocate).
    fn dropped_fields(&self, _body: &Map<String, Value>) -> Vec<String> {
        Vec::new()
    }

    /// The API's name in OpenTelemetry's GenAI conventions (`gen_ai.provider.name`), e.g.
    /// `openai`, `anthropic`, `azure.ai.openai`.
    fn otel_name(&self) -> &'static str;
}
