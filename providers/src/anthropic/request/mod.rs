//! The client's OpenAI chat request translated into an Anthropic Messages API request body.
//!
//! Pure functions, no I/O. Anything that cannot be expressed in the Messages API is either
//! dropped (top-level sampling/format knobs with no equivalent; see [`dropped_fields`]) or, when
//! dropping it would change the conversation itself, refused with [`ProviderError::Translate`].

use serde_json::{Map, Value, json};

use crate::error::ProviderError;

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
    let mut out = Map::new();
    out.insert("model".to_owned(), Value::from(model));

    let (system, messages) = conversation(body.get("messages"))?;
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

    let tools = match present(body, "tools") {
        Some(tools) => translate_tools(tools)?,
        None => Vec::new(),
    };
    let mut tool_choice = present(body, "tool_choice")
        .map(translate_tool_choice)
        .transpose()?;
    if !tools.is_empty() {
        let parallel_off = body.get("parallel_tool_calls").and_then(Value::as_bool) == Some(false);
        if parallel_off {
            let choice = tool_choice.get_or_insert_with(|| json!({"type": "auto"}));
            if choice.get("type").and_then(Value::as_str) != Some("none") {
                choice["disable_parallel_tool_use"] = Value::Bool(true);
            }
        }
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

/// The system text pieces and the alternating user/assistant messages.
fn conversation(messages: Option<&Value>) -> Result<(Vec<String>, Vec<Value>), ProviderError> {
    let messages = messages
        .and_then(Value::as_array)
        .ok_or_else(|| translate("messages must be an array"))?;
    let mut system = Vec::new();
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        let at = format!("messages[{i}]");
        let role = message
            .get("role")
            .and_then(Value::as_str)
            .ok_or_else(|| translate(format!("{at}.role is missing")))?;
        let content = message.get("content").filter(|c| !c.is_null());
        let (role, blocks) = match role {
            "system" | "developer" => {
                if let Some(content) = content {
                    let text = plain_text(content, &at)?;
                    if !text.is_empty() {
                        system.push(text);
                    }
                }
                continue;
            }
            "user" => ("user", content_blocks(content, &at)?),
            "assistant" => {
                let mut blocks = content_blocks(content, &at)?;
                if let Some(calls) = message.get("tool_calls").filter(|c| !c.is_null()) {
                    blocks.extend(tool_use_blocks(calls, &at)?);
                }
                ("assistant", blocks)
            }
            "tool" => ("user", vec![tool_result_block(message, content, &at)?]),
            other => {
                return Err(translate(format!(
                    "{at}.role \"{other}\" has no Anthropic equivalent"
                )));
            }
        };
        if blocks.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some((last, existing)) if *last == role => existing.extend(blocks),
            _ => turns.push((role, blocks)),
        }
    }
    let messages = turns
        .into_iter()
        .map(|(role, blocks)| json!({"role": role, "content": blocks}))
        .collect();
    Ok((system, messages))
}

/// The text of a system message: a string, or text parts joined with newlines.
fn plain_text(content: &Value, at: &str) -> Result<String, ProviderError> {
    match content {
        Value::String(text) => Ok(text.clone()),
        Value::Array(parts) => {
            let mut texts = Vec::with_capacity(parts.len());
            for (j, part) in parts.iter().enumerate() {
                match part_type(part) {
                    Some("text") => texts.push(part_text(part, &format!("{at}.content[{j}]"))?),
                    other => {
                        let kind = other.unwrap_or("(none)");
                        return Err(translate(format!(
                            "{at}.content[{j}]: a system part of type {kind} has no Anthropic form"
                        )));
                    }
                }
            }
            Ok(texts.join("\n"))
        }
        _ => Err(translate(format!(
            "{at}.content must be a string or an array"
        ))),
    }
}

fn part_type(part: &Value) -> Option<&str> {
    part.get("type").and_then(Value::as_str)
}

