//! `GET /v1/models`: the configured model names, in OpenAI's list shape.

use http::{HeaderValue, Response};
use serde_json::json;

use crate::body::{self, ResponseBody};
use crate::state::AppState;

/// The configured models.
pub fn list(state: &AppState) -> Response<ResponseBody> {
    let data: Vec<_> = state
        .routes
        .model_names()
        .iter()
        .map(|name| json!({"id": name, "object": "model", "created": 0, "owned_by": "switchboard"}))
        .collect();
    let body = json!({"object": "list", "data": data});
    let mut response = Response::new(body::full(body.to_string()));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
