//! An Anthropic Messages API event stream translated into OpenAI `chat.completion.chunk`s.
//!
//! `message_start` gives the role chunk, text deltas content chunks, `tool_use` blocks and their
//! `input_json_delta`s tool-call deltas, `message_delta` the finish chunk and `message_stop` a
//! usage chunk (always; the gateway drops it when the client did not ask for usage), after
//! which the stream ends. `ping`s and unknown events yield nothing.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchboard_config::ErrorKind;

use crate::anthropic::response::{AnthropicUsage, OpenAiUsage, finish_reason, unix_now};
use crate::chunk::StreamChunk;
use crate::error::ProviderError;
use crate::provider::ChunkStream;

/// The retry kind of an Anthropic error `type` (from an `error` event or body):
/// `rate_limit_error` -> rate limited; `invalid_request_error`, `authentication_error`,
/// `permission_error`, `not_found_error`, `request_too_large` -> client error; anything else
/// (`overloaded_error`, `api_error`, unknown) -> server error.
pub fn error_kind(error_type: &str) -> ErrorKind {
    match error_type {
        "rate_limit_error" => ErrorKind::RateLimited,
        "invalid_request_error"
        | "authentication_error"
        | "permission_error"
        | "not_found_error"
        | "request_too_large" => ErrorKind::ClientError,
        _ => ErrorKind::ServerError,
    }
}

/// Decodes an Anthropic SSE body into OpenAI chunks. An `error` event fails the stream with
/// [`ProviderError::StreamError`], unreadable event data with [`ProviderError::Malformed`], and
/// an end (or break) before `message_stop` with [`ProviderError::StreamCut`].
pub fn anthropic_sse<S, E>(body: S) -> ChunkStream
where
    S: futures_util::Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    struct State<T> {
        events: T,
        translator: Translator,
        done: bool,
    }
    let state = State {
        events: Box::pin(body.eventsource()),
        translator: Translator::new(unix_now()),
        done: false,
    };
    Box::pin(futures_util::stream::unfold(
        state,
        |mut state| async move {
            loop {
                if let Some(chunk) = state.translator.pending.pop_front() {
                    return Some((Ok(chunk), state));
                }
                if state.done || state.translator.stopped {
                    return None;
                }
                let event = match state.events.next().await {
                    Some(Ok(event)) => event,
                    None => {
                        state.done = true;
                        return Some((Err(ProviderError::closed_before("message_stop")), state));
                    }
                    Some(Err(e)) => {
                        state.done = true;
                        return Some((Err(ProviderError::stream_broke(e)), state));
                    }
                };
                if let Err(err) = state.translator.event(&event.event, &event.data) {
                    state.done = true;
                    return Some((Err(err), state));
                }
            }
        },
    ))
}

/// The translation state of one stream: what earlier events said, and chunks ready to go.
pub(crate) struct Translator {
    id: String,
    model: String,
    created: u64,
    usage: AnthropicUsage,
    /// Content block index -> the tool call it is.
    tools: HashMap<u64, ToolSlot>,
    /// Tool calls seen so far (the next tool call's OpenAI index).
    tool_count: u32,
    finished: bool,
    /// `message_stop` was seen: nothing more is read.
    pub stopped: bool,
    /// Translated chunks not handed out yet.
    pub pending: VecDeque<StreamChunk>,
}

struct ToolSlot {
    index: u32,
    sent_arguments: bool,
}

#[derive(Deserialize)]
struct MessageStart {
    message: StartMessage,
}

#[derive(Deserialize)]
struct StartMessage {
    #[serde(default)]
    id: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    usage: AnthropicUsage,
}

#[derive(Deserialize)]
struct BlockStart {
    index: u64,
    content_block: StartBlock,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum StartBlock {
    Text {
        #[serde(default)]
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct BlockDelta {
    index: u64,
    delta: DeltaIn,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum DeltaIn {
    TextDelta {
        text: String,
    },
    InputJsonDelta {
        partial_json: String,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct BlockStop {
    index: u64,
}

#[derive(Deserialize)]
struct MessageDelta {
    delta: MessageDeltaBody,
    #[serde(default)]
    usage: Option<AnthropicUsage>,
}

#[derive(Deserialize)]
struct MessageDeltaBody {
    #[serde(default)]
    stop_reason: Option<String>,
}

#[derive(Deserialize)]
struct ErrorEvent {
    error: ErrorBody,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    message: String,
}

#[derive(Serialize)]
struct Chunk<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: &'a [ChoiceOut<'a>],
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<OpenAiUsage>,
}

#[derive(Serialize)]
struct ChoiceOut<'a> {
    index: u32,
    delta: DeltaOut<'a>,
    logprobs: Option<()>,
    finish_reason: Option<&'a str>,
}

#[derive(Serialize, Default)]
struct DeltaOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<[ToolCallOut<'a>; 1]>,
}

#[derive(Serialize)]
struct ToolCallOut<'a> {
    index: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'a str>,
    function: FunctionOut<'a>,
}

#[derive(Serialize)]
struct FunctionOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    arguments: &'a str,
}

fn parse<'a, T: Deserialize<'a>>(event: &str, data: &'a str) -> Result<T, ProviderError> {
    serde_json::from_str(data).map_err(|e| ProviderError::Malformed {
        message: format!("Anthropic `{event}` event is not valid: {e}"),
    })
}

impl Translator {
    /// A fresh stream; `created` goes into every chunk.
    pub fn new(created: u64) -> Translator {
        Translator {
            id: String::new(),
            model: String::new(),
            created,
            usage: AnthropicUsage::default(),
            tools: HashMap::new(),
            tool_count: 0,
            finished: false,
            stopped: false,
            pending: VecDeque::new(),
        }
    }

