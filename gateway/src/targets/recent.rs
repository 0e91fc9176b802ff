//! A target's recent health: the outcome of its last attempts, and how long its last
//! successful attempts took to their first content (the basis of `"auto"` hedging and of the
//! admin listing's `ttft_p95`).

use std::collections::VecDeque;
use std::time::Duration;

/// How many recent attempts (and first-content times) are kept.
pub const RECENT: usize = 200;

/// `"auto"` hedging waits until a target has this many first-content times.
pub const MIN_SAMPLES: usize = 20;

/// The p95 is recomputed after this many new samples (a sort of up to 200 numbers: cheap,
/// but not per request).
const REFRESH_EVERY: u32 = 16;

/// The recent attempts of one target.
#[derive(Default)]
pub struct Recent {
    /// Failed (true) or not, oldest first.
    pub failed: VecDeque<bool>,
    /// Streams: seconds to the first content-bearing chunk.
    pub ttft: Window,
    /// Non-stream calls: seconds to the whole answer (their first content).
    pub answer: Window,
}

impl Recent {
    /// An attempt ended.
    pub fn push_outcome(&mut self, failed: bool) {
        self.failed.push_back(failed);
        if self.failed.len() > RECENT {
            self.failed.pop_front();
        }
    }

    /// Failed share of the recent attempts (`None` before any).
    pub fn error_rate(&self) -> Option<f64> {
        let n = self.failed.len();
        (n > 0).then(|| self.failed.iter().filter(|f| **f).count() as f64 / n as f64)
    }
}

/// The last [`RECENT`] durations of one kind, with their p95 kept fresh enough.
#[derive(Default)]
pub struct Window {
    seconds: VecDeque<f64>,
    p95: Option<f64>,
    since_p95: u32,
}

impl Window {
    /// One more duration.
    pub fn push(&mut self, took: Duration) {
        self.seconds.push_back(took.as_secs_f64());
        if self.seconds.len() > RECENT {
            self.seconds.pop_front();
        }
        self.since_p95 += 1;
    }

    /// The p95 of the window (recomputed every few samples); `None` under `min` samples.
    pub fn p95(&mut self, min: usize) -> Option<f64> {
        if self.seconds.len() < min.max(1) {
            return None;
        }
        if self.p95.is_none() || self.since_p95 >= REFRESH_EVERY {
            let mut sorted: Vec<f64> = self.seconds.iter().copied().collect();
            sorted.sort_by(f64::total_cmp);
            let rank = ((sorted.len() as f64 * 0.95).ceil() as usize).clamp(1, sorted.len());
            self.p95 = Some(sorted[rank - 1]);
            self.since_p95 = 0;
        }
        self.p95
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_p95_needs_enough_samples_and_follows_the_window() {
        let mut w = Window::default();
        for ms in 1..=19 {
            w.push(Duration::from_millis(ms));
        }
        assert_eq!(w.p95(MIN_SAMPLES), None);
        w.push(Duration::from_millis(20));
        assert_eq!(w.p95(MIN_SAMPLES), Some(0.019));
        // 200 slow samples push the fast ones out; the p95 follows within a refresh.
        for _ in 0..RECENT {
            w.push(Duration::from_millis(500));
        }
        assert_eq!(w.p95(MIN_SAMPLES), Some(0.5));
    }

    #[test]
    fn the_error_rate_is_over_the_last_attempts() {
        let mut r = Recent::default();
        assert_eq!(r.error_rate(), None);
        for i in 0..RECENT + 50 {
            r.push_outcome(i < 50);
        }
        assert_eq!(r.error_rate(), Some(0.0));
    }
}
