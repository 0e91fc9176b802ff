//! Hedged requests (SPEC section 10): when an attempt has no first content token after the
//! hedge delay, the next target of the chain starts beside it, and the first of the two to
//! produce content wins. The other is dropped, which closes its upstream connection at once.
//!
//! The race is two attempt futures of the same closure the chain walks with, so a hedge is
//! judged by the same clocks and checks as any attempt; [`super::fallback`] settles both.

use std::future::Future;
use std::time::Duration;

use switchboard_config::{HedgeAfter, Policy};
use switchboard_record::AttemptRecord;
use tokio::time::Instant;

use crate::request::routing::RouteTarget;

use super::attempt::AttemptStart;
use super::fallback::Attempted;

/// How long an attempt on `target` may go without content before it is hedged; `None`: not
/// hedged (hedging off, or `"auto"` without 20 recent times of this target's own).
pub fn delay(policy: &Policy, target: &RouteTarget, stream: bool) -> Option<Duration> {
    let ceiling = if stream {
        policy.first_token_timeout()
    } else {
        Duration::from_millis(policy.timeout_ms)
    };
    match policy.hedge_after? {
        HedgeAfter::Fixed(ms) => Some(Duration::from_millis(ms)),
        HedgeAfter::Auto => {
            let floor = Duration::from_millis(policy.hedge_min_ms).min(ceiling);
            let p95 = target.state.first_content_p95(stream)?;
            Some(p95.clamp(floor, ceiling))
        }
    }
}

/// How a raced attempt ended.
// Returned once per chain step and taken apart at once: boxing the larger variant would only
// add an allocation per hedge.
#[allow(clippy::large_enum_variant)]
pub enum Raced<T> {
    /// No hedge started: the attempt ended before the delay, or no target could hedge it.
    Alone(Attempted<T>),
    /// A hedge started. An attempt still running when the other won is `None` (cancelled).
    Hedged {
        /// The hedged attempt's outcome.
        first: Option<Attempted<T>>,
        /// The hedge's outcome.
        second: Option<Attempted<T>>,
        /// The hedge's target index.
        partner: usize,
        /// When each started, as which span (for a cancelled attempt's record).
        started: [AttemptStart; 2],
    },
}

/// Runs `attempt(index)`; once `after` passes without an end, asks `partner` for a target
/// and runs `attempt(partner)` beside it, until one succeeds or both end. `targets` are the
/// chain's.
pub async fn race<T, F, Fut>(
    attempt: &mut F,
    targets: &[RouteTarget],
    index: usize,
    after: Duration,
    partner: impl FnOnce() -> Option<usize>,
) -> Raced<T>
where
    F: FnMut(usize, AttemptStart) -> Fut,
    Fut: Future<Output = Attempted<T>>,
{
    let started = AttemptStart::now(&targets[index]);
    let first = attempt(index, started);
    tokio::pin!(first);
    tokio::select! {
        biased;
        done = &mut first => return Raced::Alone(done),
        () = tokio::time::sleep_until(started.at + after) => {}
    }
    let Some(partner) = partner() else {
        return Raced::Alone(first.await);
    };
    let second_started = AttemptStart::now(&targets[partner]);
    let second = attempt(partner, second_started);
    tokio::pin!(second);
    let (mut a, mut b): (Option<Attempted<T>>, Option<Attempted<T>>) = (None, None);
    while a.is_none() || b.is_none() {
        tokio::select! {
            done = &mut first, if a.is_none() => {
                let won = done.result.is_ok();
                a = Some(done);
                if won {
                    break;
                }
            }
            done = &mut second, if b.is_none() => {
                let won = done.result.is_ok();
                b = Some(done);
                if won {
                    break;
                }
            }
        }
    }
    // Returning drops the attempt still running: its upstream request goes with it.
    Raced::Hedged {
        first: a,
        second: b,
        partner,
        started: [started, second_started],
    }
}

/// The record of an attempt dropped because the other of its race won.
pub fn cancelled(target: &RouteTarget, started: Instant, hedge: bool) -> AttemptRecord {
    AttemptRecord {
        provider_id: target.target.provider.clone(),
        provider_model: target.target.model.clone(),
        status_code: None,
        error_kind: None,
        error_message: None,
        latency: started.elapsed().as_secs_f64(),
        time_to_first_token: None,
        hedge,
        cancelled: true,
        continuation: false,
    }
}
