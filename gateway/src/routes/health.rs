//! `/healthz`, `/readyz` and `/metrics`.

use http::{HeaderValue, Response, StatusCode};
use serde_json::json;

use crate::http::body::{self, ResponseBody};
use crate::http::json::json_response;
use crate::state::AppState;

/// The process is alive.
pub fn alive() -> Response<ResponseBody> {
    json_response(StatusCode::OK, &json!({"status": "ok"}))
}

/// The config is loaded and the log sink can take records; 503 with `"draining": true` once a
/// shutdown began, so load balancers move new calls elsewhere.
pub fn ready(state: &AppState) -> Response<ResponseBody> {
    let log_sink = state.sink().state();
    let version = state.live.load().version;
    if state.draining() {
        return json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({"config": "loaded", "config_version": version, "log_sink": log_sink, "draining": true}),
        );
    }
    json_response(
        StatusCode::OK,
        &json!({"config": "loaded", "config_version": version, "log_sink": log_sink}),
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
