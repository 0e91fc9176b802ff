//! When to try the same target again: exponential backoff with jitter, and the provider's
//! Retry-After when it fits in what is left of the request's budget.

use std::time::Duration;

/// The wait before retry number `retry` (1-based) on the same target, or `None` to move to
/// the next target at once (Retry-After or the backoff would not fit in `remaining`). With
/// `full` (a rate limit, an overload) the wait is never under the backoff itself.
pub fn retry_delay(
    backoff: Duration,
    retry: u32,
    retry_after: Option<Duration>,
    remaining: Duration,
    full: bool,
) -> Option<Duration> {
    let wait = match retry_after {
        Some(wait) => wait,
        None => {
            let base = backoff.saturating_mul(1u32 << retry.saturating_sub(1).min(16));
            jittered(base, if full { 1.0 } else { 0.5 })
        }
    };
    (wait < remaining).then_some(wait)
}

/// `base` scaled by a random factor in [`low`, `low` + 1): spreads retries of many callers
/// apart.
fn jittered(base: Duration, low: f64) -> Duration {
    base.mul_f64(low + fastrand::f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn backoff_doubles_with_jitter() {
        for _ in 0..100 {
            let first = retry_delay(MS(100), 1, None, MS(10_000), false).unwrap();
            assert!(first >= MS(50) && first < MS(150), "{first:?}");
            let third = retry_delay(MS(100), 3, None, MS(10_000), false).unwrap();
            assert!(third >= MS(200) && third < MS(600), "{third:?}");
            let rate_limited = retry_delay(MS(100), 1, None, MS(10_000), true).unwrap();
            assert!(
                rate_limited >= MS(100) && rate_limited < MS(200),
                "{rate_limited:?}"
            );
        }
    }

    #[test]
    fn retry_after_is_honoured_only_when_it_fits_the_budget() {
        assert_eq!(
            retry_delay(MS(50), 1, Some(MS(1000)), MS(5000), true),
            Some(MS(1000))
        );
        assert_eq!(retry_delay(MS(50), 1, Some(MS(1000)), MS(900), true), None);
    }
}
