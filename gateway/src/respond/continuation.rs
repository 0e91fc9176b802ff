//! Mid-stream continuation (SPEC section 10, `mid_stream = "continue"`): when a stream fails
//! after its first token, the next target able to continue is sent the original request plus
//! an assistant message holding the text already relayed, and its chunks join the client's
//! stream as if one model had answered: same `id`, `model`, `created` and choice index, no
//! second role chunk.
//!
//! This module holds what does not need the relay's state: which targets may continue, the
//! continuation's request body, and the rewriting of its chunks. [`super::relay`] runs it.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Value, json};
use switchboard_config::Prefill;
use switchboard_providers::{RequestBody, StreamChunk};
use tokio::time::Instant;

use crate::live::Live;
use crate::request::routing::Route;

/// What a relay needs to continue a failed stream on another target.
pub struct Continuation {
    /// The config generation the request started under (for the redactor).
    pub live: Arc<Live>,
    /// The request's route.
    pub route: Arc<Route>,
    /// The index of the target whose stream is relayed now.
    pub serving: usize,
    /// When the request's budget runs out.
    pub budget_end: Instant,
    /// How the client's stream names itself (from its first chunk).
    pub identity: ChunkIdentity,
    /// Targets already asked (each at most once per request).
    pub tried: Vec<bool>,
}

impl Continuation {
    /// The next target that may continue: after the serving one in chain order, then the
    /// ones before it; up (not disabled, circuit closed), with a `prefill`, never refused.
    pub fn next_candidate(&mut self) -> Option<usize> {
        let n = self.route.targets.len();
        let next = (1..n).map(|k| (self.serving + k) % n).find(|&i| {
            let target = &self.route.targets[i];
            !self.tried[i]
                && target.prefill.can_continue()
                && !target.state.refuses_prefill()
                && target.state.is_up()
        })?;
        self.tried[next] = true;
        Some(next)
    }
}

/// The `id`, `model`, `created` and choice index the client's stream started with.
#[derive(Debug, Clone)]
pub struct ChunkIdentity {
    id: Value,
    model: Value,
    created: Value,
    index: Value,
}

impl ChunkIdentity {
    /// Read from the first chunk the client got (`None` if it is not a chunk).
    pub fn from_chunk(data: &[u8]) -> Option<ChunkIdentity> {
        let chunk: Value = serde_json::from_slice(data).ok()?;
        Some(ChunkIdentity {
            id: chunk.get("id")?.clone(),
            model: chunk.get("model").cloned().unwrap_or(Value::Null),
            created: chunk.get("created").cloned().unwrap_or(Value::Null),
            index: chunk
                .pointer("/choices/0/index")
                .cloned()
                .unwrap_or(json!(0)),
        })
    }

    /// One chunk of the continuation as the client's stream would have said it; `None` for a
    /// chunk with nothing left to say (the continuation's own role chunk). A chunk that is not
    /// JSON passes as it is.
    pub fn rewrite(&self, data: &Bytes) -> Option<Bytes> {
        let Ok(Value::Object(mut chunk)) = serde_json::from_slice::<Value>(data) else {
            return Some(data.clone());
        };
        chunk.insert("id".to_owned(), self.id.clone());
        for (key, value) in [("model", &self.model), ("created", &self.created)] {
            if !value.is_null() {
                chunk.insert(key.to_owned(), value.clone());
            }
        }
        let mut says_something = chunk.get("usage").is_some_and(|u| !u.is_null());
        if let Some(Value::Array(choices)) = chunk.get_mut("choices") {
            for choice in choices.iter_mut() {
                let Some(choice) = choice.as_object_mut() else {
                    continue;
                };
                choice.insert("index".to_owned(), self.index.clone());
                if let Some(Value::Object(delta)) = choice.get_mut("delta") {
                    delta.remove("role");
                    delta.retain(|_, v| !v.is_null() && v.as_str() != Some(""));
                    says_something |= !delta.is_empty();
                }
                says_something |= choice.get("finish_reason").is_some_and(|f| !f.is_null());
            }
        }
        says_something.then(|| Bytes::from(Value::Object(chunk).to_string()))
    }
}