    /// Translates one SSE event (`name` may be empty: the data's `type` is used then), queueing
    /// the chunks it yields in `pending`.
    pub fn event(&mut self, name: &str, data: &str) -> Result<(), ProviderError> {
        let from_data;
        let name = if name.is_empty() || name == "message" {
            from_data = serde_json::from_str::<Value>(data)
                .ok()
                .and_then(|v| v.get("type").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_default();
            from_data.as_str()
        } else {
            name
        };
        match name {
            "message_start" => {
                let start: MessageStart = parse(name, data)?;
                self.id = format!("chatcmpl-{}", start.message.id);
                self.model = start.message.model;
                self.usage.update(start.message.usage);
                self.push(
                    DeltaOut {
                        role: Some("assistant"),
                        content: Some(""),
                        ..DeltaOut::default()
                    },
                    None,
                )
            }
            "content_block_start" => {
                let start: BlockStart = parse(name, data)?;
                match start.content_block {
                    StartBlock::Text { text } if !text.is_empty() => self.push(
                        DeltaOut {
                            content: Some(&text),
                            ..DeltaOut::default()
                        },
                        None,
                    ),
                    StartBlock::ToolUse { id, name } => {
                        let index = self.tool_count;
                        self.tool_count += 1;
                        self.tools.insert(
                            start.index,
                            ToolSlot {
                                index,
                                sent_arguments: false,
                            },
                        );
                        self.push(
                            DeltaOut {
                                tool_calls: Some([ToolCallOut {
                                    index,
                                    id: Some(&id),
                                    kind: Some("function"),
                                    function: FunctionOut {
                                        name: Some(&name),
                                        arguments: "",
                                    },
                                }]),
                                ..DeltaOut::default()
                            },
                            None,
                        )
                    }
                    _ => Ok(()),
                }
            }
            "content_block_delta" => {
                let delta: BlockDelta = parse(name, data)?;
                match delta.delta {
                    DeltaIn::TextDelta { text } if !text.is_empty() => self.push(
                        DeltaOut {
                            content: Some(&text),
                            ..DeltaOut::default()
                        },
                        None,
                    ),
                    DeltaIn::InputJsonDelta { partial_json } if !partial_json.is_empty() => {
                        let Some(slot) = self.tools.get_mut(&delta.index) else {
                            let block = delta.index;
                            return Err(ProviderError::Malformed {
                                message: format!(
                                    "Anthropic sent tool input for block {block}, not a tool_use"
                                ),
                            });
                        };
                        slot.sent_arguments = true;
                        let index = slot.index;
                        self.push_arguments(index, &partial_json)
                    }
                    _ => Ok(()),
                }
            }
            "content_block_stop" => {
                let stop: BlockStop = parse(name, data)?;
                // A tool called without arguments streams no input: say `{}` like OpenAI does.
                match self.tools.get_mut(&stop.index) {
                    Some(slot) if !slot.sent_arguments => {
                        slot.sent_arguments = true;
                        let index = slot.index;
                        self.push_arguments(index, "{}")
                    }
                    _ => Ok(()),
                }
            }
            "message_delta" => {
                let delta: MessageDelta = parse(name, data)?;
                if let Some(usage) = delta.usage {
                    self.usage.update(usage);
                }
                self.finish(finish_reason(delta.delta.stop_reason.as_deref()))
            }
            "message_stop" => {
                self.finish("stop")?;
                self.stopped = true;
                let usage = self.usage.to_openai();
                self.push_chunk(&[], Some(usage))
            }
            "error" => {
                let event: ErrorEvent = parse(name, data)?;
                let message = if event.error.message.is_empty() {
                    format!("Anthropic sent an error event ({})", event.error.kind)
                } else {
                    event.error.message
                };
                Err(ProviderError::StreamError {
                    message,
                    kind: error_kind(&event.error.kind),
                })
            }
            // `ping` and event types added after this adapter was written carry no output.
            _ => Ok(()),
        }
    }

    /// The finish chunk, once.
    fn finish(&mut self, reason: &str) -> Result<(), ProviderError> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        self.push(DeltaOut::default(), Some(reason))
    }

    fn push_arguments(&mut self, index: u32, arguments: &str) -> Result<(), ProviderError> {
        self.push(
            DeltaOut {
                tool_calls: Some([ToolCallOut {
                    index,
                    id: None,
                    kind: None,
                    function: FunctionOut {
                        name: None,
                        arguments,
                    },
                }]),
                ..DeltaOut::default()
            },
            None,
        )
    }

    fn push(
        &mut self,
        delta: DeltaOut<'_>,
        finish_reason: Option<&str>,
    ) -> Result<(), ProviderError> {
        let choice = ChoiceOut {
            index: 0,
            delta,
            logprobs: None,
            finish_reason,
        };
        self.push_chunk(&[choice], None)
    }

    fn push_chunk(
        &mut self,
        choices: &[ChoiceOut<'_>],
        usage: Option<OpenAiUsage>,
    ) -> Result<(), ProviderError> {
        let chunk = Chunk {
            id: &self.id,
            object: "chat.completion.chunk",
            created: self.created,
            model: &self.model,
            choices,
            usage,
        };
        let encoding_failed = |e: serde_json::Error| ProviderError::Malformed {
            message: format!("cannot encode a translated chunk: {e}"),
        };
        let data = serde_json::to_vec(&chunk).map_err(encoding_failed)?;
        let chunk = StreamChunk::from_json(Bytes::from(data)).map_err(encoding_failed)?;
        self.pending.push_back(chunk);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
        assert!(matches!(err, ProviderError::Malformed { .. }), "{err}");
    }
}
