//! The hand-over point for finished records.

use crate::LogRecord;

/// Takes finished records. `submit` must not block or await: it is called on the request
/// path (and from `Drop` when a client goes away).
pub trait LogSink: Send + Sync + 'static {
    /// Hands one finished record over.
    fn submit(&self, record: LogRecord);

    /// Its state for `/readyz`: `redis`, `spooling` or `embedded`.
    fn state(&self) -> &'static str;
}
