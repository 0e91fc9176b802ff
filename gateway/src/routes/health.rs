//! `/healthz`, `/readyz` and `/metrics`.

use http::{HeaderValue, Response};
use serde_json::json;

use crate::body::{self, ResponseBody};
use crate::state::AppState;

fn json_response(value: serde_json::Value, status: u16) -> Response<ResponseBody> {
    let mut response = Response::new(body::full(value.to_string()));
    *response.status_mut() = http::StatusCode::from_u16(status).unwrap_or_default();
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The process is alive.
pub fn alive() -> Response<ResponseBody> {
    json_response(json!({"status": "ok"}), 200)
}

/// The config is loaded and the log sink can take records.
pub fn ready(state: &AppState) -> Response<ResponseBody> {
    json_response(
        json!({"config": "loaded", "log_sink": state.sink.state()}),
        200,
    )
}

/// Prometheus text exposition.
pub fn metrics(state: &AppState) -> Response<ResponseBody> {
    let text = state
        .metrics
        .as_ref()
        .map(|h| h.render())
        .unwrap_or_default();
    let mut response = Response::new(body::full(text));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    response
}
