//! The fallback chain: try each target in order, retrying the same target per policy, until
//! one attempt succeeds, an error kind that is not retried ends the request, or the budget
//! runs out.
//!
//! Attempts are plain futures made by the caller's closure, so racing two of them (hedging)
//! is a change inside this loop alone: start the next target's future when the current one
//! has no first token after a delay and keep the first that succeeds.

use std::future::Future;
use std::time::Duration;

use switchboard_config::{ErrorKind, LoadBalance};
use switchboard_record::{AttemptRecord, SkippedTarget};
use tokio::time::Instant;

use crate::request::routing::Route;
use crate::targets::TargetState;
use crate::targets::breaker::Admission;
use crate::telemetry::metadata_labels::SeriesLabels;

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

/// What the chain passed over and noticed, for the record.
#[derive(Debug, Default)]
pub struct ChainNotes {
    /// Every upstream attempt, with its position in the order the chain went through.
    pub attempts: Vec<(usize, AttemptRecord)>,
    /// Targets passed over: disabled, or with an open circuit.
    pub skipped: Vec<SkippedTarget>,
    /// Things worth knowing (e.g. a chain that failed open).
    pub warnings: Vec<String>,
}

/// Runs `attempt` (given a target's index in `route`) over the chain until one wins. Targets
/// an operator disabled or whose circuit is open are passed over (noted in `notes.skipped`)
/// unless every target is, and then all are tried anyway (fail open).
pub async fn run<T, F, Fut>(
    route: &Route,
    labels: &SeriesLabels,
    budget_end: Instant,
    notes: &mut ChainNotes,
    mut attempt: F,
) -> ChainEnd<T>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Attempted<T>>,
{
    let policy = &route.policy;
    let order = order(route);
    let mut last: Option<(Failure<T>, usize)> = None;
    let mut position = 0;
    for fail_open in [false, true] {
        'targets: for &index in &order {
            let target = &route.targets[index];
            let probe = match fail_open {
                true => false,
                false => match target.state.admit(policy.circuit_failures) {
                    Ok(admission) => admission == Admission::Probe,
                    Err(reason) => {
                        notes.skipped.push(SkippedTarget {
                            provider_id: target.target.provider.clone(),
                            provider_model: target.target.model.clone(),
                            reason: reason.as_str(),
                        });
                        continue;
                    }
                },
            };
            // Gives a half-open circuit its probe back if this future is dropped mid-attempt.
            let mut probe = ProbeGuard(probe.then_some(&*target.state));
            let is_probe = probe.armed();
            if let Some((failure, from)) = &last {
                if Instant::now() >= budget_end {
                    break 'targets;
                }
                route.targets[*from]
                    .metrics
                    .labelled(labels)
                    .fallback_to(&target.metrics, failure.kind);
            }
            let mut retry = 0;
            loop {
                let Attempted { result, record } = attempt(index).await;
                let ttft = record.time_to_first_token.map(Duration::from_secs_f64);
                notes.attempts.push((position, record));
                let failure = match result {
                    Ok(value) => {
                        probe.disarm();
                        target.state.record(
                            false,
                            ttft,
                            policy.circuit_failures,
                            policy.circuit_open(),
                        );
                        return ChainEnd::Won {
                            value,
                            target_index: index,
                        };
                    }
                    Err(failure) => failure,
                };
                target.metrics.labelled(labels).attempt_failed(failure.kind);
                if policy.retries_on(failure.kind) && !failure.untranslatable {
                    probe.disarm();
                    target
                        .state
                        .record(true, ttft, policy.circuit_failures, policy.circuit_open());
                }
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
                    .then(|| {
                        retry_delay(policy.backoff(), retry + 1, failure.retry_after, remaining)
                    })
                    .flatten();
                let reason = failure.kind;
                last = Some((failure, index));
                // A half-open target gets one probe, not retries.
                let Some(delay) = delay.filter(|_| !is_probe) else {
                    break;
                };
                target.metrics.labelled(labels).retry(reason);
                tokio::time::sleep(delay).await;
                retry += 1;
            }
            position += 1;
        }
        if !notes.attempts.is_empty() || fail_open {
            break;
        }
        notes.warnings.push(format!(
            "every target of the chain was disabled or had an open circuit ({}): all were tried anyway",
            notes
                .skipped
                .iter()
                .map(|s| format!("{}/{}: {}", s.provider_id, s.provider_model, s.reason))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        notes.skipped.clear();
    }
    match last {
        Some((last, target_index)) => ChainEnd::Lost {
            summary: summarize(
                &notes.attempts,
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

/// The order the chain tries its targets in: config order, or with `load_balance =
/// "weighted"` a first target drawn by weight among those that are up, then the rest in
/// config order.
fn order(route: &Route) -> Vec<usize> {
    let mut order: Vec<usize> = (0..route.targets.len()).collect();
    if route.policy.load_balance != LoadBalance::Weighted {
        return order;
    }
    let weights: Vec<(usize, u64)> = route
        .targets
        .iter()
        .enumerate()
        .filter(|(_, t)| t.state.is_up())
        .map(|(i, t)| (i, u64::from(t.target.weight.unwrap_or(1))))
        .collect();
    let total: u64 = weights.iter().map(|(_, w)| w).sum();
    if total == 0 {
        return order;
    }
    let mut draw = fastrand::u64(..total);
    let first = weights
        .iter()
        .find(|(_, w)| {
            let hit = draw < *w;
            draw = draw.saturating_sub(*w);
            hit
        })
        .map(|(i, _)| *i)
        .unwrap_or(0);
    order.retain(|&i| i != first);
    order.insert(0, first);
    order
}

/// A half-open circuit's probe in flight; given back when dropped without an outcome.
struct ProbeGuard<'a>(Option<&'a TargetState>);

impl ProbeGuard<'_> {
    fn armed(&self) -> bool {
        self.0.is_some()
    }

    fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for ProbeGuard<'_> {
    fn drop(&mut self) {
        if let Some(state) = self.0.take() {
            state.abandon_probe();
        }
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
