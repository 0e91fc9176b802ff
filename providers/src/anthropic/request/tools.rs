//! OpenAI tool definitions, `tool_choice` and `parallel_tool_calls` as Anthropic's `tools` and
//! `tool_choice`.

use serde_json::{Map, Value, json};

use super::{present, translate};
use crate::error::ProviderError;

/// The Anthropic `tools` (empty when the client sent none) and `tool_choice` for `body`. With
/// tools, `parallel_tool_calls: false` sets `disable_parallel_tool_use` on the choice (an `auto`
/// one if the client named none), except on a `none` choice.
pub(super) fn tools_and_choice(
    body: &Map<String, Value>,
) -> Result<(Vec<Value>, Option<Value>), ProviderError> {
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
    }
    Ok((tools, tool_choice))
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
}
