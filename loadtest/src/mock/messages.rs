//! `POST .../v1/messages`: Anthropic's Messages API. Checks the request the
//! way Anthropic does (so a bad translation is a loud 400), resolves the
//! script and answers with a message body or an event stream.

use std::sync::Arc;

use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use serde_json::Value;

use crate::mock::anthropic::{self, EventWriter};
use crate::mock::anthropic_stream::{self, MessagesJob};
use crate::mock::error_codes;
use crate::mock::prefill;
use crate::mock::router::{Shared, json_response, plan_for};
use crate::mock::script::Script;
use crate::mock::stream::{self, Body};

/// Answers one Messages API request whose parsed body is `body`.
pub(crate) async fn messages(
    shared: &Shared,
    headers: &HeaderMap,
    body: &Value,
    model: &str,
) -> Response<Body> {
    if let Err(message) = check(headers, body, model) {
        return invalid_request(&message);
    }
    let (name, _) = Script::split_model(model);
    let mut plan = match plan_for(shared, headers, model) {
        Ok(plan) => plan,
        Err(message) => return invalid_request(&message),
    };
    if let Some(status) = plan.fail {
        return failure(status, plan.retry_after, plan.error_code.as_deref());
    }
    if let Some(prefix) = prefill::trailing_assistant_text(body) {
        if plan.refuse_prefill {
            return invalid_request(
                "This model does not support assistant message prefill. The conversation must end with a user message.",
            );
        }
        plan.continue_after(&prefix);
    }

    let input_tokens = anthropic::input_tokens(body);
    let id = shared.journal.next_id();
    if body.get("stream").and_then(Value::as_bool) == Some(true) {
        let job = MessagesJob {
            writer: EventWriter::new(id, name),
            plan,
            input_tokens,
        };
        let mut response = Response::new(anthropic_stream::spawn(job, Arc::clone(&shared.journal)));
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream; charset=utf-8"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        return response;
    }

    stream::non_stream_delay(&plan).await;
    let bytes = anthropic::message_body(id, name, &plan.answer, input_tokens);
    if plan.drop_after.is_some() {
        let mut response = Response::new(stream::truncated(bytes));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        return response;
    }
    json_response(StatusCode::OK, bytes)
}

/// The checks Anthropic makes that a translation could get wrong.
fn check(headers: &HeaderMap, body: &Value, model: &str) -> Result<(), String> {
    if !body.is_object() {
        return Err("The request body is not valid JSON.".to_owned());
    }
    if !headers.contains_key("anthropic-version") {
        return Err("anthropic-version: header is required".to_owned());
    }
    if model.is_empty() {
        return Err("model: Field required".to_owned());
    }
    let max_tokens = body.get("max_tokens").and_then(Value::as_u64);
    if max_tokens.is_none_or(|n| n == 0) {
        return Err("max_tokens: Field required".to_owned());
    }
    let Some(messages) = body.get("messages").and_then(Value::as_array) else {
        return Err("messages: Field required".to_owned());
    };
    for (i, message) in messages.iter().enumerate() {
        match message.get("role").and_then(Value::as_str) {
            Some("user" | "assistant") => {}
            _ => {
                return Err(format!(
                    "messages.{i}.role: Input should be 'user' or 'assistant'"
                ));
            }
        }
        match message.get("content") {
            Some(Value::String(_) | Value::Array(_)) => {}
            _ => return Err(format!("messages.{i}.content: Field required")),
        }
    }
    Ok(())
}

fn failure(status: u16, retry_after: Option<u64>, error_code: Option<&str>) -> Response<Body> {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = json_response(
        code,
        anthropic::error_body(
            &error_codes::anthropic_message(status, error_code),
            anthropic::error_type(status),
        ),
    );
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

fn invalid_request(message: &str) -> Response<Body> {
    json_response(
        StatusCode::BAD_REQUEST,
        anthropic::error_body(message, "invalid_request_error"),
    )
}
