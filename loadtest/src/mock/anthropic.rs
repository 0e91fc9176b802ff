//! Anthropic Messages API wire format: message bodies, SSE events, error
//! bodies and the mock's input-token accounting. No I/O, no timing.

use bytes::Bytes;
use serde_json::{Value, json};

use crate::mock::openai::{Answer, tokens_for_chars};

/// `id` of tool-use block `index` (0-based).
fn tool_use_id(index: usize) -> String {
    format!("toolu_mock_{}", index + 1)
}

/// Anthropic's `stop_reason` for an answer.
pub(crate) fn stop_reason(answer: &Answer) -> &'static str {
    match answer {
        Answer::Text(_) => "end_turn",
        Answer::Tools { .. } => "tool_use",
    }
}

/// Anthropic's `error.type` for a failure status.
pub(crate) fn error_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        500..=599 => "api_error",
        _ => "invalid_request_error",
    }
}

/// `{"type":"error","error":{"type":..,"message":..}}`
pub(crate) fn error_body(message: &str, kind: &str) -> Bytes {
    Bytes::from(error_json(message, kind).to_string())
}

fn error_json(message: &str, kind: &str) -> Value {
    json!({"type": "error", "error": {"type": kind, "message": message}})
}

/// Input tokens: (chars of `system` + chars of every message's text) / 4,
/// rounded up per message, at least 1. Content may be a string or blocks;
/// text blocks and string `tool_result` contents count.
pub(crate) fn input_tokens(body: &Value) -> u64 {
    let system = body.get("system").map_or(0, text_chars);
    let mut sum = tokens_for_chars(system);
    if let Some(messages) = body.get("messages").and_then(Value::as_array) {
        sum += messages
            .iter()
            .map(|m| tokens_for_chars(m.get("content").map_or(0, text_chars)))
            .sum::<u64>();
    }
    sum.max(1)
}

fn text_chars(content: &Value) -> usize {
    match content {
        Value::String(s) => s.chars().count(),
        Value::Array(blocks) => blocks
            .iter()
            .map(|b| match (b.get("text"), b.get("content")) {
                (Some(Value::String(t)), _) => t.chars().count(),
                (_, Some(inner)) => text_chars(inner),
                _ => 0,
            })
            .sum(),
        _ => 0,
    }
}

fn usage_json(input: u64, output: u64) -> Value {
    json!({
        "input_tokens": input,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": output,
    })
}

