//! What can stop span export from starting.

/// The error of this crate.
#[derive(Debug, thiserror::Error)]
pub enum OtelError {
    /// `[otel] endpoint` is not a URL the exporter can use.
    #[error("otel.endpoint: {0}")]
    Endpoint(String),
    /// The OTLP exporter could not be built.
    #[error("cannot build the OTLP exporter: {0}")]
    Exporter(String),
    /// The export thread could not start.
    #[error("cannot start the span export thread: {0}")]
    Thread(#[source] std::io::Error),
}
