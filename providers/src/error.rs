//! The one error type of this crate: why an upstream call failed, classified into an
//! [`ErrorKind`] for the retry policy.

use std::time::Duration;

use switchboard_config::ErrorKind;

impl From<std::io::Error> for ProviderError {
    fn from(error: std::io::Error) -> ProviderError {
        ProviderError::stream_broke(error)
    }
}

/// Why one upstream call failed. Messages never contain credentials.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProviderError {
    /// No response: connection refused, DNS, TLS, or the connection broke before the head.
    #[error("connection failed: {message}")]
    Connect {
        /// What the HTTP client said.
        message: String,
    },
    /// The provider answered with an error status.
    #[error("HTTP {status}: {message}")]
    Status {
        /// The upstream status code.
        status: u16,
        /// The provider's error message (trimmed).
        message: String,
        /// The provider's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
        /// What the provider's error code or message says beyond the status (a prompt too
        /// long, a content filter), when it says so.
        kind: Option<ErrorKind>,
    },
    /// The provider sent an error event in the middle of a stream.
    #[error("error event mid-stream: {message}")]
    StreamError {
        /// The provider's error message.
        message: String,
        /// The kind it maps to (an overloaded provider is 5xx, a rate limit 429).
        kind: ErrorKind,
    },
    /// The stream ended or broke before it finished.
    #[error("stream cut: {message}")]
    StreamCut {
        /// What happened.
        message: String,
    },
    /// The provider's answer could not be read (not JSON, not the expected shape).
    #[error("malformed response: {message}")]
    Malformed {
        /// What was wrong.
        message: String,
    },
    /// One stream event could not be read (not JSON, or not the shape of its type). The
    /// stream decoders skip such events rather than fail the stream with them.
    #[error("unreadable stream event: {message}")]
    UnreadableEvent {
        /// What was wrong.
        message: String,
    },
    /// The answer, an error body or one SSE event passed `server.max_upstream_body_bytes`.
    #[error(
        "the upstream answer is larger than server.max_upstream_body_bytes ({limit} bytes); it was not read further"
    )]
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The request cannot be sent to this provider as it is.
    #[error("cannot translate the request: {message}")]
    Translate {
        /// What could not be translated.
        message: String,
    },
}

impl ProviderError {
    /// The upstream stream ended cleanly but before its end marker (`[DONE]`, `message_stop`).
    pub fn closed_before(marker: &str) -> ProviderError {
        ProviderError::StreamCut {
            message: format!("upstream closed the stream before {marker}"),
        }
    }

    /// The upstream stream broke at the transport level.
    pub fn stream_broke(error: impl std::fmt::Display) -> ProviderError {
        ProviderError::StreamCut {
            message: format!("upstream stream broke: {error}"),
        }
    }

    /// The error kind the retry policy, metrics and the record use.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ProviderError::Connect { .. } | ProviderError::StreamCut { .. } => ErrorKind::Connect,
            ProviderError::Status { status, kind, .. } => kind
                .or_else(|| ErrorKind::from_status(*status))
                .unwrap_or(ErrorKind::ServerError),
            ProviderError::StreamError { kind, .. } => *kind,
            ProviderError::Malformed { .. }
            | ProviderError::UnreadableEvent { .. }
            | ProviderError::TooLarge { .. } => ErrorKind::ServerError,
            ProviderError::Translate { .. } => ErrorKind::ClientError,
        }
    }

    /// The upstream HTTP status, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            ProviderError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// How long the provider asked us to wait before trying again.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ProviderError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}
