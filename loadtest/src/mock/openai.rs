//! OpenAI chat-completions wire format: response bodies, SSE chunk events,
//! error bodies and the mock's token accounting. No I/O, no timing.

use bytes::Bytes;
use serde_json::{Value, json};

/// Content of `system_fingerprint` in every response.
const FINGERPRINT: &str = "fp_mock";

/// What the assistant answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    /// Plain assistant text (`finish_reason: "stop"`).
    Text(String),
    /// `count` identical tool calls to `name` (`finish_reason: "tool_calls"`).
    Tools {
        name: String,
        args: String,
        count: usize,
    },
}

impl Answer {
    /// The `finish_reason` of this answer.
    pub fn finish_reason(&self) -> &'static str {
        match self {
            Answer::Text(_) => "stop",
            Answer::Tools { .. } => "tool_calls",
        }
    }

    /// Completion tokens: generated chars / 4 rounded up, at least 1.
    pub fn completion_tokens(&self) -> u64 {
        let chars = match self {
            Answer::Text(text) => text.chars().count(),
            Answer::Tools { args, count, .. } => args.chars().count() * count,
        };
        tokens_for_chars(chars).max(1)
    }
}

/// Token usage reported by the mock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Usage {
    pub prompt: u64,
    pub completion: u64,
}

impl Usage {
    fn to_json(self) -> Value {
        json!({
            "prompt_tokens": self.prompt,
            "completion_tokens": self.completion,
            "total_tokens": self.prompt + self.completion,
        })
    }
}

/// Tokens for `chars` generated or prompt chars: chars / 4, rounded up.
pub(crate) fn tokens_for_chars(chars: usize) -> u64 {
    chars.div_ceil(4) as u64
}

/// Prompt tokens: sum over `messages` of (content chars / 4, rounded up), at
/// least 1. Content may be a string or an array of `{"type":"text","text":..}` parts.
pub(crate) fn prompt_tokens(body: &Value) -> u64 {
    let Some(messages) = body.get("messages").and_then(Value::as_array) else {
        return 1;
    };
    let sum: u64 = messages
        .iter()
        .map(|m| {
            let chars = match m.get("content") {
                Some(Value::String(s)) => s.chars().count(),
                Some(Value::Array(parts)) => parts
                    .iter()
                    .filter_map(|p| p.get("text").and_then(Value::as_str))
                    .map(|t| t.chars().count())
                    .sum(),
                _ => 0,
            };
            tokens_for_chars(chars)
        })
        .sum();
    sum.max(1)
}

/// OpenAI `error.type` for a failure status.
pub(crate) fn error_type(status: u16) -> &'static str {
    match status {
        429 => "rate_limit_error",
        500..=599 => "server_error",
        _ => "invalid_request_error",
    }
}

/// `{"error":{"message":..,"type":..,"code":null}}`
pub(crate) fn error_body(message: &str, kind: &str) -> Bytes {
    error_body_with_code(message, kind, None)
}

/// An OpenAI error body whose `code` is `code` (`null` when none).
pub(crate) fn error_body_with_code(message: &str, kind: &str, code: Option<&str>) -> Bytes {
    let body = json!({"error": {"message": message, "type": kind, "code": code}});
    Bytes::from(body.to_string())
}

/// The body of `GET /models`.
pub(crate) fn models_body() -> Bytes {
    Bytes::from_static(br#"{"object":"list","data":[{"id":"mock","object":"model"}]}"#)
}

fn tool_call_id(index: usize) -> String {
    format!("call_mock_{}", index + 1)
}

/// A complete non-stream `chat.completion` body.
pub(crate) fn completion_body(
    id: u64,
    created: u64,
    model: &str,
    answer: &Answer,
    usage: Usage,
) -> Bytes {
    let message = match answer {
        Answer::Text(text) => json!({"role": "assistant", "content": text, "refusal": null}),
        Answer::Tools { name, args, count } => {
            let calls: Vec<Value> = (0..*count)
                .map(|i| {
                    json!({
                        "id": tool_call_id(i),
                        "type": "function",
                        "function": {"name": name, "arguments": args},
                    })
                })
                .collect();
            json!({"role": "assistant", "content": null, "tool_calls": calls, "refusal": null})
        }
    };
    let body = json!({
        "id": format!("chatcmpl-mock-{id}"),
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": answer.finish_reason(),
        }],
        "usage": usage.to_json(),
        "system_fingerprint": FINGERPRINT,
    });
    Bytes::from(body.to_string())
}

/// Renders the SSE events of one stream. Cheap: the shared chunk prefix is
/// formatted once, each event is one string concatenation.
pub(crate) struct ChunkWriter {
    /// `data: {"id":..,"object":..,"created":..,"model":..,"system_fingerprint":..,"choices":`
    head: String,
}

