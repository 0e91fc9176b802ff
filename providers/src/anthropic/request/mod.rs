//! The client's OpenAI chat request translated into an Anthropic Messages API request body.
//!
//! Pure functions, no I/O. Anything that cannot be expressed in the Messages API is either
//! dropped (top-level sampling/format knobs with no equivalent; see [`dropped_fields`]) or, when
//! dropping it would change the conversation itself, refused with [`ProviderError::Translate`].
//! The conversation is translated in [`messages`] (its content parts in [`content`]), the tool
//! definitions and `tool_choice` in [`tools`].

mod content;
mod messages;
mod tools;

use serde_json::{Map, Value, json};

use crate::error::ProviderError;
use crate::request_body::RequestBody;

/// `max_tokens` sent when neither the client nor the provider config set one.
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

/// Top-level OpenAI fields this translation reads (everything else is dropped).
const TRANSLATED: &[&str] = &[
    "model",
    "messages",
    "stream",
    "stream_options",
    "max_tokens",
    "max_completion_tokens",
    "stop",
    "temperature",
    "top_p",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "user",
];

/// The top-level fields of the OpenAI `body` that the Anthropic request leaves out because the
/// Messages API has no equivalent (`n`, `logprobs`, `seed`, `response_format`, penalties, ...),
/// in the map's key order, for the record's warnings. Fields set to `null` or to a value that
/// changes nothing (`n: 1`, `logprobs: false`) are not reported.
pub fn dropped_fields(body: &Map<String, Value>) -> Vec<String> {
    body.iter()
        .filter(|(key, value)| {
            let no_op = match key.as_str() {
                "n" => value.as_u64() == Some(1),
                "logprobs" => value.as_bool() == Some(false),
                _ => false,
            };
            !TRANSLATED.contains(&key.as_str()) && !value.is_null() && !no_op
        })
        .map(|(key, _)| key.clone())
        .collect()
}

/// Translates the OpenAI chat `body` into a Messages API body for `model`.
///
/// `max_tokens` is the client's `max_completion_tokens` or `max_tokens`, else
/// `default_max_tokens`, else [`DEFAULT_MAX_TOKENS`]. `temperature` is clamped to Anthropic's
/// range 0..=1.
pub fn to_messages_request(
    body: &Map<String, Value>,
    model: &str,
    stream: bool,
    default_max_tokens: Option<u32>,
) -> Result<Value, ProviderError> {
    translate_parts(
        body,
        body.get("messages"),
        model,
        stream,
        default_max_tokens,
    )
}

/// [`to_messages_request`] for the gateway's body, its `messages` parsed from the client's
/// text here (the translation reads every message).
pub fn translate_request(
    body: &RequestBody,
    model: &str,
    stream: bool,
    default_max_tokens: Option<u32>,
) -> Result<Value, ProviderError> {
    let messages = body.messages_value();
    translate_parts(
        &body.fields,
        messages.as_ref(),
        model,
        stream,
        default_max_tokens,
    )
}

fn translate_parts(
    body: &Map<String, Value>,
    messages: Option<&Value>,
    model: &str,
    stream: bool,
    default_max_tokens: Option<u32>,
) -> Result<Value, ProviderError> {
    let mut out = Map::new();
    out.insert("model".to_owned(), Value::from(model));

    let (system, messages) = messages::conversation(messages)?;
    if !system.is_empty() {
        out.insert("system".to_owned(), Value::String(system.join("\n\n")));
    }
    out.insert("messages".to_owned(), Value::Array(messages));

    let max_tokens =
        match present(body, "max_completion_tokens").or_else(|| present(body, "max_tokens")) {
            Some(value) => value
                .as_u64()
                .filter(|n| *n > 0)
                .ok_or_else(|| translate("max_tokens must be a positive integer"))?,
            None => u64::from(default_max_tokens.unwrap_or(DEFAULT_MAX_TOKENS)),
        };
    out.insert("max_tokens".to_owned(), Value::from(max_tokens));

    if let Some(stop) = present(body, "stop") {
        let sequences = stop_sequences(stop)?;
        if !sequences.is_empty() {
            out.insert("stop_sequences".to_owned(), Value::Array(sequences));
        }
    }
    if let Some(value) = present(body, "temperature") {
        let t = value
            .as_f64()
            .ok_or_else(|| translate("temperature must be a number"))?;
        out.insert("temperature".to_owned(), Value::from(t.clamp(0.0, 1.0)));
    }
    if let Some(value) = present(body, "top_p") {
        if !value.is_number() {
            return Err(translate("top_p must be a number"));
        }
        out.insert("top_p".to_owned(), value.clone());
    }

    let (tools, tool_choice) = tools::tools_and_choice(body)?;
    if !tools.is_empty() {
        out.insert("tools".to_owned(), Value::Array(tools));
    }
    if let Some(choice) = tool_choice {
        out.insert("tool_choice".to_owned(), choice);
    }

    if let Some(user) = present(body, "user") {
        let user = user
            .as_str()
            .ok_or_else(|| translate("user must be a string"))?;
        out.insert("metadata".to_owned(), json!({"user_id": user}));
    }
    out.insert("stream".to_owned(), Value::Bool(stream));
    Ok(Value::Object(out))
}

