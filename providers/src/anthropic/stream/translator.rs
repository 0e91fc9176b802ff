//! The [`Translator`]: Anthropic stream events in, OpenAI chunks out, one method per event type.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;
use serde_json::Value;

use super::chunk_out::{ChoiceOut, Chunk, DeltaOut, FunctionOut, ToolCallOut};
use super::error_kind;
use super::events::{
    BlockDelta, BlockStart, BlockStop, DeltaIn, ErrorEvent, MessageDelta, MessageStart, StartBlock,
    parse,
};
use crate::anthropic::response::{AnthropicUsage, OpenAiUsage, finish_reason};
use crate::chunk::StreamChunk;
use crate::error::ProviderError;

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
            "message_start" => self.message_start(parse(name, data)?),
            "content_block_start" => self.content_block_start(parse(name, data)?),
            "content_block_delta" => self.content_block_delta(parse(name, data)?),
            "content_block_stop" => self.content_block_stop(parse(name, data)?),
            "message_delta" => self.message_delta(parse(name, data)?),
            "message_stop" => self.message_stop(),
            "error" => Err(stream_error(parse(name, data)?)),
            // `ping` and event types added after this adapter was written carry no output.
            _ => Ok(()),
        }
    }

    /// The role chunk; the message's id and model go into every chunk.
    fn message_start(&mut self, start: MessageStart) -> Result<(), ProviderError> {
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

    /// A content chunk for a text block that starts with text; the first tool-call delta (id,
    /// name, empty arguments) for a `tool_use` block, which takes the next tool-call index.
    fn content_block_start(&mut self, start: BlockStart) -> Result<(), ProviderError> {
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

    /// A content chunk for text, an arguments delta for tool input; empty deltas yield nothing.
    fn content_block_delta(&mut self, delta: BlockDelta) -> Result<(), ProviderError> {
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

    fn content_block_stop(&mut self, stop: BlockStop) -> Result<(), ProviderError> {
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

    /// The finish chunk, with the stop reason mapped to OpenAI's.
    fn message_delta(&mut self, delta: MessageDelta) -> Result<(), ProviderError> {
        if let Some(usage) = delta.usage {
            self.usage.update(usage);
        }
        self.finish(finish_reason(delta.delta.stop_reason.as_deref()))
    }

    /// The finish chunk (if `message_delta` did not send it) and the usage chunk; the end.
    fn message_stop(&mut self) -> Result<(), ProviderError> {
        self.finish("stop")?;
        self.stopped = true;
        let usage = self.usage.to_openai();
        self.push_chunk(&[], Some(usage))
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

/// An `error` event as the stream's failure, with the retry kind of its error type.
fn stream_error(event: ErrorEvent) -> ProviderError {
    let message = if event.error.message.is_empty() {
        format!("Anthropic sent an error event ({})", event.error.kind)
    } else {
        event.error.message
    };
    ProviderError::StreamError {
        message,
        kind: error_kind(&event.error.kind),
    }
}
