//! `GET /v1/models`: the configured model names, in OpenAI's list shape.

use http::{Response, StatusCode};
use serde_json::json;

use crate::http::body::ResponseBody;
use crate::http::json::json_response;
use crate::state::AppState;

/// The configured models.
pub fn list(state: &AppState) -> Response<ResponseBody> {
    let data: Vec<_> = state
        .live()
        .routes
        .model_names()
        .iter()
        .map(|name| json!({"id": name, "object": "model", "created": 0, "owned_by": "switchboard"}))
        .collect();
    json_response(StatusCode::OK, &json!({"object": "list", "data": data}))
}
