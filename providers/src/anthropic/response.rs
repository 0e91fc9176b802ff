//! An Anthropic Messages API answer translated into an OpenAI `chat.completion`, plus the
//! stop-reason and usage mappings the stream translation shares.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ProviderError;
use crate::provider::Completion;

/// OpenAI's `finish_reason` for an Anthropic `stop_reason`: `end_turn`/`stop_sequence` ->
/// `stop`, `max_tokens` -> `length`, `tool_use` -> `tool_calls`, anything else -> `stop`.
pub fn finish_reason(stop_reason: Option<&str>) -> &'static str {
    match stop_reason {
        Some("max_tokens") => "length",
        Some("tool_use") => "tool_calls",
        _ => "stop",
    }
}

/// Anthropic's `usage` object (message, `message_start` and `message_delta`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub(crate) struct AnthropicUsage {
    /// Uncached prompt tokens.
    #[serde(default)]
    pub input_tokens: Option<u64>,
    /// Generated tokens.
    #[serde(default)]
    pub output_tokens: Option<u64>,
    /// Prompt tokens read from the prompt cache.
    #[serde(default)]
    pub cache_read_input_tokens: Option<u64>,
    /// Prompt tokens written to the prompt cache.
    #[serde(default)]
    pub cache_creation_input_tokens: Option<u64>,
}

impl AnthropicUsage {
    /// Overlays the counts `later` reports (Anthropic's `message_delta` counts are cumulative).
    pub fn update(&mut self, later: AnthropicUsage) {
        self.input_tokens = later.input_tokens.or(self.input_tokens);
        self.output_tokens = later.output_tokens.or(self.output_tokens);
        self.cache_read_input_tokens = later
            .cache_read_input_tokens
            .or(self.cache_read_input_tokens);
        self.cache_creation_input_tokens = later
            .cache_creation_input_tokens
            .or(self.cache_creation_input_tokens);
    }

    /// The same counts in OpenAI's shape: cache reads and writes are prompt tokens, cache reads
    /// are also reported as `prompt_tokens_details.cached_tokens`.
    pub fn to_openai(self) -> OpenAiUsage {
        let prompt_tokens = self.input_tokens.unwrap_or(0)
            + self.cache_read_input_tokens.unwrap_or(0)
            + self.cache_creation_input_tokens.unwrap_or(0);
        let completion_tokens = self.output_tokens.unwrap_or(0);
        OpenAiUsage {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens + completion_tokens,
            prompt_tokens_details: self
                .cache_read_input_tokens
                .map(|cached_tokens| PromptTokensDetails { cached_tokens }),
        }
    }
}

/// OpenAI's `usage` object as this adapter writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct OpenAiUsage {
    /// Every prompt token, cached or not.
    pub prompt_tokens: u64,
    /// Generated tokens.
    pub completion_tokens: u64,
    /// Their sum.
    pub total_tokens: u64,
    /// The cached part of the prompt, when Anthropic reported it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_tokens_details: Option<PromptTokensDetails>,
}

/// `usage.prompt_tokens_details`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct PromptTokensDetails {
    /// Prompt tokens read from the cache.
    pub cached_tokens: u64,
}

/// Seconds since the Unix epoch, for `created`.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[derive(Deserialize)]
struct Message {
    id: String,
    #[serde(default)]
    model: String,
    content: Vec<Block>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: AnthropicUsage,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block {
    Text {
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
    #[serde(other)]
    Other,
}

#[derive(Serialize)]
struct ChatCompletion<'a> {
    id: String,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: [Choice<'a>; 1],
    usage: OpenAiUsage,
}

#[derive(Serialize)]
struct Choice<'a> {
    index: u32,
    message: ChatMessage<'a>,
    logprobs: Option<()>,
    finish_reason: &'static str,
}

#[derive(Serialize)]
struct ChatMessage<'a> {
    role: &'static str,
    content: Option<String>,
    refusal: Option<()>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<ToolCall<'a>>,
}

#[derive(Serialize)]
struct ToolCall<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    function: Function<'a>,
}

#[derive(Serialize)]
struct Function<'a> {
    name: &'a str,
    arguments: String,
}

