//! The log record of SPEC section 4 and what comes with it: one record per request, its
//! attempts, how it ended, token counts, and the [`LogSink`] that takes finished records.
//! The proxy builds records, ingest parses them, the sink and consumer carry them, the store
//! keeps them: this crate is the language they share.

mod json_body;
mod json_type;
mod log_record;
mod sink;
mod time_format;
mod usage;

pub use json_body::JsonBody;
pub use json_type::json_type;
pub use log_record::{AttemptRecord, LogRecord, RequestStatus, SkippedTarget};
pub use sink::LogSink;
/// Why an attempt failed (SPEC section 4 `error_kind`); defined with the config, whose
/// `retry_on` names the same kinds.
pub use switchboard_config::ErrorKind;
pub use time_format::rfc3339;
pub use usage::Usage;
