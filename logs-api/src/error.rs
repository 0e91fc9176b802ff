//! [`ApiError`]: why the logs API answered with an error, in OpenAI's error shape.

use http::{Response, StatusCode};
use switchboard_gateway::GatewayError;
use switchboard_gateway::http::body::ResponseBody;
use switchboard_gateway::http::json::{error_body, json_response};

/// Why a logs API request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A bad parameter, filter, cursor, score or body (400).
    #[error("{0}")]
    InvalidRequest(String),
    /// The body could not be read, was too large, or the path names nothing: answered as the
    /// proxy answers the same mistakes.
    #[error(transparent)]
    Request(#[from] GatewayError),
    /// A log, thread or trace that does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// The logs API failed on its side, e.g. the store could not be read (500).
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Request(e) => e.status(),
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A complete HTTP response for this error.
    pub fn response(&self) -> Response<ResponseBody> {
        let (error_type, code) = match self {
            ApiError::Request(e) => return e.response(),
            ApiError::InvalidRequest(_) => ("invalid_request_error", None),
            ApiError::NotFound(_) => ("invalid_request_error", Some("not_found")),
            ApiError::Internal(_) => ("server_error", Some("internal_error")),
        };
        json_response(
            self.status(),
            &error_body(&self.to_string(), error_type, code),
        )
    }
}