fn part_text(part: &Value, at: &str) -> Result<String, ProviderError> {
    part.get("text")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| translate(format!("{at}.text must be a string")))
}

/// Content blocks of a user or assistant message. Empty text is left out (the Messages API
/// refuses empty text blocks).
fn content_blocks(content: Option<&Value>, at: &str) -> Result<Vec<Value>, ProviderError> {
    match content {
        None => Ok(Vec::new()),
        Some(Value::String(text)) if text.is_empty() => Ok(Vec::new()),
        Some(Value::String(text)) => Ok(vec![json!({"type": "text", "text": text})]),
        Some(Value::Array(parts)) => {
            let mut blocks = Vec::with_capacity(parts.len());
            for (j, part) in parts.iter().enumerate() {
                let at = format!("{at}.content[{j}]");
                match part_type(part) {
                    Some("text") | Some("refusal") => {
                        let key = if part_type(part) == Some("refusal") {
                            "refusal"
                        } else {
                            "text"
                        };
                        let text = part
                            .get(key)
                            .and_then(Value::as_str)
                            .ok_or_else(|| translate(format!("{at}.{key} must be a string")))?;
                        if !text.is_empty() {
                            blocks.push(json!({"type": "text", "text": text}));
                        }
                    }
                    Some("image_url") => {
                        let url = part
                            .get("image_url")
                            .and_then(|i| i.get("url").or(Some(i)))
                            .and_then(Value::as_str)
                            .ok_or_else(|| {
                                translate(format!("{at}.image_url.url must be a string"))
                            })?;
                        blocks.push(image_block(url, &at)?);
                    }
                    other => {
                        return Err(translate(format!(
                            "{at}: a content part of type {} has no Anthropic equivalent",
                            other.unwrap_or("(none)")
                        )));
                    }
                }
            }
            Ok(blocks)
        }
        Some(_) => Err(translate(format!(
            "{at}.content must be a string or an array"
        ))),
    }
}

/// An image block from a `data:` URL (base64 source) or an http(s) URL (url source).
pub(crate) fn image_block(url: &str, at: &str) -> Result<Value, ProviderError> {
    if let Some(rest) = url.strip_prefix("data:") {
        let (meta, data) = rest
            .split_once(',')
            .ok_or_else(|| translate(format!("{at}: the image data URL has no data")))?;
        let media_type = meta
            .strip_suffix(";base64")
            .filter(|m| !m.is_empty())
            .ok_or_else(|| {
                translate(format!(
                    "{at}: an image data URL must be data:<media type>;base64,<data>"
                ))
            })?;
        return Ok(json!({
            "type": "image",
            "source": {"type": "base64", "media_type": media_type, "data": data},
        }));
    }
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        return Ok(json!({"type": "image", "source": {"type": "url", "url": url}}));
    }
    Err(translate(format!(
        "{at}: an image URL must be a data: URL or an http(s) URL"
    )))
}

/// `tool_use` blocks from an assistant message's `tool_calls`.
fn tool_use_blocks(calls: &Value, at: &str) -> Result<Vec<Value>, ProviderError> {
    let calls = calls
        .as_array()
        .ok_or_else(|| translate(format!("{at}.tool_calls must be an array")))?;
    calls
        .iter()
        .enumerate()
        .map(|(j, call)| {
            let at = format!("{at}.tool_calls[{j}]");
            if let Some(kind) = call
                .get("type")
                .and_then(Value::as_str)
                .filter(|t| *t != "function")
            {
                return Err(translate(format!(
                    "{at}: a tool call of type {kind} has no Anthropic equivalent"
                )));
            }
            let id = call
                .get("id")
                .and_then(Value::as_str)
                .ok_or_else(|| translate(format!("{at}.id must be a string")))?;
            let function = call.get("function");
            let name = function
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .ok_or_else(|| translate(format!("{at}.function.name must be a string")))?;
            let arguments = function
                .and_then(|f| f.get("arguments"))
                .and_then(Value::as_str)
                .unwrap_or("");
            let input = parse_arguments(arguments, &at)?;
            Ok(json!({"type": "tool_use", "id": id, "name": name, "input": input}))
        })
        .collect()
}

