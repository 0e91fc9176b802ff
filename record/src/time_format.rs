//! Record times as RFC 3339 text.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// `time` as RFC 3339 (`2026-12-01T20:30:00.123456Z`); empty for a year RFC 3339 cannot write.
pub fn rfc3339(time: OffsetDateTime) -> String {
    time.format(&Rfc3339).unwrap_or_default()
}
