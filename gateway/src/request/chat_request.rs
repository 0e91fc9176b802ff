//! Reading a client's `POST /v1/chat/completions` body: checked enough to route it, otherwise
//! kept field for field so unknown OpenAI fields pass through (a `serde_json::Map`, so in key
//! order, not the client's).

use http::HeaderMap;
use serde_json::Value;
use switchboard_providers::RequestBody;

use crate::http::error::GatewayError;
use switchboard_record::json_type;

use crate::request::identity::Identity;

/// A chat request, ready to route.
#[derive(Debug)]
pub struct ChatRequest {
    /// The body without Switchboard's fields (`messages` as the client's text).
    pub body: RequestBody,
    /// The `model` the client named.
    pub model: String,
    /// `stream: true`.
    pub stream: bool,
    /// The client asked for the usage chunk (`stream_options.include_usage`).
    pub include_usage: bool,
    /// Identity and metadata for the record.
    pub identity: Identity,
}

impl ChatRequest {
    /// Parses and checks `bytes`.
    pub fn parse(bytes: &[u8], headers: &HeaderMap) -> Result<ChatRequest, GatewayError> {
        let not_json =
            |e| GatewayError::InvalidRequest(format!("The request body is not valid JSON: {e}"));
        // One UTF-8 check of the whole body is cheaper than `from_slice`'s of every string.
        let text = switchboard_providers::json_text::json_text(bytes).map_err(not_json)?;
        if !text.trim_start().starts_with('{') {
            let value: Value = serde_json::from_str(text).map_err(not_json)?;
            return Err(GatewayError::InvalidRequest(format!(
                "The request body must be a JSON object, not {}",
                json_type(&value)
            )));
        }
        let RequestBody {
            fields: mut body,
            messages,
        } = serde_json::from_str(text).map_err(not_json)?;
        let model = match body.get("model") {
            Some(Value::String(m)) if !m.is_empty() => m.clone(),
            Some(Value::String(_)) | None | Some(Value::Null) => {
                return Err(GatewayError::InvalidRequest(
                    "Missing required parameter: `model`".to_owned(),
                ));
            }
            Some(other) => {
                return Err(GatewayError::InvalidRequest(format!(
                    "`model` must be a string, not {}",
                    json_type(other)
                )));
            }
        };
        // `messages` stays text; its first byte says whether it is an array.
        let messages = match messages {
            Some(raw) if raw.get().starts_with('[') => raw,
            Some(raw) if raw.get() != "null" => {
                let value: Value = serde_json::from_str(raw.get()).unwrap_or(Value::Null);
                return Err(GatewayError::InvalidRequest(format!(
                    "`messages` must be an array, not {}",
                    json_type(&value)
                )));
            }
            _ => {
                return Err(GatewayError::InvalidRequest(
                    "Missing required parameter: `messages`".to_owned(),
                ));
            }
        };
        let stream = match body.get("stream") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                return Err(GatewayError::InvalidRequest(format!(
                    "`stream` must be a boolean, not {}",
                    json_type(other)
                )));
            }
        };
        let include_usage = body
            .get("stream_options")
            .and_then(|o| o.get("include_usage"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let identity = Identity::take(&mut body, headers)?;
        Ok(ChatRequest {
            body: RequestBody {
                fields: body,
                messages: Some(messages),
            },
            model,
            stream,
            include_usage,
            identity,
        })
    }
}