/// A tool call's arguments text as the JSON object Anthropic wants; empty text is `{}`.
pub(crate) fn parse_arguments(arguments: &str, at: &str) -> Result<Value, ProviderError> {
    if arguments.trim().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    let input: Value = serde_json::from_str(arguments)
        .map_err(|e| translate(format!("{at}.function.arguments is not valid JSON: {e}")))?;
    if !input.is_object() {
        return Err(translate(format!(
            "{at}.function.arguments must be a JSON object"
        )));
    }
    Ok(input)
}

/// A `tool` message as a `tool_result` block.
fn tool_result_block(
    message: &Value,
    content: Option<&Value>,
    at: &str,
) -> Result<Value, ProviderError> {
    let id = message
        .get("tool_call_id")
        .and_then(Value::as_str)
        .ok_or_else(|| translate(format!("{at}.tool_call_id must be a string")))?;
    let mut block = json!({"type": "tool_result", "tool_use_id": id});
    match content {
        Some(Value::String(text)) if !text.is_empty() => {
            block["content"] = Value::from(text.as_str())
        }
        Some(Value::Array(_)) => {
            let blocks = content_blocks(content, at)?;
            if !blocks.is_empty() {
                block["content"] = Value::Array(blocks);
            }
        }
        None | Some(Value::String(_)) => {}
        Some(_) => {
            return Err(translate(format!(
                "{at}.content must be a string or an array"
            )));
        }
    }
    Ok(block)
}

fn stop_sequences(stop: &Value) -> Result<Vec<Value>, ProviderError> {
    match stop {
        Value::String(s) => Ok(vec![Value::from(s.as_str())]),
        Value::Array(items) if items.iter().all(Value::is_string) => Ok(items.clone()),
        _ => Err(translate("stop must be a string or an array of strings")),
    }
}

/// OpenAI function tools as Anthropic tools: `{name, description, input_schema}`.
fn translate_tools(tools: &Value) -> Result<Vec<Value>, ProviderError> {
    let tools = tools
        .as_array()
        .ok_or_else(|| translate("tools must be an array"))?;
    tools
        .iter()
        .enumerate()
        .map(|(i, tool)| {
            let at = format!("tools[{i}]");
            match tool.get("type").and_then(Value::as_str) {
                Some("function") | None => {}
                Some(other) => {
                    return Err(translate(format!(
                        "{at}: a tool of type {other} has no Anthropic equivalent"
                    )));
                }
            }
            let function = tool
                .get("function")
                .ok_or_else(|| translate(format!("{at}.function is missing")))?;
            let name = function
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| translate(format!("{at}.function.name must be a string")))?;
            let mut out = Map::new();
            out.insert("name".to_owned(), Value::from(name));
            if let Some(description) = function.get("description").filter(|d| !d.is_null()) {
                out.insert("description".to_owned(), description.clone());
            }
            let schema = function
                .get("parameters")
                .filter(|p| !p.is_null())
                .cloned()
                .unwrap_or_else(|| json!({"type": "object", "properties": {}}));
            out.insert("input_schema".to_owned(), schema);
            Ok(Value::Object(out))
        })
        .collect()
}

