//! [`GatewayError`]: why the proxy answered a client with an error, in OpenAI's error shape.

use http::StatusCode;
use switchboard_config::ErrorKind;

use crate::http::body::ResponseBody;
use crate::http::json::{error_body, json_response};

/// Why a request was answered with an error.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The body is not JSON, or a field has the wrong type.
    #[error("{0}")]
    InvalidRequest(String),
    /// `model` names nothing configured.
    #[error(
        "The model `{0}` does not exist: it is neither configured under [models] nor written provider/model with a configured provider"
    )]
    ModelNotFound(String),
    /// Missing or wrong API key.
    #[error(
        "Invalid or missing API key: send `Authorization: Bearer <key>` with a key from server.api_keys"
    )]
    Unauthorized,
    /// The body is larger than `server.max_body_bytes`.
    #[error("Request body is larger than the limit of {limit} bytes (server.max_body_bytes)")]
    BodyTooLarge {
        /// The limit.
        limit: usize,
    },
    /// No such route.
    #[error("No route for {method} {path}")]
    NotFound {
        /// The request method.
        method: String,
        /// The request path.
        path: String,
    },
    /// Every target failed (or one failed with a kind that is not retried).
    #[error("{message}")]
    Upstream {
        /// Status for the client.
        status: StatusCode,
        /// The last attempt's error kind.
        kind: ErrorKind,
        /// Each attempt and why it failed.
        message: String,
    },
    /// More chat requests are in flight than `server.max_concurrent_requests`.
    #[error(
        "The gateway is overloaded: {limit} requests are in flight (server.max_concurrent_requests); retry shortly"
    )]
    Overloaded {
        /// The limit.
        limit: usize,
    },
    /// The request body could not be read from the client.
    #[error("Could not read the request body: {0}")]
    BodyRead(String),
    /// `/api/*` without the admin key (`server.admin_key`).
    #[error(
        "Invalid or missing admin key: send `Authorization: Bearer <key>` with server.admin_key"
    )]
    AdminUnauthorized,
    /// `/api/*` from a non-loopback peer while no admin key is configured.
    #[error(
        "The logs API answers only on loopback while server.admin_key is not set; set it to call /api/* from elsewhere"
    )]
    AdminForbidden,
}

impl GatewayError {
    /// The HTTP status for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            GatewayError::InvalidRequest(_) | GatewayError::BodyRead(_) => StatusCode::BAD_REQUEST,
            GatewayError::ModelNotFound(_) | GatewayError::NotFound { .. } => StatusCode::NOT_FOUND,
            GatewayError::Unauthorized | GatewayError::AdminUnauthorized => {
                StatusCode::UNAUTHORIZED
            }
            GatewayError::AdminForbidden => StatusCode::FORBIDDEN,
            GatewayError::Overloaded { .. } => StatusCode::SERVICE_UNAVAILABLE,
            GatewayError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            GatewayError::Upstream { status, .. } => *status,
        }
    }

    fn error_type(&self) -> &'static str {
        match self {
            GatewayError::Unauthorized | GatewayError::AdminUnauthorized => "authentication_error",
            GatewayError::AdminForbidden => "permission_error",
            GatewayError::Overloaded { .. } => "overloaded_error",
            GatewayError::Upstream { .. } => "upstream_error",
            _ => "invalid_request_error",
        }
    }

    fn code(&self) -> Option<&'static str> {
        match self {
            GatewayError::ModelNotFound(_) => Some("model_not_found"),
            GatewayError::Unauthorized => Some("invalid_api_key"),
            GatewayError::BodyTooLarge { .. } => Some("request_too_large"),
            GatewayError::Upstream { kind, .. } => Some(kind.as_str()),
            GatewayError::NotFound { .. } => Some("unknown_url"),
            GatewayError::AdminUnauthorized => Some("invalid_admin_key"),
            GatewayError::AdminForbidden => Some("admin_key_required"),
            GatewayError::Overloaded { .. } => Some("overloaded"),
            GatewayError::InvalidRequest(_) | GatewayError::BodyRead(_) => None,
        }
    }

    /// `{"error": {"message", "type", "code"}}`.
    pub fn body(&self) -> serde_json::Value {
        error_body(&self.to_string(), self.error_type(), self.code())
    }

    /// A complete HTTP response for this error.
    pub fn response(&self) -> http::Response<ResponseBody> {
        let mut response = json_response(self.status(), &self.body());
        if let GatewayError::Overloaded { .. } = self {
            response.headers_mut().insert(
                http::header::RETRY_AFTER,
                http::HeaderValue::from_static("1"),
            );
        }
        response
    }
}
