//! A record's start, end and latency, whichever of them it gave.

use time::{Duration, OffsetDateTime};

/// Fills in whichever of start, end and latency is missing.
pub(super) fn times(
    start: Option<OffsetDateTime>,
    end: Option<OffsetDateTime>,
    latency: Option<f64>,
    now: OffsetDateTime,
) -> Result<(OffsetDateTime, OffsetDateTime, f64), String> {
    // To the microsecond, so that 1.2 s is 1.2 s and not 1.199999999.
    let span = |seconds: f64| Duration::microseconds((seconds * 1e6).round() as i64);
    Ok(match (start, end, latency) {
        (Some(start), Some(end), latency) => {
            if end < start {
                return Err("`timestamp` (the end) is before `start_time`".to_owned());
            }
            (
                start,
                end,
                latency.unwrap_or((end - start).as_seconds_f64()),
            )
        }
        (Some(start), None, latency) => {
            let latency = latency.unwrap_or(0.0);
            (start, start + span(latency), latency)
        }
        (None, Some(end), latency) => {
            let latency = latency.unwrap_or(0.0);
            (end - span(latency), end, latency)
        }
        (None, None, latency) => {
            let latency = latency.unwrap_or(0.0);
            (now - span(latency), now, latency)
        }
    })
}