/// The client already has the whitespace that ended the text so far (the prefill is sent
/// trimmed, as Anthropic requires), so a continuation that starts with whitespace would show
/// it twice: the first content of `held` loses its leading whitespace.
pub fn drop_repeated_whitespace(held: &mut [StreamChunk]) {
    let Some(chunk) = held.iter_mut().find(|c| c.info.is_content_bearing()) else {
        return;
    };
    let Some(content) = chunk.info.content.as_deref() else {
        return;
    };
    let trimmed = content.trim_start();
    if trimmed.len() == content.len() {
        return;
    }
    let trimmed = trimmed.to_owned();
    let Ok(mut json) = serde_json::from_slice::<Value>(&chunk.data) else {
        return;
    };
    if let Some(slot) = json.pointer_mut("/choices/0/delta/content") {
        *slot = Value::String(trimmed.clone());
        chunk.data = Bytes::from(json.to_string());
        chunk.info.content = (!trimmed.is_empty()).then_some(trimmed);
    }
}

/// The request that asks a target to go on from `text`: the original `body` plus an
/// assistant message holding it, in the target's `prefill` style.
pub fn request_body(body: &RequestBody, text: &str, prefill: Prefill) -> RequestBody {
    let mut fields = body.fields.clone();
    let mut message = json!({"role": "assistant", "content": text});
    match prefill {
        Prefill::Off | Prefill::Message => {}
        Prefill::PrefixFlag => message["prefix"] = json!(true),
        Prefill::Vllm => {
            fields.insert("continue_final_message".to_owned(), json!(true));
            fields.insert("add_generation_prompt".to_owned(), json!(false));
        }
    }
    let messages = match body.messages_value() {
        Some(Value::Array(mut messages)) => {
            messages.push(message);
            messages
        }
        _ => vec![message],
    };
    RequestBody::new(fields, &Value::Array(messages))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> ChunkIdentity {
        ChunkIdentity::from_chunk(
            br#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":7,"model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"}}]}"#,
        )
        .unwrap()
    }

    #[test]
    fn continuation_chunks_speak_as_the_first_stream_and_lose_their_role_chunk() {
        let id = identity();
        let role_only = Bytes::from_static(
            br#"{"id":"msg_9","created":99,"model":"claude","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#,
        );
        assert_eq!(id.rewrite(&role_only), None);
        let piece = Bytes::from_static(
            br#"{"id":"msg_9","created":99,"model":"claude","choices":[{"index":0,"delta":{"role":"assistant","content":"lo"},"finish_reason":null}]}"#,
        );
        let out: Value = serde_json::from_slice(&id.rewrite(&piece).unwrap()).unwrap();
        assert_eq!(out["id"], "chatcmpl-1");
        assert_eq!(out["model"], "gpt-4o");
        assert_eq!(out["created"], 7);
        assert_eq!(out["choices"][0]["delta"], json!({"content": "lo"}));
        let finish = Bytes::from_static(
            br#"{"id":"msg_9","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
        );
        let out: Value = serde_json::from_slice(&id.rewrite(&finish).unwrap()).unwrap();
        assert_eq!(out["choices"][0]["finish_reason"], "stop");
        let usage =
            Bytes::from_static(br#"{"id":"msg_9","choices":[],"usage":{"prompt_tokens":3}}"#);
        assert!(id.rewrite(&usage).is_some());
    }

    #[test]
    fn the_text_so_far_goes_as_a_trailing_assistant_message_in_the_targets_style() {
        let body: RequestBody = serde_json::from_str(
            &json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}).to_string(),
        )
        .unwrap();
        let messages = |b: &RequestBody| b.messages_value().unwrap();
        let plain = request_body(&body, "Hello fr", Prefill::Message);
        assert_eq!(
            messages(&plain)[1],
            json!({"role": "assistant", "content": "Hello fr"})
        );
        let prefix = request_body(&body, "Hello fr", Prefill::PrefixFlag);
        assert_eq!(messages(&prefix)[1]["prefix"], true);
        let vllm = request_body(&body, "Hello fr", Prefill::Vllm);
        assert_eq!(vllm.fields["continue_final_message"], true);
        assert_eq!(vllm.fields["add_generation_prompt"], false);
        assert_eq!(messages(&body).as_array().unwrap().len(), 1, "untouched");
    }
}
