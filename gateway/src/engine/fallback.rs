//! The fallback chain: try each target in order, retrying the same target per policy, until
//! one attempt succeeds, an error kind that is not retried ends the request, or the budget
//! runs out.
//!
//! Attempts are plain futures made by the caller's closure, so racing two of them (hedging)
//! is a change inside this loop alone: start the next target's future when the current one
//! has no first token after a delay and keep the first that succeeds.

use std::future::Future;
use std::time::Duration;

use switchboard_config::ErrorKind;
use tokio::time::Instant;

use crate::request::routing::Route;
use switchboard_record::AttemptRecord;

use super::policy::retry_delay;

/// Why one attempt failed, and what it produced anyway (the invalid answer, kept in case
/// every target fails the same way).
pub struct Failure<T> {
    /// The error kind.
    pub kind: ErrorKind,
    /// The upstream HTTP status, when there was one.
    pub status: Option<u16>,
    /// What failed, for people.
    pub message: String,
    /// The provider's Retry-After.
    pub retry_after: Option<Duration>,
    /// An answer that failed a check (invalid JSON), to return if nothing better comes.
    pub payload: Option<T>,
    /// The target cannot express this request (e.g. a content part its wire format lacks):
    /// no retry, but the next target may serve it, whatever `retry_on` says.
    pub untranslatable: bool,
}

impl<T> Failure<T> {
    /// A failure with no payload.
    pub fn new(kind: ErrorKind, status: Option<u16>, message: String) -> Failure<T> {
        Failure {
            kind,
            status,
            message,
            retry_after: None,
            payload: None,
            untranslatable: false,
        }
    }
}

/// One attempt's outcome and its record.
pub struct Attempted<T> {
    /// What it produced.
    pub result: Result<T, Failure<T>>,
    /// What the log record keeps of it.
    pub record: AttemptRecord,
}

/// How a chain ended.
pub enum ChainEnd<T> {
    /// An attempt succeeded.
    Won {
        /// Its product.
        value: T,
        /// Its target's index in the chain.
        target_index: usize,
    },
    /// No attempt succeeded.
    Lost {
        /// The last failure.
        last: Failure<T>,
        /// Its target's index.
        target_index: usize,
        /// Every attempt and why it failed, for the client's error message.
        summary: String,
    },
}

/// Runs `attempt` (given a target's index in `route`) over the chain until one wins.
pub async fn run<T, F, Fut>(
    route: &Route,
    budget_end: Instant,
    attempts: &mut Vec<(usize, AttemptRecord)>,
    mut attempt: F,
) -> ChainEnd<T>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Attempted<T>>,
{
    let policy = &route.policy;
    let mut last: Option<(Failure<T>, usize)> = None;
    'targets: for (index, target) in route.targets.iter().enumerate() {
        if let Some((failure, from)) = &last {
            if Instant::now() >= budget_end {
                break;
            }
            route.targets[*from]
                .metrics
                .fallback_to(&target.metrics, failure.kind);
        }
        let mut retry = 0;
        loop {
            let Attempted { result, record } = attempt(index).await;
            attempts.push((index, record));
            let failure = match result {
                Ok(value) => {
                    return ChainEnd::Won {
                        value,
                        target_index: index,
                    };
                }
                Err(failure) => failure,
            };
            target.metrics.attempt_failed(failure.kind);
            if failure.untranslatable {
                last = Some((failure, index));
                break;
            }
            if !policy.retries_on(failure.kind) {
                last = Some((failure, index));
                break 'targets;
            }
            let remaining = budget_end.saturating_duration_since(Instant::now());
            let delay = (retry < policy.retries)
                .then(|| retry_delay(policy.backoff(), retry + 1, failure.retry_after, remaining))
                .flatten();
            let reason = failure.kind;
            last = Some((failure, index));
            let Some(delay) = delay else { break };
            target.metrics.retry(reason);
            tokio::time::sleep(delay).await;
            retry += 1;
        }
    }
    match last {
        Some((last, target_index)) => ChainEnd::Lost {
            summary: summarize(
                attempts,
                policy.retries_on(last.kind),
                Instant::now() >= budget_end,
            ),
            last,
            target_index,
        },
        // A route always has at least one target (config validation), so an attempt ran.
        None => ChainEnd::Lost {
            summary: "the model has no targets".to_owned(),
            last: Failure::new(ErrorKind::ClientError, None, "no targets".to_owned()),
            target_index: 0,
        },
    }
}

fn summarize(attempts: &[(usize, AttemptRecord)], retryable: bool, budget_spent: bool) -> String {
    let mut out = if attempts.len() == 1 {
        "The upstream attempt failed".to_owned()
    } else {
        format!("All {} upstream attempts failed", attempts.len())
    };
    if !retryable {
        out.push_str(" (the last error kind is not in retry_on, so no other target was tried)");
    } else if budget_spent {
        out.push_str(" (budget_ms ran out)");
    }
    out.push(':');
    for (i, (_, a)) in attempts.iter().enumerate() {
        let status = a
            .status_code
            .map(|s| format!("HTTP {s}, "))
            .unwrap_or_default();
        let kind = a.error_kind.map(ErrorKind::as_str).unwrap_or("ok");
        let why = a.error_message.as_deref().unwrap_or("");
        out.push_str(&format!(
            " #{} {}/{}: {status}{kind}: {why};",
            i + 1,
            a.provider_id,
            a.provider_model
        ));
    }
    out.pop();
    out
}
