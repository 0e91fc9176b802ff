//! `GET /api/threads/{thread_identifier}`: the whole conversation (e.g. one phone call), oldest
//! first, each record with its place and timing in the call.

use http::StatusCode;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use switchboard_gateway::http::json::json_response;

use crate::error::ApiError;
use crate::{LogsApi, Reply};

/// `{"thread_identifier", "turns", "duration", "data": [record + timing, ...]}`; 404 when the
/// thread has no logs.
pub async fn get(api: &LogsApi, thread: &str) -> Reply {
    let key = thread.to_owned();
    let records = api.store.run(move |store| store.thread(&key)).await?;
    if records.is_empty() {
        return Err(ApiError::NotFound(format!("thread {thread} has no logs")));
    }
    let (data, duration) = with_timing(records);
    Ok(json_response(
        StatusCode::OK,
        &json!({"thread_identifier": thread, "turns": data.len(), "duration": duration, "data": data}),
    ))
}

/// Adds to each record (oldest first): `turn` (0, 1, ...), `since_thread_start` (seconds from
/// the first turn's start to this one's) and `gap_since_previous` (seconds from the previous
/// turn's end to this one's start: negative when they overlap, null for the first turn). Times
/// that cannot be read give nulls. Also returns the thread's `duration` (first start to last end).
pub fn with_timing(records: Vec<Value>) -> (Vec<Value>, Option<f64>) {
    let first_start = records.first().and_then(|r| instant(r, "start_time"));
    let mut previous_end: Option<OffsetDateTime> = None;
    let mut last_end: Option<OffsetDateTime> = None;
    let mut data = Vec::with_capacity(records.len());
    for (turn, mut record) in records.into_iter().enumerate() {
        let start = instant(&record, "start_time");
        let end = instant(&record, "timestamp");
        let seconds = |from: Option<OffsetDateTime>, to: Option<OffsetDateTime>| {
            Some((to? - from?).as_seconds_f64())
        };
        let since_start = seconds(first_start, start);
        let gap = seconds(previous_end, start);
        if let Value::Object(fields) = &mut record {
            fields.insert("turn".into(), json!(turn));
            fields.insert("since_thread_start".into(), json!(since_start));
            fields.insert("gap_since_previous".into(), json!(gap));
        }
        previous_end = end.or(start);
        last_end = match (last_end, previous_end) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        data.push(record);
    }
    let duration = first_start
        .zip(last_end)
        .map(|(a, b)| (b - a).as_seconds_f64());
    (data, duration)
}

/// A record's time field: RFC3339 text or unix seconds.
fn instant(record: &Value, field: &str) -> Option<OffsetDateTime> {
    match record.get(field)? {
        Value::String(text) => OffsetDateTime::parse(text, &Rfc3339).ok(),
        Value::Number(n) => {
            OffsetDateTime::from_unix_timestamp_nanos((n.as_f64()? * 1e9) as i128).ok()
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turns_are_numbered_and_gaps_measured_from_the_previous_end() {
        let records = vec![
            json!({"id": "a", "start_time": "2026-01-01T00:00:00Z", "timestamp": "2026-01-01T00:00:01.5Z"}),
            json!({"id": "b", "start_time": "2026-01-01T00:00:04Z", "timestamp": "2026-01-01T00:00:05Z"}),
            json!({"id": "c", "start_time": "2026-01-01T00:00:04.5Z", "timestamp": "2026-01-01T00:00:09Z"}),
            json!({"id": "d"}),
        ];
        let (data, duration) = with_timing(records);
        assert_eq!(data[0]["turn"], 0);
        assert_eq!(data[0]["gap_since_previous"], Value::Null);
        assert_eq!(data[1]["gap_since_previous"], 2.5);
        assert_eq!(data[1]["since_thread_start"], 4.0);
        assert_eq!(data[2]["gap_since_previous"], -0.5);
        assert_eq!(data[3]["turn"], 3);
        assert_eq!(data[3]["gap_since_previous"], Value::Null);
        assert_eq!(duration, Some(9.0));
    }
}