impl ChunkWriter {
    /// A writer for stream `chatcmpl-mock-<id>` of `model`.
    pub fn new(id: u64, created: u64, model: &str) -> Self {
        let model = Value::String(model.to_owned()).to_string();
        let head = format!(
            r#"data: {{"id":"chatcmpl-mock-{id}","object":"chat.completion.chunk","created":{created},"model":{model},"system_fingerprint":"{FINGERPRINT}","choices":"#
        );
        ChunkWriter { head }
    }

    fn choice(&self, delta: &str, finish_reason: Option<&str>) -> Bytes {
        let finish = match finish_reason {
            Some(reason) => format!("\"{reason}\""),
            None => "null".to_owned(),
        };
        Bytes::from(format!(
            "{}[{{\"index\":0,\"delta\":{delta},\"logprobs\":null,\"finish_reason\":{finish}}}]}}\n\n",
            self.head
        ))
    }

    /// First chunk: role only, empty content.
    pub fn role(&self) -> Bytes {
        self.choice(r#"{"role":"assistant","content":"","refusal":null}"#, None)
    }

    /// A content piece.
    pub fn content(&self, piece: &str) -> Bytes {
        let delta = json!({"content": piece}).to_string();
        self.choice(&delta, None)
    }

    /// The opening delta of tool call `index`: id, type, name, empty arguments.
    pub fn tool_header(&self, index: usize, name: &str) -> Bytes {
        let delta = json!({"tool_calls": [{
            "index": index,
            "id": tool_call_id(index),
            "type": "function",
            "function": {"name": name, "arguments": ""},
        }]})
        .to_string();
        self.choice(&delta, None)
    }

    /// A fragment of tool call `index`'s arguments string.
    pub fn tool_args(&self, index: usize, fragment: &str) -> Bytes {
        let delta = json!({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]})
            .to_string();
        self.choice(&delta, None)
    }

    /// Empty delta carrying the finish reason.
    pub fn finish(&self, reason: &str) -> Bytes {
        self.choice("{}", Some(reason))
    }

    /// The `stream_options.include_usage` chunk: no choices, usage set.
    pub fn usage(&self, usage: Usage) -> Bytes {
        Bytes::from(format!(
            "{}[],\"usage\":{}}}\n\n",
            self.head,
            usage.to_json()
        ))
    }

    /// The terminating event.
    pub fn done() -> Bytes {
        Bytes::from_static(b"data: [DONE]\n\n")
    }

    /// An SSE comment; not an event, carries no token.
    pub fn keepalive() -> Bytes {
        Bytes::from_static(b": keep-alive\n\n")
    }
}

/// Splits `text` into at most `n` pieces of roughly equal char count, never
/// inside a UTF-8 char. Yields fewer pieces when `text` has fewer than `n`
/// chars (never an empty piece, except one `""` for empty text).
pub(crate) fn split_even(text: &str, n: usize) -> Vec<&str> {
    let chars = text.chars().count();
    let pieces = n.min(chars).max(1);
    let mut boundaries: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
    boundaries.push(text.len());
    (0..pieces)
        .map(|i| {
            let start = boundaries[i * chars / pieces];
            let end = boundaries[(i + 1) * chars / pieces];
            &text[start..end]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_even_keeps_chars_and_order() {
        assert_eq!(
            split_even("Hello from mock", 3),
            ["Hello", " from", " mock"]
        );
        assert_eq!(split_even("héllo", 2), ["hé", "llo"]);
        assert_eq!(split_even("ab", 5), ["a", "b"]);
        assert_eq!(split_even("", 3), [""]);
        let s = "日本語のテキスト";
        assert_eq!(split_even(s, 3).concat(), s);
    }

    #[test]
    fn chunks_are_valid_json_events() {
        let w = ChunkWriter::new(7, 1, "m\"x");
        for ev in [
            w.role(),
            w.content("a\nb"),
            w.tool_header(0, "f"),
            w.tool_args(1, "{"),
            w.finish("stop"),
            w.usage(Usage {
                prompt: 1,
                completion: 2,
            }),
        ] {
            let s = std::str::from_utf8(&ev).unwrap();
            let json = s
                .strip_prefix("data: ")
                .unwrap()
                .strip_suffix("\n\n")
                .unwrap();
            let v: Value = serde_json::from_str(json).unwrap();
            assert_eq!(v["model"], "m\"x");
            assert_eq!(v["object"], "chat.completion.chunk");
        }
    }

    #[test]
    fn prompt_tokens_counts_strings_and_parts() {
        let body = json!({"messages": [
            {"role": "user", "content": "12345"},
            {"role": "user", "content": [{"type": "text", "text": "abcd"}]},
        ]});
        assert_eq!(prompt_tokens(&body), 3);
        assert_eq!(prompt_tokens(&json!({})), 1);
    }
}