/// `body[key]` unless absent or `null`.
fn present<'a>(body: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    body.get(key).filter(|v| !v.is_null())
}

fn translate(message: impl Into<String>) -> ProviderError {
    ProviderError::Translate {
        message: message.into(),
    }
}

fn stop_sequences(stop: &Value) -> Result<Vec<Value>, ProviderError> {
    match stop {
        Value::String(s) => Ok(vec![Value::from(s.as_str())]),
        Value::Array(items) if items.iter().all(Value::is_string) => Ok(items.clone()),
        _ => Err(translate("stop must be a string or an array of strings")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `value`'s map (shared with the submodules' tests).
    pub(super) fn body(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => panic!("not an object"),
        }
    }

    /// `value` translated for `claude-x`, not streamed, without a configured `max_tokens`.
    pub(super) fn translate_ok(value: Value) -> Value {
        to_messages_request(&body(value), "claude-x", false, None).unwrap()
    }

    #[test]
    fn sampling_tools_and_choice() {
        let out = translate_ok(json!({
            "messages": [{"role": "user", "content": "x"}],
            "max_completion_tokens": 50, "max_tokens": 70,
            "stop": "END", "temperature": 1.7, "top_p": 0.5, "user": "u-1",
            "tools": [{"type": "function", "function": {"name": "f", "description": "does f", "parameters": {"type": "object"}}},
                      {"type": "function", "function": {"name": "g"}}],
            "tool_choice": {"type": "function", "function": {"name": "f"}},
            "parallel_tool_calls": false,
            "n": 1, "seed": 3, "presence_penalty": 0.1, "response_format": {"type": "json_object"},
        }));
        assert_eq!(out["max_tokens"], 50);
        assert_eq!(out["stop_sequences"], json!(["END"]));
        assert_eq!(out["temperature"], 1.0);
        assert_eq!(out["top_p"], 0.5);
        assert_eq!(out["metadata"], json!({"user_id": "u-1"}));
        assert_eq!(
            out["tools"],
            json!([
                {"name": "f", "description": "does f", "input_schema": {"type": "object"}},
                {"name": "g", "input_schema": {"type": "object", "properties": {}}},
            ])
        );
        assert_eq!(
            out["tool_choice"],
            json!({"type": "tool", "name": "f", "disable_parallel_tool_use": true})
        );
        for key in [
            "n",
            "seed",
            "presence_penalty",
            "response_format",
            "parallel_tool_calls",
        ] {
            assert!(out.get(key).is_none(), "{key} leaked");
        }
    }

    #[test]
    fn max_tokens_default_comes_from_config() {
        let b = body(json!({"messages": [{"role": "user", "content": "x"}], "stop": ["a", "b"]}));
        let out = to_messages_request(&b, "m", true, Some(1000)).unwrap();
        assert_eq!(out["max_tokens"], 1000);
        assert_eq!(out["stream"], true);
        assert_eq!(out["stop_sequences"], json!(["a", "b"]));
        let zero = body(json!({"messages": [], "max_tokens": 0}));
        assert!(to_messages_request(&zero, "m", false, None).is_err());
    }

    #[test]
    fn dropped_fields_lists_what_has_no_equivalent() {
        let b = body(json!({
            "model": "m", "messages": [], "n": 2, "logprobs": true, "seed": 1, "temperature": 0.2,
            "frequency_penalty": null, "logit_bias": {"1": 2}, "stream_options": {"include_usage": true},
        }));
        let mut dropped = dropped_fields(&b);
        dropped.sort();
        assert_eq!(dropped, ["logit_bias", "logprobs", "n", "seed"]);
        let quiet = body(json!({"n": 1, "logprobs": false, "parallel_tool_calls": true}));
        assert!(dropped_fields(&quiet).is_empty());
    }
}
