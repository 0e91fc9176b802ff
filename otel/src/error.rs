//! What can stop span export from starting.

/// The error of this crate.
#[derive(Debug, thiserror::Error)]
pub enum OtelError {
    /// `[otel] endpoint` is not a URL the exporter can use.
    #[error("otel.endpoint: {0}")]
    Endpoint(String),
    /// A `[otel] headers` entry is not a valid HTTP header (config validation says so first).
    #[error("otel.headers: \"{0}\" is not a valid HTTP header")]
    Header(String),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client for span export: {0}")]
    Client(String),
    /// The export thread could not start.
    #[error("cannot start the span export thread: {0}")]
    Thread(#[source] std::io::Error),
}
