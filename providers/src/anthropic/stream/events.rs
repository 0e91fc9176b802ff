//! The incoming Anthropic stream events, as much of each as the translation reads.

use serde::Deserialize;

use crate::anthropic::response::AnthropicUsage;
use crate::error::ProviderError;

/// `message_start`: the message's id, model and first usage.
#[derive(Deserialize)]
pub(super) struct MessageStart {
    pub message: StartMessage,
}

#[derive(Deserialize)]
pub(super) struct StartMessage {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub usage: AnthropicUsage,
}

/// `content_block_start`: a text or `tool_use` block opens at `index`.
#[derive(Deserialize)]
pub(super) struct BlockStart {
    pub index: u64,
    pub content_block: StartBlock,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum StartBlock {
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

/// `content_block_delta`: more text, or more of a tool call's input JSON.
#[derive(Deserialize)]
pub(super) struct BlockDelta {
    pub index: u64,
    pub delta: DeltaIn,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum DeltaIn {
    TextDelta {
        text: String,
    },
    InputJsonDelta {
        partial_json: String,
    },
    #[serde(other)]
    Other,
}

/// `content_block_stop`: the block at `index` is complete.
#[derive(Deserialize)]
pub(super) struct BlockStop {
    pub index: u64,
}

/// `message_delta`: the stop reason and the final usage.
#[derive(Deserialize)]
pub(super) struct MessageDelta {
    pub delta: MessageDeltaBody,
    #[serde(default)]
    pub usage: Option<AnthropicUsage>,
}

#[derive(Deserialize)]
pub(super) struct MessageDeltaBody {
    #[serde(default)]
    pub stop_reason: Option<String>,
}

/// `error`: the upstream failed mid-stream.
#[derive(Deserialize)]
pub(super) struct ErrorEvent {
    pub error: ErrorBody,
}

#[derive(Deserialize)]
pub(super) struct ErrorBody {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub message: String,
}

/// The `data` of the event called `event`, parsed; [`ProviderError::UnreadableEvent`] if it
/// does not fit.
pub(super) fn parse<'a, T: Deserialize<'a>>(
    event: &str,
    data: &'a str,
) -> Result<T, ProviderError> {
    serde_json::from_str(data).map_err(|e| ProviderError::UnreadableEvent {
        message: format!("Anthropic `{event}` event is not valid: {e}"),
    })
}
