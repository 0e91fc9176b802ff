//! The gateway's errors: [`GatewayError`] for what a client is answered (OpenAI's error shape),
//! [`LogError`] for the log pipeline and the consumer (never seen by a client).

use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use serde_json::json;
use switchboard_config::ErrorKind;

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
    /// A log (or thread, trace) that does not exist.
    #[error("{0}")]
    ResourceNotFound(String),
    /// The gateway failed on its side (e.g. the store could not be read).
    #[error("{0}")]
    Internal(String),
}

impl GatewayError {
    /// The HTTP status for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            GatewayError::InvalidRequest(_) | GatewayError::BodyRead(_) => StatusCode::BAD_REQUEST,
            GatewayError::ModelNotFound(_)
            | GatewayError::NotFound { .. }
            | GatewayError::ResourceNotFound(_) => StatusCode::NOT_FOUND,
            GatewayError::Unauthorized | GatewayError::AdminUnauthorized => {
                StatusCode::UNAUTHORIZED
            }
            GatewayError::AdminForbidden => StatusCode::FORBIDDEN,
            GatewayError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            GatewayError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            GatewayError::Upstream { status, .. } => *status,
        }
    }

    fn error_type(&self) -> &'static str {
        match self {
            GatewayError::Unauthorized | GatewayError::AdminUnauthorized => "authentication_error",
            GatewayError::AdminForbidden => "permission_error",
            GatewayError::Upstream { .. } => "upstream_error",
            GatewayError::Internal(_) => "server_error",
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
            GatewayError::ResourceNotFound(_) => Some("not_found"),
            GatewayError::Internal(_) => Some("internal_error"),
            GatewayError::InvalidRequest(_) | GatewayError::BodyRead(_) => None,
        }
    }

    /// `{"error": {"message", "type", "code"}}`.
    pub fn body(&self) -> serde_json::Value {
        json!({"error": {"message": self.to_string(), "type": self.error_type(), "code": self.code()}})
    }

    /// The body as JSON bytes.
    pub fn body_bytes(&self) -> Bytes {
        Bytes::from(self.body().to_string())
    }

    /// A complete HTTP response for this error.
    pub fn response(&self) -> http::Response<crate::body::ResponseBody> {
        let mut response = http::Response::new(crate::body::full(self.body_bytes()));
        *response.status_mut() = self.status();
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }
}

/// Why the log pipeline (writer, spool, consumer) could not do its work.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// Disk I/O on the spool failed.
    #[error("spool {path}: {source}")]
    Spool {
        /// The file or directory.
        path: std::path::PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Redis or the store could not be set up as the destination.
    #[error("{0}")]
    Destination(String),
    /// The writer thread could not be started.
    #[error("cannot start the log writer thread: {0}")]
    Thread(std::io::Error),
    /// `consume` needs a Redis stream to read.
    #[error(
        "logging.redis_url is not set: there is no stream to consume (the gateway writes straight into the store)"
    )]
    NoRedis,
    /// The store could not be opened.
    #[error("cannot open logging.store: {0}")]
    Store(String),
    /// The Redis URL is unusable.
    #[error("logging.redis_url: {0}")]
    Redis(String),
}
