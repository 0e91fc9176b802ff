//! What the gateway tells operators: Prometheus metrics, and the redaction that keeps secrets
//! out of everything it emits.

pub mod metrics;
pub mod redact;
