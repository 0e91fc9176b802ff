//! What the gateway tells operators: Prometheus metrics (the recorder, and per-target handles
//! resolved once), and the redaction that keeps secrets out of everything it emits.

pub mod metadata_labels;
pub mod metrics;
pub mod redact;
pub mod target_metrics;
