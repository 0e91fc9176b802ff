//! The OpenAI conversation as Anthropic's: system and developer messages hoisted into `system`,
//! alternating user/assistant turns, tool calls as `tool_use` blocks and tool messages as
//! `tool_result` blocks.

use serde_json::{Map, Value, json};

use super::content::{content_blocks, plain_text};
use super::translate;
use crate::error::ProviderError;

/// The system text pieces and the alternating user/assistant messages.
pub(super) fn conversation(
    messages: Option<&Value>,
) -> Result<(Vec<String>, Vec<Value>), ProviderError> {
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
fn parse_arguments(arguments: &str, at: &str) -> Result<Value, ProviderError> {
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

#[cfg(test)]
mod tests {
    use super::super::tests::{body, translate_ok};
    use super::super::to_messages_request;
    use super::*;

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