/// A complete non-stream message body.
pub(crate) fn message_body(id: u64, model: &str, answer: &Answer, input: u64) -> Bytes {
    let content: Vec<Value> = match answer {
        Answer::Text(text) => vec![json!({"type": "text", "text": text})],
        Answer::Tools { name, args, count } => {
            // A tool call's input is a JSON object; arguments that are not
            // one (a test's deliberate garbage) are wrapped so the body stays
            // well-formed, as the real API would never send them.
            let input: Value = serde_json::from_str(args)
                .ok()
                .filter(Value::is_object)
                .unwrap_or_else(|| json!({"_raw": args}));
            (0..*count)
                .map(|i| {
                    json!({
                        "type": "tool_use",
                        "id": tool_use_id(i),
                        "name": name,
                        "input": input,
                    })
                })
                .collect()
        }
    };
    let body = json!({
        "id": format!("msg_mock_{id}"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason(answer),
        "stop_sequence": null,
        "usage": usage_json(input, answer.completion_tokens()),
    });
    Bytes::from(body.to_string())
}

/// Renders the SSE events of one Anthropic stream.
pub(crate) struct EventWriter {
    id: u64,
    model: String,
}

fn event(name: &str, data: &Value) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

impl EventWriter {
    /// A writer for message `msg_mock_<id>` of `model`.
    pub fn new(id: u64, model: &str) -> Self {
        EventWriter {
            id,
            model: model.to_owned(),
        }
    }

    /// `message_start`: the empty message with the input usage.
    pub fn message_start(&self, input: u64) -> Bytes {
        let message = json!({
            "id": format!("msg_mock_{}", self.id),
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": null,
            "stop_sequence": null,
            "usage": usage_json(input, 1),
        });
        event(
            "message_start",
            &json!({"type": "message_start", "message": message}),
        )
    }

    /// `content_block_start` of an empty text block.
    pub fn text_start(index: usize) -> Bytes {
        event(
            "content_block_start",
            &json!({
                "type": "content_block_start",
                "index": index,
                "content_block": {"type": "text", "text": ""},
            }),
        )
    }

    /// `content_block_start` of tool-use block `index`, the `tool`-th tool call.
    pub fn tool_start(index: usize, tool: usize, name: &str) -> Bytes {
        event(
            "content_block_start",
            &json!({
                "type": "content_block_start",
                "index": index,
                "content_block": {
                    "type": "tool_use",
                    "id": tool_use_id(tool),
                    "name": name,
                    "input": {},
                },
            }),
        )
    }

    /// A `text_delta` of block `index`.
    pub fn text_delta(index: usize, text: &str) -> Bytes {
        event(
            "content_block_delta",
            &json!({
                "type": "content_block_delta",
                "index": index,
                "delta": {"type": "text_delta", "text": text},
            }),
        )
    }

    /// An `input_json_delta` of block `index`.
    pub fn json_delta(index: usize, partial: &str) -> Bytes {
        event(
            "content_block_delta",
            &json!({
                "type": "content_block_delta",
                "index": index,
                "delta": {"type": "input_json_delta", "partial_json": partial},
            }),
        )
    }

    /// `content_block_stop` of block `index`.
    pub fn block_stop(index: usize) -> Bytes {
        event(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": index}),
        )
    }

    /// `message_delta` with the stop reason and the output usage.
    pub fn message_delta(stop_reason: &str, output: u64) -> Bytes {
        event(
            "message_delta",
            &json!({
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": null},
                "usage": {"output_tokens": output},
            }),
        )
    }

    /// `message_stop`: the end of the stream.
    pub fn message_stop() -> Bytes {
        event("message_stop", &json!({"type": "message_stop"}))
    }

    /// A `ping`.
    pub fn ping() -> Bytes {
        event("ping", &json!({"type": "ping"}))
    }

    /// An `error` event of `kind`.
    pub fn error(kind: &str) -> Bytes {
        event(
            "error",
            &error_json(&format!("mock error event {kind}"), kind),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(event: &Bytes) -> (String, Value) {
        let text = std::str::from_utf8(event).unwrap();
        let body = text.strip_suffix("\n\n").unwrap();
        let (name, data) = body.split_once('\n').unwrap();
        let name = name.strip_prefix("event: ").unwrap().to_owned();
        let data = serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
        (name, data)
    }

    #[test]
    fn events_name_their_type() {
        let w = EventWriter::new(3, "claude\"x");
        for ev in [
            w.message_start(5),
            EventWriter::text_start(0),
            EventWriter::tool_start(1, 0, "f"),
            EventWriter::text_delta(0, "a\nb"),
            EventWriter::json_delta(1, "{\"a\""),
            EventWriter::block_stop(0),
            EventWriter::message_delta("end_turn", 3),
            EventWriter::message_stop(),
            EventWriter::ping(),
            EventWriter::error("overloaded_error"),
        ] {
            let (name, data) = parse(&ev);
            assert_eq!(data["type"], name.as_str());
        }
        let (_, start) = parse(&w.message_start(5));
        assert_eq!(start["message"]["model"], "claude\"x");
        assert_eq!(start["message"]["id"], "msg_mock_3");
    }

    #[test]
    fn message_body_shapes() {
        let text: Value =
            serde_json::from_slice(&message_body(1, "claude", &Answer::Text("hi".into()), 7))
                .unwrap();
        assert_eq!(text["content"], json!([{"type": "text", "text": "hi"}]));
        assert_eq!(text["stop_reason"], "end_turn");
        assert_eq!(text["usage"]["input_tokens"], 7);
        let tools: Value = serde_json::from_slice(&message_body(
            2,
            "claude",
            &Answer::Tools {
                name: "f".into(),
                args: r#"{"a":1}"#.into(),
                count: 2,
            },
            1,
        ))
        .unwrap();
        assert_eq!(tools["content"][1]["id"], "toolu_mock_2");
        assert_eq!(tools["content"][1]["input"], json!({"a": 1}));
        assert_eq!(tools["stop_reason"], "tool_use");
    }

    #[test]
    fn input_tokens_count_system_and_blocks() {
        let body = json!({
            "system": "12345678",
            "messages": [
                {"role": "user", "content": "1234"},
                {"role": "user", "content": [{"type": "text", "text": "12345"}, {"type": "tool_result", "tool_use_id": "t", "content": "abc"}]},
            ],
        });
        assert_eq!(input_tokens(&body), 2 + 1 + 2);
        assert_eq!(input_tokens(&json!({})), 1);
    }

    #[test]
    fn error_types_follow_anthropic() {
        assert_eq!(error_type(529), "overloaded_error");
        assert_eq!(error_type(500), "api_error");
        assert_eq!(error_type(429), "rate_limit_error");
        assert_eq!(error_type(413), "request_too_large");
        assert_eq!(error_type(400), "invalid_request_error");
    }
}
