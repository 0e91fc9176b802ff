//! Time conversions: the store keeps instants as unix microseconds (sortable integers).

use serde_json::Value;
use time::format_description::well_known::{Iso8601, Rfc3339};
use time::{OffsetDateTime, PrimitiveDateTime};

/// Parses a strict RFC3339 timestamp into unix microseconds.
pub(crate) fn rfc3339_micros(text: &str) -> Option<i64> {
    OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .and_then(|t| i64::try_from(t.unix_timestamp_nanos() / 1_000).ok())
}

/// Reads a record's time field leniently: RFC3339, an ISO 8601 date-time without offset (taken
/// as UTC), or a number of unix seconds. `None` when absent or unreadable.
pub(crate) fn lenient_micros(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::String(text) => rfc3339_micros(text).or_else(|| {
            PrimitiveDateTime::parse(text, &Iso8601::DEFAULT)
                .ok()
                .and_then(|t| i64::try_from(t.assume_utc().unix_timestamp_nanos() / 1_000).ok())
        }),
        Value::Number(n) => {
            let seconds = n.as_f64()?;
            let micros = (seconds * 1_000_000.0).round();
            (micros.is_finite() && micros.abs() < i64::MAX as f64).then_some(micros as i64)
        }
        _ => None,
    }
}

/// The current time in unix microseconds.
pub(crate) fn now_micros() -> i64 {
    i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}

/// Formats unix microseconds as RFC3339 (UTC); `None` if out of range.
pub(crate) fn micros_to_rfc3339(micros: i64) -> Option<String> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_forms_records_use() {
        let expected = 1_735_689_600_123_456;
        assert_eq!(
            rfc3339_micros("2025-01-01T00:00:00.123456Z"),
            Some(expected)
        );
        assert_eq!(
            lenient_micros(Some(&json!("2025-01-01T01:00:00.123456+01:00"))),
            Some(expected)
        );
        assert_eq!(
            lenient_micros(Some(&json!("2025-01-01T00:00:00.123456"))),
            Some(expected)
        );
        assert_eq!(
            lenient_micros(Some(&json!(1_735_689_600.123_456))),
            Some(expected)
        );
        assert_eq!(lenient_micros(Some(&json!("yesterday"))), None);
        assert_eq!(lenient_micros(Some(&Value::Null)), None);
        assert_eq!(lenient_micros(None), None);
        assert_eq!(
            micros_to_rfc3339(expected).as_deref(),
            Some("2025-01-01T00:00:00.123456Z")
        );
    }
}