/// OpenAI `tool_choice` as Anthropic's.
fn translate_tool_choice(choice: &Value) -> Result<Value, ProviderError> {
    match choice {
        Value::String(s) => match s.as_str() {
            "auto" => Ok(json!({"type": "auto"})),
            "none" => Ok(json!({"type": "none"})),
            "required" => Ok(json!({"type": "any"})),
            other => Err(translate(format!("tool_choice \"{other}\" is not known"))),
        },
        Value::Object(_) => {
            let name = choice
                .pointer("/function/name")
                .and_then(Value::as_str)
                .filter(|_| choice.get("type").and_then(Value::as_str) == Some("function"))
                .ok_or_else(|| {
                    translate("tool_choice must be auto, none, required or {type: function, function: {name}}")
                })?;
            Ok(json!({"type": "tool", "name": name}))
        }
        _ => Err(translate("tool_choice must be a string or an object")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => panic!("not an object"),
        }
    }

    fn translate_ok(value: Value) -> Value {
        to_messages_request(&body(value), "claude-x", false, None).unwrap()
    }

    #[test]
    fn system_and_developer_are_hoisted_and_users_merged() {
        let out = translate_ok(json!({"messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Be kind."}]},
            {"role": "user", "content": "Hi"},
            {"role": "user", "content": [{"type": "text", "text": "there"}]},
            {"role": "assistant", "content": "Hello"},
        ]}));
        assert_eq!(out["system"], "Be brief.\n\nBe kind.");
        assert_eq!(out["model"], "claude-x");
        assert_eq!(out["max_tokens"], 4096);
        assert_eq!(out["stream"], false);
        assert_eq!(
            out["messages"],
            json!([
                {"role": "user", "content": [{"type": "text", "text": "Hi"}, {"type": "text", "text": "there"}]},
                {"role": "assistant", "content": [{"type": "text", "text": "Hello"}]},
            ])
        );
    }

    #[test]
    fn tool_calls_and_results_become_blocks() {
        let out = translate_ok(json!({"messages": [
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "call_2", "type": "function", "function": {"name": "time", "arguments": ""}},
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
            {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "noon"}]},
            {"role": "user", "content": "Thanks"},
        ]}));
        assert_eq!(
            out["messages"],
            json!([
                {"role": "user", "content": [{"type": "text", "text": "Weather?"}]},
                {"role": "assistant", "content": [
                    {"type": "tool_use", "id": "call_1", "name": "weather", "input": {"city": "Paris"}},
                    {"type": "tool_use", "id": "call_2", "name": "time", "input": {}},
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"},
                    {"type": "tool_result", "tool_use_id": "call_2", "content": [{"type": "text", "text": "noon"}]},
                    {"type": "text", "text": "Thanks"},
                ]},
            ])
        );
    }

    #[test]
    fn bad_arguments_are_a_translate_error() {
        let err = to_messages_request(
            &body(json!({"messages": [{"role": "assistant", "tool_calls": [
                {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{oops"}}
            ]}]})),
            "m",
            false,
            None,
        )
        .unwrap_err();
        assert!(matches!(err, ProviderError::Translate { .. }), "{err}");
        assert!(
            err.to_string().contains("messages[0].tool_calls[0]"),
            "{err}"
        );
    }

    #[test]
    fn images_become_image_blocks() {
        let out = translate_ok(json!({"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "low"}},
        ]}]}));
        assert_eq!(
            out["messages"][0]["content"],
            json!([
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
            ])
        );
        assert!(image_block("ftp://x/y.png", "at").is_err());
        assert!(image_block("data:image/png,rawbytes", "at").is_err());
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
    fn tool_choice_strings() {
        for (openai, anthropic) in [("auto", "auto"), ("none", "none"), ("required", "any")] {
            assert_eq!(
                translate_tool_choice(&json!(openai)).unwrap(),
                json!({"type": anthropic})
            );
        }
        assert!(translate_tool_choice(&json!("sometimes")).is_err());
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

    #[test]
    fn unknown_roles_and_parts_are_refused() {
        for messages in [
            json!([{"role": "function", "name": "f", "content": "x"}]),
            json!([{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]),
        ] {
            let err = to_messages_request(&body(json!({"messages": messages})), "m", false, None)
                .unwrap_err();
            assert!(matches!(err, ProviderError::Translate { .. }));
        }
    }
}
