//! Latency histograms: HDR histograms of microseconds, summarised in milliseconds.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::{Value, json};

/// Largest value recorded exactly: one hour in microseconds. Longer values are clamped.
const MAX_US: u64 = 3_600_000_000;
/// Significant decimal digits kept (0.1 % relative error).
const SIGFIG: u8 = 3;

/// A latency histogram with microsecond resolution from 1 µs to one hour.
#[derive(Debug, Clone)]
pub struct LatencyHistogram {
    inner: Histogram<u64>,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram::new()
    }
}

/// Percentiles of a histogram in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Number of values recorded.
    pub count: u64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p99_9: f64,
    /// Largest value.
    pub max: f64,
    /// Arithmetic mean.
    pub mean: f64,
}

impl Summary {
    /// `{"p50":..,"p90":..,"p95":..,"p99":..,"p99.9":..,"max":..,"mean":..}`, in ms rounded
    /// to µs.
    pub fn to_json(&self) -> Value {
        json!({
            "p50": round_us(self.p50),
            "p90": round_us(self.p90),
            "p95": round_us(self.p95),
            "p99": round_us(self.p99),
            "p99.9": round_us(self.p99_9),
            "max": round_us(self.max),
            "mean": round_us(self.mean),
        })
    }
}

/// Rounds milliseconds to whole microseconds for printing.
fn round_us(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

impl LatencyHistogram {
    /// An empty histogram.
    pub fn new() -> Self {
        let inner = Histogram::new_with_bounds(1, MAX_US, SIGFIG)
            .expect("static histogram bounds are valid");
        LatencyHistogram { inner }
    }

    /// Records one duration (clamped to 1 µs ..= one hour).
    pub fn record(&mut self, d: Duration) {
        let us = u64::try_from(d.as_micros())
            .unwrap_or(MAX_US)
            .clamp(1, MAX_US);
        // Cannot fail: the value is within the bounds.
        let _ = self.inner.record(us);
    }

    /// Adds every value of `other`.
    pub fn merge(&mut self, other: &LatencyHistogram) {
        // Cannot fail: both have the same bounds.
        let _ = self.inner.add(&other.inner);
    }

    /// Number of values recorded.
    pub fn len(&self) -> u64 {
        self.inner.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// The percentiles, or `None` when empty.
    pub fn summary(&self) -> Option<Summary> {
        if self.inner.is_empty() {
            return None;
        }
        let ms = |us: u64| us as f64 / 1000.0;
        let q = |quantile: f64| ms(self.inner.value_at_quantile(quantile));
        Some(Summary {
            count: self.inner.len(),
            p50: q(0.50),
            p90: q(0.90),
            p95: q(0.95),
            p99: q(0.99),
            p99_9: q(0.999),
            max: ms(self.inner.max()),
            mean: self.inner.mean() / 1000.0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_in_ms() {
        let mut h = LatencyHistogram::new();
        for us in 1..=1000u64 {
            h.record(Duration::from_micros(us));
        }
        let s = h.summary().unwrap();
        assert_eq!(s.count, 1000);
        assert!((s.p50 - 0.5).abs() < 0.002, "{s:?}");
        assert!((s.p90 - 0.9).abs() < 0.002, "{s:?}");
        assert!((s.p99 - 0.99).abs() < 0.002, "{s:?}");
        assert!((s.max - 1.0).abs() < 0.002, "{s:?}");
        let j = s.to_json();
        assert!(j["p99.9"].as_f64().unwrap() <= 1.001);
    }

    #[test]
    fn merge_and_clamp() {
        let mut a = LatencyHistogram::new();
        let mut b = LatencyHistogram::new();
        assert!(a.summary().is_none());
        a.record(Duration::ZERO);
        b.record(Duration::from_secs(7200));
        a.merge(&b);
        assert_eq!(a.len(), 2);
        let s = a.summary().unwrap();
        assert!(s.max >= 3_599_000.0 && s.max <= 3_601_000.0, "{s:?}");
    }
}
