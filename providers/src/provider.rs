//! The provider trait: one adapter per wire format, speaking OpenAI's format to the gateway.

use std::borrow::Cow;
use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::Stream;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::chunk::{StreamChunk, Usage};
use crate::error::ProviderError;
use crate::request_body::RequestBody;

/// OpenAI chat chunks from one upstream stream, in order; ends after the last chunk.
pub type ChunkStream = Pin<Box<dyn Stream<Item = Result<StreamChunk, ProviderError>> + Send>>;

/// One upstream call: the client's OpenAI request (gateway fields removed) and the target.
#[derive(Debug, Clone, Copy)]
pub struct ChatRequest<'a> {
    /// The OpenAI request body as the client sent it, without Switchboard's own fields.
    pub body: &'a RequestBody,
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
    /// What the gateway reads from it (for JSON checks, usage, the record and the span).
    read: AnswerParts,
}

/// The parts of an answer the gateway reads; the rest it passes on as bytes, unparsed.
#[derive(Debug, Clone, Default)]
struct AnswerParts {
    id: Option<String>,
    model: Option<String>,
    /// `choices[0].message`.
    message: Option<Value>,
    finish_reasons: Vec<String>,
    usage: Option<Usage>,
}

impl Completion {
    /// Reads `body`, which must be a JSON object. Only `id`, `model`, `usage` and each choice's
    /// `message` and `finish_reason` are parsed, into typed fields (parsing the whole answer
    /// into a `Value` tree was ~10 % of a proxied request's instructions).
    pub fn from_body(body: Bytes) -> Result<Completion, ProviderError> {
        let malformed = |e: serde_json::Error| ProviderError::Malformed {
            message: format!("response body is not JSON: {e}"),
        };
        let text = crate::json_text::json_text(&body).map_err(malformed)?;
        let read = match serde_json::from_str::<TypedAnswer<'_>>(text) {
            Ok(typed) if text.trim_start().starts_with('{') => typed.into_parts(),
            // An object of unexpected types (or not an object): read leniently, as a tree.
            _ => {
                let json: Value = serde_json::from_str(text).map_err(malformed)?;
                if !json.is_object() {
                    return Err(ProviderError::Malformed {
                        message: "response body is not a JSON object".to_owned(),
                    });
                }
                AnswerParts::from_value(json)
            }
        };
        Ok(Completion { body, read })
    }

    /// `usage` of the answer, when reported.
    pub fn usage(&self) -> Option<Usage> {
        self.read.usage
    }

    /// `choices[0].message`, when present.
    pub fn message(&self) -> Option<&Value> {
        self.read.message.as_ref()
    }

    /// `choices[0].message`, taken out (for the record).
    pub fn take_message(&mut self) -> Option<Value> {
        self.read.message.take()
    }

    /// `model` as the provider reported it.
    pub fn served_model(&self) -> Option<&str> {
        self.read.model.as_deref()
    }

    /// The answer's `id`.
    pub fn id(&self) -> Option<&str> {
        self.read.id.as_deref()
    }

    /// Each choice's `finish_reason`, in order (choices without one left out).
    pub fn finish_reasons(&self) -> &[String] {
        &self.read.finish_reasons
    }
}

#[derive(Deserialize)]
struct TypedAnswer<'a> {
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    model: Option<Cow<'a, str>>,
    #[serde(default)]
    choices: Option<Vec<TypedChoice<'a>>>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct TypedChoice<'a> {
    #[serde(default)]
    message: Option<Value>,
    #[serde(default, borrow)]
    finish_reason: Option<Cow<'a, str>>,
}

impl TypedAnswer<'_> {
    fn into_parts(self) -> AnswerParts {
        let mut choices = self.choices.unwrap_or_default();
        let finish_reasons = choices
            .iter_mut()
            .filter_map(|c| c.finish_reason.take().map(Cow::into_owned))
            .collect();
        AnswerParts {
            id: self.id.map(Cow::into_owned),
            model: self.model.map(Cow::into_owned),
            message: choices.into_iter().next().and_then(|c| c.message),
            finish_reasons,
            usage: self.usage,
        }
    }
}

impl AnswerParts {
    fn from_value(mut json: Value) -> AnswerParts {
        let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
        AnswerParts {
            id: text(&json, "id"),
            model: text(&json, "model"),
            finish_reasons: json
                .get("choices")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|c| text(c, "finish_reason"))
                .collect(),
            usage: json
                .get("usage")
                .and_then(|u| serde_json::from_value(u.clone()).ok()),
            message: json.pointer_mut("/choices/0/message").map(Value::take),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_read_typed_or_leniently_and_a_non_object_is_refused() {
        let typed = br#"{"id":"c1","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"},{"index":1,"message":{},"finish_reason":"length"}],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}"#;
        // The same answer with fields of unexpected types: read as a tree, nothing lost.
        let odd = br#"{"id":"c1","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"},{"index":1,"message":{},"finish_reason":"length","logprobs":7},5],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3},"created":"x"}"#;
        for body in [&typed[..], &odd[..]] {
            let mut c = Completion::from_body(Bytes::copy_from_slice(body)).unwrap();
            assert_eq!(c.id(), Some("c1"));
            assert_eq!(c.served_model(), Some("m"));
            assert_eq!(c.finish_reasons(), ["stop", "length"]);
            assert_eq!(c.usage().map(|u| u.total_tokens), Some(3));
            assert_eq!(c.take_message().unwrap()["content"], "hi");
            assert_eq!(&c.body[..], body, "the client's bytes are the provider's");
        }
        for bad in [&b"[1]"[..], b"\"x\"", b"{", b"\xff"] {
            let err = Completion::from_body(Bytes::copy_from_slice(bad)).unwrap_err();
            assert!(matches!(err, ProviderError::Malformed { .. }), "{err:?}");
        }
    }
}
