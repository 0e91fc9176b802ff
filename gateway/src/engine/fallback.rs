//! The fallback chain: try each target in order, retrying the same target per policy, until
//! one attempt succeeds, an error kind that is not retried ends the request, or the budget
//! runs out.
//!
//! Attempts are plain futures made by the caller's closure, so racing two of them (hedging,
//! [`super::hedge`]) needs nothing else: the next target's future starts beside the current
//! one when that has no first token after the hedge delay, and the first to succeed wins.

use std::future::Future;
use std::time::Duration;

use switchboard_config::{ErrorKind, LoadBalance};
use switchboard_record::{AttemptRecord, SkippedTarget};
use tokio::time::Instant;

use crate::request::routing::Route;
use crate::targets::TargetState;
use crate::targets::breaker::Admission;
use crate::telemetry::metadata_labels::SeriesLabels;

use super::attempt::AttemptStart;
use super::hedge::{self, Raced};
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
    /// When it started, as which span.
    pub start: AttemptStart,
}

/// One attempt as the chain noted it.
#[derive(Debug)]
pub struct NotedAttempt {
    /// Its position in the order the chain went through (a hedge shares its race's).
    pub position: usize,
    /// What the log record keeps of it.
    pub record: AttemptRecord,
    /// When it started, as which span.
    pub start: AttemptStart,
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
    pub attempts: Vec<NotedAttempt>,
    /// Targets passed over: disabled, or with an open circuit.
    pub skipped: Vec<SkippedTarget>,
    /// Things worth knowing (e.g. a chain that failed open).
    pub warnings: Vec<String>,
    /// A hedge was started (`x-switchboard-hedged`).
    pub hedged: bool,
}

/// One run of a chain: the route, the request's series labels, its budget and its kind.
pub struct Chain<'a> {
    /// The model's route.
    pub route: &'a Route,
    /// The request's metadata label values.
    pub labels: &'a SeriesLabels,
    /// When the request's budget runs out.
    pub budget_end: Instant,
    /// A stream (hedges wait on first tokens) or a whole answer.
    pub stream: bool,
}