/// Translates a Messages API response `body` into an OpenAI `chat.completion`: text blocks
/// joined into `content`, `tool_use` blocks as `tool_calls`, other blocks (thinking, ...) left
/// out.
pub fn to_chat_completion(body: &[u8]) -> Result<Completion, ProviderError> {
    let message: Message = serde_json::from_slice(body).map_err(|e| ProviderError::Malformed {
        message: format!("the Anthropic response is not a message: {e}"),
    })?;
    let mut text = String::new();
    let mut has_text = false;
    let mut tool_calls = Vec::new();
    for block in &message.content {
        match block {
            Block::Text { text: piece } => {
                has_text = true;
                text.push_str(piece);
            }
            Block::ToolUse { id, name, input } => tool_calls.push(ToolCall {
                id,
                kind: "function",
                function: Function {
                    name,
                    arguments: input.to_string(),
                },
            }),
            Block::Other => {}
        }
    }
    let completion = ChatCompletion {
        id: format!("chatcmpl-{}", message.id),
        object: "chat.completion",
        created: unix_now(),
        model: &message.model,
        choices: [Choice {
            index: 0,
            message: ChatMessage {
                role: "assistant",
                content: has_text.then_some(text),
                refusal: None,
                tool_calls,
            },
            logprobs: None,
            finish_reason: finish_reason(message.stop_reason.as_deref()),
        }],
        usage: message.usage.to_openai(),
    };
    let bytes = serde_json::to_vec(&completion).map_err(|e| ProviderError::Malformed {
        message: format!("cannot encode the translated answer: {e}"),
    })?;
    Completion::from_body(Bytes::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn translate(value: Value) -> Value {
        let completion = to_chat_completion(value.to_string().as_bytes()).unwrap();
        serde_json::from_slice(&completion.body).unwrap()
    }

    #[test]
    fn text_answer() {
        let v = translate(json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x",
            "content": [{"type": "text", "text": "Hello "}, {"type": "thinking", "thinking": "hm"}, {"type": "text", "text": "there"}],
            "stop_reason": "end_turn", "stop_sequence": null,
            "usage": {"input_tokens": 10, "output_tokens": 4},
        }));
        assert_eq!(v["id"], "chatcmpl-msg_1");
        assert_eq!(v["object"], "chat.completion");
        assert_eq!(v["model"], "claude-x");
        assert!(v["created"].as_u64().unwrap() > 0);
        assert_eq!(
            v["choices"][0]["message"],
            json!({"role": "assistant", "content": "Hello there", "refusal": null})
        );
        assert_eq!(v["choices"][0]["finish_reason"], "stop");
        assert_eq!(
            v["usage"],
            json!({"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14})
        );
    }

    #[test]
    fn tool_answer_and_cache_usage() {
        let v = translate(json!({
            "id": "msg_2", "model": "claude-x",
            "content": [{"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}}],
            "stop_reason": "tool_use",
            "usage": {"input_tokens": 5, "output_tokens": 7, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 20},
        }));
        let message = &v["choices"][0]["message"];
        assert_eq!(message["content"], Value::Null);
        assert_eq!(
            message["tool_calls"],
            json!([{"id": "toolu_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}])
        );
        assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(
            v["usage"],
            json!({"prompt_tokens": 125, "completion_tokens": 7, "total_tokens": 132, "prompt_tokens_details": {"cached_tokens": 100}})
        );
    }

    #[test]
    fn stop_reasons() {
        assert_eq!(finish_reason(Some("end_turn")), "stop");
        assert_eq!(finish_reason(Some("stop_sequence")), "stop");
        assert_eq!(finish_reason(Some("max_tokens")), "length");
        assert_eq!(finish_reason(Some("tool_use")), "tool_calls");
        assert_eq!(finish_reason(Some("pause_turn")), "stop");
        assert_eq!(finish_reason(None), "stop");
    }

    #[test]
    fn not_a_message_is_malformed() {
        for body in [&b"nope"[..], br#"{"id":"x"}"#, br#"[1]"#] {
            assert!(matches!(
                to_chat_completion(body),
                Err(ProviderError::Malformed { .. })
            ));
        }
    }
}
