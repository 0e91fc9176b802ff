//! `GET /api/stats?window=15m`: the live counters of the console, from the store, so they are
//! the whole fleet's (every gateway's records), not the one gateway the browser talks to.
//!
//! The window's records are walked newest first (at most [`MAX_RECORDS`] of them, then the
//! answer says `"truncated": true`), reading only the fields the counters need.

use std::time::Duration;

use http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use switchboard_gateway::http::json::json_response;
use switchboard_store::{Filter, Order, StoreError};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::ApiError;
use crate::{LogsApi, Reply};

/// Records read at most per answer.
pub const MAX_RECORDS: usize = 200_000;
/// The longest window.
const MAX_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// The fields of a record the counters read.
#[derive(Deserialize)]
struct Seen {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    time_to_first_token: Option<f64>,
    #[serde(default)]
    retries: Option<u64>,
    #[serde(default)]
    fallback_used: Option<bool>,
    #[serde(default)]
    json_valid: Option<bool>,
    #[serde(default)]
    attempts: Option<Vec<SeenAttempt>>,
}

#[derive(Deserialize)]
struct SeenAttempt {
    #[serde(default)]
    error_kind: Option<String>,
}

/// The counters of one window.
#[derive(Default)]
struct Counters {
    requests: u64,
    errors: u64,
    retries: u64,
    fallbacks: u64,
    stream_timeouts: u64,
    invalid_json: u64,
    ttft: Vec<f64>,
    truncated: bool,
}

impl Counters {
    fn add(&mut self, record: Seen) {
        self.requests += 1;
        self.errors += u64::from(record.status.as_deref() == Some("error"));
        self.retries += record.retries.unwrap_or(0);
        self.fallbacks += u64::from(record.fallback_used == Some(true));
        self.invalid_json += u64::from(record.json_valid == Some(false));
        let timed_out = record.attempts.iter().flatten().any(|a| {
            matches!(
                a.error_kind.as_deref(),
                Some("first_token_timeout" | "stall")
            )
        });
        self.stream_timeouts += u64::from(timed_out);
        if let Some(ttft) = record.time_to_first_token.filter(|t| t.is_finite()) {
            self.ttft.push(ttft);
        }
    }

    fn percentile(&self, p: f64) -> Option<f64> {
        if self.ttft.is_empty() {
            return None;
        }
        let mut sorted = self.ttft.clone();
        sorted.sort_by(f64::total_cmp);
        // Nearest rank.
        let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted.get(rank - 1).copied()
    }
}

/// Reads `15m`, `1h`, `90s`.
fn window(pairs: &[(String, String)]) -> Result<Duration, ApiError> {
    let Some((_, text)) = pairs.iter().find(|(k, _)| k == "window") else {
        return Ok(Duration::from_secs(15 * 60));
    };
    let bad = || {
        ApiError::InvalidRequest(format!(
            "`window` must be a number with s, m or h (e.g. 15m), at most 24h, not {text:?}"
        ))
    };
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let n: u64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        _ => return Err(bad()),
    };
    let window = Duration::from_secs(seconds);
    if seconds == 0 || window > MAX_WINDOW {
        return Err(bad());
    }
    Ok(window)
}

/// `{"window_s", "from", "requests", "errors", "ttft_p50", "ttft_p99", "retries", "fallbacks",
/// "stream_timeouts", "invalid_json", "truncated"}`.
pub async fn get(api: &LogsApi, pairs: &[(String, String)]) -> Reply {
    let window = window(pairs)?;
    let from = OffsetDateTime::now_utc() - window;
    let from_text = from
        .format(&Rfc3339)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let filter_from = from_text.clone();
    let counters = api
        .store
        .run(move |store| {
            let filter = Filter::from_pairs([("from", filter_from.as_str())])?;
            let mut counters = Counters::default();
            let walked = store.for_each(&filter, Order::NewestFirst, None, &mut |text, _| {
                if counters.requests as usize >= MAX_RECORDS {
                    counters.truncated = true;
                    return Err(StoreError::Aborted("enough records".into()));
                }
                if let Ok(seen) = serde_json::from_str::<Seen>(text) {
                    counters.add(seen);
                }
                Ok(())
            });
            match walked {
                Ok(()) | Err(StoreError::Aborted(_)) => Ok(counters),
                Err(e) => Err(e),
            }
        })
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "window_s": window.as_secs(),
            "from": from_text,
            "requests": counters.requests,
            "errors": counters.errors,
            "ttft_p50": counters.percentile(0.5),
            "ttft_p99": counters.percentile(0.99),
            "retries": counters.retries,
            "fallbacks": counters.fallbacks,
            "stream_timeouts": counters.stream_timeouts,
            "invalid_json": counters.invalid_json,
            "truncated": counters.truncated,
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_windows_and_refuses_the_rest() {
        let w = |text: &str| window(&[("window".to_owned(), text.to_owned())]).ok();
        assert_eq!(w("15m"), Some(Duration::from_secs(900)));
        assert_eq!(w("90s"), Some(Duration::from_secs(90)));
        assert_eq!(w("24h"), Some(Duration::from_secs(86_400)));
        for bad in ["", "0m", "25h", "15", "m", "1.5h", "-3m"] {
            assert_eq!(w(bad), None, "{bad}");
        }
        assert_eq!(window(&[]).ok(), Some(Duration::from_secs(900)));
    }

    #[test]
    fn nearest_rank_percentiles() {
        let mut counters = Counters::default();
        assert_eq!(counters.percentile(0.5), None);
        counters.ttft = (1..=100).map(f64::from).collect();
        assert_eq!(counters.percentile(0.5), Some(50.0));
        assert_eq!(counters.percentile(0.99), Some(99.0));
    }
}
