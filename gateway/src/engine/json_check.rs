//! Structured-output checks: `response_format` (`json_object`, `json_schema`) and tool-call
//! arguments (must parse; checked against the tool's parameters when the tool is `strict`).

use std::collections::HashMap;

use serde_json::{Map, Value};

/// What a request's output must satisfy.
pub struct JsonCheck {
    format: Format,
    strict_tools: HashMap<String, jsonschema::Validator>,
}

enum Format {
    /// No JSON mode.
    Free,
    /// `json_object`: a JSON object.
    Object,
    /// `json_schema`: a JSON value valid against the schema (an object check when the schema
    /// could not be compiled).
    Schema(Option<Box<jsonschema::Validator>>),
}

impl JsonCheck {
    /// No checks: for a route with `validate_json` off, which never runs them (so its schemas
    /// are not compiled for nothing).
    pub fn none() -> JsonCheck {
        JsonCheck {
            format: Format::Free,
            strict_tools: HashMap::new(),
        }
    }

    /// Reads the checks a request asks for; problems with its schemas become warnings.
    pub fn from_request(body: &Map<String, Value>, warnings: &mut Vec<String>) -> JsonCheck {
        let format = match body
            .get("response_format")
            .and_then(|f| f.get("type"))
            .and_then(Value::as_str)
        {
            Some("json_object") => Format::Object,
            Some("json_schema") => {
                let schema = body
                    .get("response_format")
                    .and_then(|f| f.pointer("/json_schema/schema"));
                Format::Schema(
                    schema
                        .and_then(|s| compile(s, "response_format", warnings))
                        .map(Box::new),
                )
            }
            _ => Format::Free,
        };
        let mut strict_tools = HashMap::new();
        for tool in body
            .get("tools")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(function) = tool.get("function") else {
                continue;
            };
            let strict = function
                .get("strict")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let (Some(name), Some(parameters)) = (
                function.get("name").and_then(Value::as_str),
                function.get("parameters"),
            ) else {
                continue;
            };
            if strict
                && let Some(validator) = compile(parameters, &format!("tool {name}"), warnings)
            {
                strict_tools.insert(name.to_owned(), validator);
            }
        }
        JsonCheck {
            format,
            strict_tools,
        }
    }

    /// True when the request asked for JSON output (`response_format`).
    pub fn json_mode(&self) -> bool {
        !matches!(self.format, Format::Free)
    }

    /// Checks an assistant message's text and tool calls (`(name, arguments)` pairs).
    /// `Ok(None)`: nothing to check; `Ok(Some(()))`: checked and valid; `Err`: why not.
    pub fn check<'a>(
        &self,
        content: Option<&str>,
        tool_calls: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Option<()>, String> {
        let mut checked = false;
        let mut tools = tool_calls.into_iter().peekable();
        let has_tools = tools.peek().is_some();
        if !has_tools {
            match &self.format {
                Format::Free => {}
                Format::Object => {
                    checked = true;
                    let value = parse(content.unwrap_or(""), "the response")?;
                    if !value.is_object() {
                        return Err("the response is JSON but not an object".to_owned());
                    }
                }
                Format::Schema(validator) => {
                    checked = true;
                    let value = parse(content.unwrap_or(""), "the response")?;
                    match validator {
                        Some(v) => first_error(v, &value, "the response")?,
                        None if !value.is_object() => {
                            return Err("the response is JSON but not an object".to_owned());
                        }
                        None => {}
                    }
                }
            }
        }
        for (name, arguments) in tools {
            checked = true;
            let what = format!("the arguments of tool call `{name}`");
            let value = parse(arguments, &what)?;
            if let Some(validator) = self.strict_tools.get(name) {
                first_error(validator, &value, &what)?;
            }
        }
        Ok(checked.then_some(()))
    }
}

fn compile(
    schema: &Value,
    what: &str,
    warnings: &mut Vec<String>,
) -> Option<jsonschema::Validator> {
    match jsonschema::validator_for(schema) {
        Ok(validator) => Some(validator),
        Err(e) => {
            warnings.push(format!(
                "the JSON schema of {what} could not be compiled ({e}); only JSON syntax is checked"
            ));
            None
        }
    }
}

fn parse(text: &str, what: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| format!("{what} is not valid JSON: {e}"))
}

fn first_error(validator: &jsonschema::Validator, value: &Value, what: &str) -> Result<(), String> {
    match validator.iter_errors(value).next() {
        None => Ok(()),
        Some(error) => Err(format!(
            "{what} does not match the schema: {error} (at {})",
            error.instance_path()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check_of(body: Value) -> JsonCheck {
        JsonCheck::from_request(body.as_object().unwrap(), &mut Vec::new())
    }

    #[test]
    fn json_object_mode_wants_an_object() {
        let check = check_of(json!({"response_format": {"type": "json_object"}}));
        assert_eq!(check.check(Some(r#"{"a":1}"#), []), Ok(Some(())));
        assert!(check.check(Some(r#"{"a":"#), []).is_err());
        assert!(check.check(Some("[1]"), []).is_err());
    }

    #[test]
    fn json_schema_mode_validates_against_the_schema() {
        let check = check_of(
            json!({"response_format": {"type": "json_schema", "json_schema": {"name": "a",
            "schema": {"type": "object", "required": ["answer"], "properties": {"answer": {"type": "string"}}}}}}),
        );
        assert_eq!(check.check(Some(r#"{"answer":"yes"}"#), []), Ok(Some(())));
        let err = check.check(Some(r#"{"wrong":1}"#), []).unwrap_err();
        assert!(err.contains("answer"), "{err}");
    }

    #[test]
    fn free_text_is_not_checked_but_tool_arguments_are() {
        let check = check_of(
            json!({"tools": [{"type": "function", "function": {"name": "f", "strict": true,
            "parameters": {"type": "object", "required": ["city"]}}}]}),
        );
        assert_eq!(check.check(Some("hello"), []), Ok(None));
        assert_eq!(
            check.check(None, [("f", r#"{"city":"Paris"}"#)]),
            Ok(Some(()))
        );
        assert!(check.check(None, [("f", r#"{"town":"Paris"}"#)]).is_err());
        assert!(check.check(None, [("g", r#"{"x""#)]).is_err());
    }
}