/// Runs `attempt` (given a target's index in `route`) over the chain until one wins. Targets
/// an operator disabled or whose circuit is open are passed over (noted in `notes.skipped`)
/// unless every target is, and then all are tried anyway (fail open). With `hedge_after_ms`,
/// one attempt per call may be raced by the next target that is up.
pub async fn run<T, F, Fut>(chain: Chain<'_>, notes: &mut ChainNotes, mut attempt: F) -> ChainEnd<T>
where
    F: FnMut(usize, AttemptStart) -> Fut,
    Fut: Future<Output = Attempted<T>>,
{
    let Chain {
        route,
        labels,
        budget_end,
        stream,
    } = chain;
    let policy = &route.policy;
    let settle = Settle {
        route,
        labels,
        stream,
    };
    let order = order(route);
    let mut last: Option<(Failure<T>, usize)> = None;
    let mut position = 0;
    // The target a hedge already tried: the chain does not go back to it.
    let mut hedge_took: Option<usize> = None;
    for fail_open in [false, true] {
        'targets: for (slot, &index) in order.iter().enumerate() {
            if hedge_took == Some(index) {
                continue;
            }
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
                // At most one hedge per call, never on a probe, never with a failed-open chain.
                let hedge_after = (hedge_took.is_none() && !fail_open && !is_probe)
                    .then(|| hedge::delay(policy, target, stream))
                    .flatten();
                let raced = match hedge_after {
                    None => Raced::Alone(attempt(index, AttemptStart::now(target)).await),
                    Some(after) => {
                        let partner = || {
                            order[slot + 1..]
                                .iter()
                                .copied()
                                .find(|&i| i != index && route.targets[i].state.is_up())
                        };
                        hedge::race(&mut attempt, &route.targets, index, after, partner).await
                    }
                };
                let Attempted {
                    result,
                    record,
                    start,
                } = match raced {
                    Raced::Alone(attempted) => attempted,
                    Raced::Hedged {
                        first,
                        second,
                        partner,
                        started,
                    } => {
                        notes.hedged = true;
                        hedge_took = Some(partner);
                        let raced = RacedPair {
                            index,
                            partner,
                            position,
                            started,
                        };
                        match settle.race(raced, first, second, &mut probe, notes) {
                            Ok((value, target_index)) => {
                                return ChainEnd::Won {
                                    value,
                                    target_index,
                                };
                            }
                            Err((failure, failed_index)) => {
                                position += 1;
                                let next =
                                    policy.falls_back_on(failure.kind) || failure.untranslatable;
                                last = Some((failure, failed_index));
                                if next {
                                    break;
                                }
                                break 'targets;
                            }
                        }
                    }
                };
                let ttft = record.time_to_first_token.map(Duration::from_secs_f64);
                let latency = Duration::from_secs_f64(record.latency);
                notes.attempts.push(NotedAttempt {
                    position,
                    record,
                    start,
                });
                let failure = match result {
                    Ok(value) => {
                        probe.disarm();
                        settle.succeeded(index, ttft, latency);
                        return ChainEnd::Won {
                            value,
                            target_index: index,
                        };
                    }
                    Err(failure) => failure,
                };
                settle.failed(index, &failure, ttft, &mut probe);
                if failure.untranslatable {
                    last = Some((failure, index));
                    break;
                }
                let reason = failure.kind;
                let remaining = budget_end.saturating_duration_since(Instant::now());
                // A half-open target gets one probe, not retries.
                let delay = (policy.retries_on(reason) && retry < policy.retries && !is_probe)
                    .then(|| {
                        let full = reason.backs_off_fully();
                        retry_delay(
                            policy.backoff(),
                            retry + 1,
                            failure.retry_after,
                            remaining,
                            full,
                        )
                    })
                    .flatten();
                last = Some((failure, index));
                let Some(delay) = delay else {
                    if policy.falls_back_on(reason) {
                        break;
                    }
                    break 'targets;
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
                policy.falls_back_on(last.kind),
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

/// What a chain tells its targets' breakers, health windows and series about each attempt.
struct Settle<'a> {
    route: &'a Route,
    labels: &'a SeriesLabels,
    stream: bool,
}

/// The two attempts of a hedge race.
struct RacedPair {
    index: usize,
    partner: usize,
    position: usize,
    started: [AttemptStart; 2],
}

impl Settle<'_> {
    fn succeeded(&self, index: usize, ttft: Option<Duration>, latency: Duration) {
        let policy = &self.route.policy;
        let state = &self.route.targets[index].state;
        state.record(false, ttft, policy.circuit_failures, policy.circuit_open());
        if !self.stream {
            state.record_answer_time(latency);
        }
    }

    fn failed<T>(
        &self,
        index: usize,
        failure: &Failure<T>,
        ttft: Option<Duration>,
        probe: &mut ProbeGuard<'_>,
    ) {
        let policy = &self.route.policy;
        let target = &self.route.targets[index];
        target
            .metrics
            .labelled(self.labels)
            .attempt_failed(failure.kind);
        let counts = policy.falls_back_on(failure.kind) || policy.retries_on(failure.kind);
        if counts && !failure.untranslatable {
            probe.disarm();
            target
                .state
                .record(true, ttft, policy.circuit_failures, policy.circuit_open());
        }
    }

    /// Notes both attempts of a race (the winner's record last, so it is the one the
    /// response's position header reads) and returns the winner, or the hedge's failure.
    fn race<T>(
        &self,
        pair: RacedPair,
        first: Option<Attempted<T>>,
        second: Option<Attempted<T>>,
        probe: &mut ProbeGuard<'_>,
        notes: &mut ChainNotes,
    ) -> Result<(T, usize), (Failure<T>, usize)> {
        let RacedPair {
            index,
            partner,
            position,
            started,
        } = pair;
        let targets = &self.route.targets;
        let mut entries = Vec::with_capacity(2);
        for (slot, (attempted, target_index)) in
            [(first, index), (second, partner)].into_iter().enumerate()
        {
            let hedge = slot == 1;
            let entry_position = position + slot;
            let Some(Attempted {
                result,
                mut record,
                start,
            }) = attempted
            else {
                let start = started[slot];
                let record = hedge::cancelled(&targets[target_index], start.at, hedge);
                entries.push((entry_position, record, start, None, target_index));
                continue;
            };
            record.hedge = hedge;
            let ttft = record.time_to_first_token.map(Duration::from_secs_f64);
            let latency = Duration::from_secs_f64(record.latency);
            let mut no_probe = ProbeGuard(None);
            let guard = if slot == 0 {
                &mut *probe
            } else {
                &mut no_probe
            };
            match &result {
                Ok(_) => {
                    guard.disarm();
                    self.succeeded(target_index, ttft, latency);
                }
                Err(failure) => self.failed(target_index, failure, ttft, guard),
            }
            entries.push((entry_position, record, start, Some(result), target_index));
        }
        let hedge_won = matches!(entries[1].3, Some(Ok(_)));
        targets[partner]
            .metrics
            .labelled(self.labels)
            .hedged(hedge_won);
        // The winner (or, both failed, the hedge) goes last.
        let winner_first = matches!(entries[0].3, Some(Ok(_)));
        if winner_first {
            entries.swap(0, 1);
        }
        let mut outcome = None;
        for (position, record, start, result, target_index) in entries {
            notes.attempts.push(NotedAttempt {
                position,
                record,
                start,
            });
            if let Some(result) = result {
                outcome = Some((result, target_index));
            }
        }
        match outcome {
            Some((Ok(value), target_index)) => Ok((value, target_index)),
            Some((Err(failure), target_index)) => Err((failure, target_index)),
            // Both ended, so at least one result exists; kept total for the compiler.
            None => Err((
                Failure::new(
                    ErrorKind::Timeout,
                    None,
                    "hedge race ended empty".to_owned(),
                ),
                partner,
            )),
        }
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

fn summarize(attempts: &[NotedAttempt], falls_back: bool, budget_spent: bool) -> String {
    let mut out = if attempts.len() == 1 {
        "The upstream attempt failed".to_owned()
    } else {
        format!("All {} upstream attempts failed", attempts.len())
    };
    if !falls_back {
        out.push_str(" (the last error kind is not in fallback_on, so no other target was tried)");
    } else if budget_spent {
        out.push_str(" (budget_ms ran out)");
    }
    out.push(':');
    for (i, a) in attempts.iter().map(|n| &n.record).enumerate() {
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
