//! The assistant message assembled from stream chunks as they pass (for JSON checks and the
//! record's `output`).

use std::collections::BTreeMap;

use serde_json::{Value, json};
use switchboard_providers::{ChunkInfo, Usage};

/// Accumulates choice 0 of a stream.
#[derive(Debug, Default)]
pub struct OutputBuilder {
    content: String,
    refusal: String,
    tool_calls: BTreeMap<u32, ToolCall>,
    /// The last `finish_reason` seen.
    pub finish_reason: Option<String>,
    /// The usage chunk's counts.
    pub usage: Option<Usage>,
}

#[derive(Debug, Default)]
struct ToolCall {
    id: String,
    name: String,
    arguments: String,
}

impl OutputBuilder {
    /// Adds one chunk.
    pub fn push(&mut self, info: &ChunkInfo) {
        if let Some(text) = &info.content {
            self.content.push_str(text);
        }
        if let Some(text) = &info.refusal {
            self.refusal.push_str(text);
        }
        for delta in &info.tool_calls {
            let call = self.tool_calls.entry(delta.index).or_default();
            if let Some(id) = &delta.id {
                call.id.clone_from(id);
            }
            if let Some(name) = &delta.name {
                call.name.push_str(name);
            }
            if let Some(arguments) = &delta.arguments {
                call.arguments.push_str(arguments);
            }
        }
        if info.finish_reason.is_some() {
            self.finish_reason.clone_from(&info.finish_reason);
        }
        if info.usage.is_some() {
            self.usage = info.usage;
        }
    }

    /// The text so far, `None` when there was none.
    pub fn content(&self) -> Option<&str> {
        (!self.content.is_empty()).then_some(self.content.as_str())
    }

    /// `(name, arguments)` of each tool call.
    pub fn tool_calls(&self) -> impl Iterator<Item = (&str, &str)> {
        self.tool_calls
            .values()
            .map(|c| (c.name.as_str(), c.arguments.as_str()))
    }

    /// The message in OpenAI's non-stream shape.
    pub fn message(&self) -> Value {
        let mut message = json!({"role": "assistant", "content": self.content()});
        if !self.refusal.is_empty() {
            message["refusal"] = Value::String(self.refusal.clone());
        }
        if !self.tool_calls.is_empty() {
            message["tool_calls"] = self
                .tool_calls
                .values()
                .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}))
                .collect();
        }
        message
    }
}

/// `(name, arguments)` of each tool call in a non-stream message.
pub fn message_tool_calls(message: &Value) -> Vec<(&str, &str)> {
    message
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|call| {
            let name = call
                .pointer("/function/name")
                .and_then(Value::as_str)
                .unwrap_or("");
            let arguments = call
                .pointer("/function/arguments")
                .and_then(Value::as_str)
                .unwrap_or("");
            (name, arguments)
        })
        .collect()
}
