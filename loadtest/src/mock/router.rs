//! Request handling: journal the request, route it, resolve its script and
//! answer with a JSON body or an SSE stream.

use std::borrow::Cow;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use serde_json::Value;

use crate::mock::error_codes;
use crate::mock::journal::{Journal, ReceivedRequest};
use crate::mock::messages;
use crate::mock::openai::{self, ChunkWriter, Usage};
use crate::mock::prefill;
use crate::mock::script::{Plan, Script};
use crate::mock::stream::{self, Body, StreamJob};

/// Header carrying a script that overrides the model suffix.
pub const SCRIPT_HEADER: &str = "x-mock-script";

/// Largest request body the mock reads.
const MAX_BODY: usize = 32 * 1024 * 1024;

/// State shared by every connection of one mock server.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Script applied under every request's own directives.
    pub defaults: Script,
    /// Traffic record and counters.
    pub journal: Arc<Journal>,
}

/// Answers one request. Never fails: every problem becomes an HTTP error.
pub(crate) async fn handle<B>(
    shared: Arc<Shared>,
    req: Request<B>,
) -> Result<Response<Body>, Infallible>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let (parts, body) = req.into_parts();
    let bytes = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            return Ok(error(
                StatusCode::BAD_REQUEST,
                &format!("could not read request body: {e}"),
                "invalid_request_error",
            ));
        }
    };
    let json: Value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    };
    let model = json
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let path = parts.uri.path();
    if shared.journal.is_recording() {
        shared.journal.record(ReceivedRequest {
            path: path.to_owned(),
            uri: parts.uri.to_string(),
            headers: parts.headers.clone(),
            body: json.clone(),
            model: model.clone(),
        });
    }

    let response = if parts.method == Method::POST && path.ends_with("/chat/completions") {
        chat_completions(&shared, &parts.headers, &json, &model).await
    } else if parts.method == Method::POST && path.ends_with("/v1/messages") {
        messages::messages(&shared, &parts.headers, &json, &model).await
    } else if parts.method == Method::GET && path.ends_with("/models") {
        json_response(StatusCode::OK, openai::models_body())
    } else if parts.method == Method::POST && path == "/v1/traces" {
        // An OpenTelemetry collector that takes every OTLP/HTTP export (for benchmarks of
        // `[otel]`): the empty protobuf message is ExportTraceServiceResponse's success.
        let mut response = Response::new(stream::full(Bytes::new()));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-protobuf"),
        );
        response
    } else {
        error(
            StatusCode::NOT_FOUND,
            &format!("Unknown request URL: {} {}", parts.method, path),
            "invalid_request_error",
        )
    };
    Ok(response)
}

async fn chat_completions(
    shared: &Shared,
    headers: &http::HeaderMap,
    body: &Value,
    model: &str,
) -> Response<Body> {
    if !body.is_object() {
        return bad_request("We could not parse the JSON body of your request.");
    }
    if model.is_empty() {
        return bad_request("you must provide a model parameter");
    }
    let (name, _) = Script::split_model(model);
    let mut plan = match plan_for(shared, headers, model) {
        Ok(plan) => plan,
        Err(message) => return bad_request(&message),
    };

    if let Some(status) = plan.fail {
        return failure(status, plan.retry_after, plan.error_code.as_deref());
    }
    if let Some(prefix) = prefill::trailing_assistant_text(body) {
        if plan.refuse_prefill {
            return bad_request("This model does not support assistant message prefill.");
        }
        plan.continue_after(&prefix);
    }

    let streaming = body.get("stream").and_then(Value::as_bool) == Some(true);
    let usage = Usage {
        prompt: openai::prompt_tokens(body),
        completion: plan.answer.completion_tokens(),
    };
    let id = shared.journal.next_id();
    let created = unix_now();

    if streaming {
        let include_usage = body
            .pointer("/stream_options/include_usage")
            .and_then(Value::as_bool)
            == Some(true);
        let job = StreamJob {
            writer: ChunkWriter::new(id, created, name),
            plan,
            usage: include_usage.then_some(usage),
        };
        let body = stream::spawn(job, Arc::clone(&shared.journal));
        let mut response = Response::new(body);
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        return response;
    }

    stream::non_stream_delay(&plan).await;
    let bytes = openai::completion_body(id, created, name, &plan.answer, usage);
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

/// Resolves the script of a request for `model` (server defaults, the
/// model's `?` suffix, the `x-mock-script` header) and its `*_times` gates.
/// Errs with the message of a 400 answer.
pub(crate) fn plan_for(
    shared: &Shared,
    headers: &http::HeaderMap,
    model: &str,
) -> Result<Plan, String> {
    let (_, suffix) = Script::split_model(model);
    let header_script = match headers.get(SCRIPT_HEADER).map(HeaderValue::to_str) {
        None => None,
        Some(Ok(s)) => Some(s),
        Some(Err(_)) => return Err("x-mock-script header is not visible ASCII".to_owned()),
    };

    let mut script = Cow::Borrowed(&shared.defaults);
    for directives in [suffix, header_script].into_iter().flatten() {
        script
            .to_mut()
            .apply(directives)
            .map_err(|e| e.to_string())?;
    }
    let ordinal = if script.is_gated() {
        let key = match header_script {
            Some(h) => Cow::Owned(format!("{model}\n{h}")),
            None => Cow::Borrowed(model),
        };
        shared.journal.next_ordinal(&key)
    } else {
        1
    };
    Ok(script.plan(ordinal))
}

fn failure(status: u16, retry_after: Option<u64>, error_code: Option<&str>) -> Response<Body> {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let message = error_codes::openai_message(status, error_code);
    let mut response = json_response(
        code,
        openai::error_body_with_code(&message, openai::error_type(status), error_code),
    );
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

fn bad_request(message: &str) -> Response<Body> {
    error(StatusCode::BAD_REQUEST, message, "invalid_request_error")
}

fn error(status: StatusCode, message: &str, kind: &str) -> Response<Body> {
    json_response(status, openai::error_body(message, kind))
}

/// A JSON body with `status`.
pub(crate) fn json_response(status: StatusCode, bytes: Bytes) -> Response<Body> {
    let mut response = Response::new(stream::full(bytes));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
