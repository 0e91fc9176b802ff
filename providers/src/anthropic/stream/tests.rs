//! Unit tests of the stream translation: events fed to a [`Translator`] one at a time, the
//! chunks it queued read back as JSON.

use serde_json::{Value, json};

use super::*;

fn run(events: &[(&str, Value)]) -> (Vec<Value>, Result<(), ProviderError>) {
    let mut t = Translator::new(42);
    let mut result = Ok(());
    for (name, data) in events {
        result = t.event(name, &data.to_string());
        if result.is_err() {
            break;
        }
    }
    let chunks = t
        .pending
        .iter()
        .map(|c| serde_json::from_slice(&c.data).unwrap())
        .collect();
    (chunks, result)
}

fn start() -> (&'static str, Value) {
    (
        "message_start",
        json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant",
            "content": [], "model": "claude-x", "stop_reason": null, "usage": {"input_tokens": 9, "output_tokens": 1}}}),
    )
}

#[test]
fn text_stream() {
    let (chunks, result) = run(&[
        start(),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        ("ping", json!({"type": "ping"})),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}}),
        ),
        (
            "",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": " you"}}),
        ),
        (
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ),
        ("brand_new_event", json!({"type": "brand_new_event"})),
        (
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": "max_tokens"}, "usage": {"output_tokens": 5}}),
        ),
        ("message_stop", json!({"type": "message_stop"})),
    ]);
    result.unwrap();
    assert_eq!(chunks.len(), 5, "{chunks:#?}");
    assert_eq!(
        chunks[0],
        json!({"id": "chatcmpl-msg_1", "object": "chat.completion.chunk", "created": 42, "model": "claude-x",
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": null, "finish_reason": null}]})
    );
    assert_eq!(chunks[1]["choices"][0]["delta"], json!({"content": "Hi"}));
    assert_eq!(chunks[2]["choices"][0]["delta"], json!({"content": " you"}));
    assert_eq!(chunks[3]["choices"][0]["finish_reason"], "length");
    assert_eq!(chunks[3]["choices"][0]["delta"], json!({}));
    assert_eq!(chunks[4]["choices"], json!([]));
    assert_eq!(
        chunks[4]["usage"],
        json!({"prompt_tokens": 9, "completion_tokens": 5, "total_tokens": 14})
    );
}

#[test]
fn tool_stream_indexes_tool_blocks_from_zero() {
    let (chunks, result) = run(&[
        start(),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Let me check."}}),
        ),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_a", "name": "weather", "input": {}}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": ""}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"city\":"}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "\"Paris\"}"}}),
        ),
        (
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 1}),
        ),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "toolu_b", "name": "now", "input": {}}}),
        ),
        (
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 2}),
        ),
        (
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 30}}),
        ),
    ]);
    result.unwrap();
    let calls: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"].get("tool_calls"))
        .collect();
    assert_eq!(
        calls[0],
        &json!([{"index": 0, "id": "toolu_a", "type": "function", "function": {"name": "weather", "arguments": ""}}])
    );
    assert_eq!(
        calls[1],
        &json!([{"index": 0, "function": {"arguments": "{\"city\":"}}])
    );
    assert_eq!(
        calls[2],
        &json!([{"index": 0, "function": {"arguments": "\"Paris\"}"}}])
    );
    assert_eq!(calls[3][0]["index"], 1);
    assert_eq!(calls[3][0]["id"], "toolu_b");
    assert_eq!(
        calls[4],
        &json!([{"index": 1, "function": {"arguments": "{}"}}])
    );
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "tool_calls"
    );
}

#[test]
fn error_events_map_to_kinds() {
    for (kind, expected) in [
        ("overloaded_error", ErrorKind::ServerError),
        ("api_error", ErrorKind::ServerError),
        ("rate_limit_error", ErrorKind::RateLimited),
        ("invalid_request_error", ErrorKind::ClientError),
    ] {
        let (_, result) = run(&[
            start(),
            (
                "error",
                json!({"type": "error", "error": {"type": kind, "message": "Overloaded"}}),
            ),
        ]);
        let err = result.unwrap_err();
        assert!(matches!(err, ProviderError::StreamError { .. }), "{err}");
        assert_eq!(err.kind(), expected, "{kind}");
    }
}

#[test]
fn malformed_known_events_fail_and_unknown_ones_pass() {
    let mut t = Translator::new(1);
    assert!(t.event("whatever", "not json").is_ok());
    assert!(t.event("ping", "").is_ok());
    assert!(t.pending.is_empty());
    let err = t.event("content_block_delta", "{\"index\":").unwrap_err();
    assert!(
        matches!(err, ProviderError::UnreadableEvent { .. }),
        "{err}"
    );
}
