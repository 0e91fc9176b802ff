//! Where finished records go. The request path hands a record over and never waits.

use crate::record::LogRecord;

/// Takes finished records. `submit` must not block or await: it is called on the request
/// path (and from `Drop` when a client goes away).
pub trait LogSink: Send + Sync + 'static {
    /// Hands one finished record over.
    fn submit(&self, record: LogRecord);

    /// Its state for `/readyz`: `redis`, `spooling` or `embedded`.
    fn state(&self) -> &'static str;
}

/// A sink that keeps nothing: each record is printed at debug level and dropped.
/// The stand-in until the Redis / embedded-store sink lands.
#[derive(Debug, Default)]
pub struct DebugSink;

impl LogSink for DebugSink {
    fn submit(&self, record: LogRecord) {
        if tracing::enabled!(tracing::Level::DEBUG) {
            match serde_json::to_string(&record) {
                Ok(json) => tracing::debug!(target: "switchboard::record", "{json}"),
                Err(e) => tracing::warn!("record {} could not be encoded: {e}", record.id),
            }
        }
    }

    fn state(&self) -> &'static str {
        "embedded"
    }
}
