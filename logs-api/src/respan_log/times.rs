//! A record's start, end and latency, whichever of them it gave.

use time::{Duration, OffsetDateTime};

/// Fills in whichever of start, end and latency is missing. A latency that would put a time
/// outside what a record can hold is an error naming the field, not an overflow.
pub(super) fn times(
    start: Option<OffsetDateTime>,
    end: Option<OffsetDateTime>,
    latency: Option<f64>,
    now: OffsetDateTime,
) -> Result<(OffsetDateTime, OffsetDateTime, f64), String> {
    let out_of_range = || "`latency` (or `generation_time`) is out of range".to_owned();
    // To the microsecond, so that 1.2 s is 1.2 s and not 1.199999999.
    let span = |seconds: f64| -> Result<Duration, String> {
        let micros = (seconds * 1e6).round();
        if micros.is_finite() && micros.abs() < i64::MAX as f64 {
            Ok(Duration::microseconds(micros as i64))
        } else {
            Err(out_of_range())
        }
    };
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
            let end = start.checked_add(span(latency)?).ok_or_else(out_of_range)?;
            (start, end, latency)
        }
        (None, Some(end), latency) => {
            let latency = latency.unwrap_or(0.0);
            let start = end.checked_sub(span(latency)?).ok_or_else(out_of_range)?;
            (start, end, latency)
        }
        (None, None, latency) => {
            let latency = latency.unwrap_or(0.0);
            let start = now.checked_sub(span(latency)?).ok_or_else(out_of_range)?;
            (start, now, latency)
        }
    })
}
