//! `/api/admin/*`: the on-call engineer's calls (SPEC section 9), behind the same admin guard
//! as the rest of `/api/*`.

use http::{Response, StatusCode};
use serde_json::json;

use crate::http::body::ResponseBody;
use crate::http::json::{error_body, json_response};
use crate::live::ReloadError;
use crate::state::AppState;

/// `POST /api/admin/reload`: re-reads the config file. 200 `{"reloaded": true,
/// "config_version", "warnings"}`; 400 with every problem when the file is refused (the
/// running config stays).
pub async fn reload(state: &AppState) -> Response<ResponseBody> {
    match state.reload().await {
        Ok(done) => json_response(
            StatusCode::OK,
            &json!({"reloaded": true, "config_version": done.version, "warnings": done.warnings}),
        ),
        Err(ReloadError::Config(e)) => {
            let mut body = error_body(
                &e.to_string(),
                "invalid_request_error",
                Some("invalid_config"),
            );
            body["problems"] = json!(e.lines());
            json_response(StatusCode::BAD_REQUEST, &body)
        }
        Err(e @ ReloadError::Providers(_)) => json_response(
            StatusCode::BAD_REQUEST,
            &error_body(
                &e.to_string(),
                "invalid_request_error",
                Some("invalid_config"),
            ),
        ),
        Err(e @ ReloadError::NoSource) => json_response(
            StatusCode::CONFLICT,
            &error_body(
                &e.to_string(),
                "invalid_request_error",
                Some("no_config_source"),
            ),
        ),
    }
}
