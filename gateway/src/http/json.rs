//! JSON answers: one builder for every `application/json` response the gateway (and what it
//! mounts) sends.

use http::{HeaderValue, Response, StatusCode};
use serde_json::{Value, json};

use crate::http::body::{self, ResponseBody};

/// `value` as a JSON response with `status`.
pub fn json_response(status: StatusCode, value: &Value) -> Response<ResponseBody> {
    let mut response = Response::new(body::full(value.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// OpenAI's error shape: `{"error": {"message", "type", "code"}}`.
pub fn error_body(message: &str, error_type: &str, code: Option<&str>) -> Value {
    json!({"error": {"message": message, "type": error_type, "code": code}})
}
