//! What a run measured, merged over workers, and its one-line JSON summary.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use crate::load::client::{ErrorKind, Exchange};
use crate::load::histogram::LatencyHistogram;

/// Counters and histograms of one worker, or of the whole run once merged.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Requests that completed OK.
    pub ok: u64,
    /// Failed requests by kind.
    pub errors: BTreeMap<ErrorKind, u64>,
    /// Start (or scheduled start) to last byte, OK requests only.
    pub latency: LatencyHistogram,
    /// Start (or scheduled start) to first content-bearing SSE event, OK streams only.
    pub ttft: LatencyHistogram,
    /// Open loop: how late each request was actually sent after its scheduled time.
    pub send_lag: LatencyHistogram,
    /// Response body bytes received.
    pub bytes: u64,
    /// When the last recorded request ended.
    pub last_end: Option<Instant>,
    /// The most requests in flight at once (set once for the whole run).
    pub max_inflight: usize,
}

impl Stats {
    /// Records one exchange that started (or was scheduled) at `start`.
    pub fn record(&mut self, start: Instant, exchange: &Exchange) {
        self.bytes += exchange.bytes;
        self.last_end = self.last_end.max(Some(exchange.end));
        match exchange.outcome {
            Ok(()) => {
                self.ok += 1;
                self.latency
                    .record(exchange.end.saturating_duration_since(start));
                if let Some(first) = exchange.first_content {
                    self.ttft.record(first.saturating_duration_since(start));
                }
            }
            Err(kind) => self.error(kind),
        }
    }

    /// Counts one failure of `kind`.
    pub fn error(&mut self, kind: ErrorKind) {
        *self.errors.entry(kind).or_default() += 1;
    }

    /// Failed requests, all kinds.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &Stats) {
        self.ok += other.ok;
        for (kind, n) in &other.errors {
            *self.errors.entry(*kind).or_default() += n;
        }
        self.latency.merge(&other.latency);
        self.ttft.merge(&other.ttft);
        self.send_lag.merge(&other.send_lag);
        self.bytes += other.bytes;
        self.last_end = self.last_end.max(other.last_end);
        self.max_inflight = self.max_inflight.max(other.max_inflight);
    }
}

/// Closed loop (fixed concurrency) or open loop (fixed arrival rate).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// N connections, each sending its next request when the previous one is done.
    Closed {
        /// Connections.
        concurrency: usize,
    },
    /// Requests scheduled at fixed intervals, latency measured from the scheduled time.
    Open {
        /// Requests per second.
        rate: f64,
        /// Connections available to carry them.
        connections: usize,
    },
}

/// A finished run.
#[derive(Debug, Clone)]
pub struct Report {
    /// Free text from `--label`.
    pub label: Option<String>,
    /// Free text from `--setting`.
    pub setting: Option<String>,
    /// The target URL as given.
    pub url: String,
    /// The model sent.
    pub model: String,
    /// How load was offered.
    pub mode: Mode,
    /// Streaming requests.
    pub stream: bool,
    /// Warm-up excluded from the figures.
    pub warmup: Duration,
    /// The measured window: end of warm-up to the end of the last recorded request.
    pub elapsed: Duration,
    /// What was measured.
    pub stats: Stats,
}

impl Report {
    /// OK responses per second over the measured window.
    pub fn rps(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.stats.ok as f64 / secs
        } else {
            0.0
        }
    }

    /// The one-line summary: `rps`, `ok`, `errors`, `error_kinds`, `lat_ms` and `ttft_ms`
    /// percentiles (`p50`, `p90`, `p99`, `p99.9`, `max`, `mean`; `null` when nothing was
    /// recorded), and for open loops `send_lag_ms`.
    pub fn to_json(&self) -> Value {
        let s = &self.stats;
        let kinds: Map<String, Value> = s
            .errors
            .iter()
            .map(|(kind, n)| (kind.to_string(), json!(n)))
            .collect();
        let (mode, concurrency, rate) = match self.mode {
            Mode::Closed { concurrency } => ("closed", concurrency, None),
            Mode::Open { rate, connections } => ("open", connections, Some(rate)),
        };
        let summary = |h: &LatencyHistogram| h.summary().map(|x| x.to_json());
        json!({
            "label": self.label,
            "setting": self.setting,
            "url": self.url,
            "model": self.model,
            "mode": mode,
            "stream": self.stream,
            "concurrency": concurrency,
            "rate": rate,
            "warmup_s": self.warmup.as_secs_f64(),
            "duration_s": (self.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
            "requests": s.ok + s.error_count(),
            "ok": s.ok,
            "errors": s.error_count(),
            "error_kinds": kinds,
            "rps": (self.rps() * 10.0).round() / 10.0,
            "lat_ms": summary(&s.latency),
            "ttft_ms": if self.stream { summary(&s.ttft) } else { None },
            "send_lag_ms": if rate.is_some() { summary(&s.send_lag) } else { None },
            "bytes_in": s.bytes,
            "max_inflight": s.max_inflight,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange(start: Instant, ms: u64, outcome: Result<(), ErrorKind>) -> Exchange {
        Exchange {
            outcome,
            first_content: Some(start + Duration::from_millis(ms / 2)),
            end: start + Duration::from_millis(ms),
            bytes: 10,
            reusable: true,
        }
    }

    #[test]
    fn summary_line_has_the_documented_fields() {
        let t0 = Instant::now();
        let mut a = Stats::default();
        let mut b = Stats::default();
        for ms in 1..=100 {
            a.record(t0, &exchange(t0, ms, Ok(())));
        }
        b.record(t0, &exchange(t0, 5, Err(ErrorKind::Status(503))));
        b.error(ErrorKind::Timeout);
        a.merge(&b);
        let report = Report {
            label: Some("direct".into()),
            setting: None,
            url: "http://127.0.0.1:1/v1".into(),
            model: "m".into(),
            mode: Mode::Closed { concurrency: 4 },
            stream: true,
            warmup: Duration::ZERO,
            elapsed: Duration::from_secs(2),
            stats: a,
        };
        let line = report.to_json().to_string();
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["ok"], 100);
        assert_eq!(v["errors"], 2);
        assert_eq!(v["error_kinds"]["status_503"], 1);
        assert_eq!(v["error_kinds"]["timeout"], 1);
        assert_eq!(v["rps"], 50.0);
        assert_eq!(v["bytes_in"], 1010);
        let p50 = v["lat_ms"]["p50"].as_f64().unwrap();
        assert!((p50 - 50.0).abs() < 0.1, "{p50}");
        assert!(v["lat_ms"]["p99.9"].as_f64().unwrap() <= 100.1);
        assert!((v["ttft_ms"]["p50"].as_f64().unwrap() - 25.0).abs() < 0.1);
        assert!(v["send_lag_ms"].is_null());
        assert_eq!(v["mode"], "closed");
        assert_eq!(v["max_inflight"], 0);
    }
}
