//! A circuit breaker per target (SPEC section 9.3): `circuit_failures` consecutive failed
//! attempts open it; an open target is skipped for `circuit_open_ms`; then it is half-open and
//! one real request at a time probes it: a success closes it, a failure opens it again.
//!
//! Written here rather than taken from a crate: the breakers on crates.io wrap a call (a tower
//! layer or a closure), while here an attempt's outcome is known only after the engine's own
//! timers and JSON checks have judged it, and a skipped target must be reported, not failed.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// The breaker's state, as `GET /api/admin/targets` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitState {
    /// Serving.
    Closed,
    /// Skipped until the instant.
    Open(Instant),
    /// Letting one probe through.
    HalfOpen,
}

#[derive(Debug)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probing: bool },
}

/// What the breaker says of the next attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Go ahead.
    Go,
    /// Go ahead as the one probe of a half-open circuit.
    Probe,
    /// Skip this target.
    Skip,
}

/// Where a breaker moved to, for `switchboard_circuit_transitions_total{to}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// It opened.
    Opened,
    /// A probe was let through.
    HalfOpened,
    /// It closed again.
    Closed,
}

impl Transition {
    /// The `to` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Transition::Opened => "open",
            Transition::HalfOpened => "half_open",
            Transition::Closed => "closed",
        }
    }
}

/// One target's breaker.
#[derive(Debug)]
pub struct Breaker {
    state: Mutex<State>,
}

impl Default for Breaker {
    fn default() -> Self {
        Breaker {
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }
}

impl Breaker {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether an attempt may go now (with `threshold` 0 the breaker is off: always `Go`).
    pub fn admit(&self, threshold: u32, now: Instant) -> (Admission, Option<Transition>) {
        if threshold == 0 {
            return (Admission::Go, None);
        }
        let mut state = self.lock();
        match *state {
            State::Closed { .. } => (Admission::Go, None),
            State::Open { until } if now < until => (Admission::Skip, None),
            State::Open { .. } => {
                *state = State::HalfOpen { probing: true };
                (Admission::Probe, Some(Transition::HalfOpened))
            }
            State::HalfOpen { probing: true } => (Admission::Skip, None),
            State::HalfOpen { probing: false } => {
                *state = State::HalfOpen { probing: true };
                (Admission::Probe, None)
            }
        }
    }

    /// An attempt let through by `admit` ended: `failed` when it failed with a kind the policy
    /// falls back from.
    pub fn record(
        &self,
        failed: bool,
        threshold: u32,
        open_for: Duration,
        now: Instant,
    ) -> Option<Transition> {
        if threshold == 0 {
            return None;
        }
        let mut state = self.lock();
        let (next, transition) = match (&*state, failed) {
            (State::Closed { failures }, true) if failures + 1 >= threshold => (
                State::Open {
                    until: now + open_for,
                },
                Some(Transition::Opened),
            ),
            (State::Closed { failures }, true) => (
                State::Closed {
                    failures: failures + 1,
                },
                None,
            ),
            (State::Closed { .. }, false) => (State::Closed { failures: 0 }, None),
            (State::HalfOpen { .. }, true) => (
                State::Open {
                    until: now + open_for,
                },
                Some(Transition::Opened),
            ),
            (State::HalfOpen { .. }, false) => {
                (State::Closed { failures: 0 }, Some(Transition::Closed))
            }
            // An attempt that started before the circuit opened: it changes nothing.
            (State::Open { until }, _) => (State::Open { until: *until }, None),
        };
        *state = next;
        transition
    }

    /// A probe ended without an outcome (the client left): let the next request probe.
    pub fn abandon_probe(&self) {
        let mut state = self.lock();
        if let State::HalfOpen { probing: true } = *state {
            *state = State::HalfOpen { probing: false };
        }
    }

    /// The state now.
    pub fn state(&self) -> CircuitState {
        match *self.lock() {
            State::Closed { .. } => CircuitState::Closed,
            State::Open { until } => CircuitState::Open(until),
            State::HalfOpen { .. } => CircuitState::HalfOpen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_probes_once_and_closes_on_success() {
        let breaker = Breaker::default();
        let open_for = Duration::from_secs(30);
        let t0 = Instant::now();
        for _ in 0..2 {
            assert_eq!(breaker.admit(3, t0).0, Admission::Go);
            assert_eq!(breaker.record(true, 3, open_for, t0), None);
        }
        assert_eq!(
            breaker.record(true, 3, open_for, t0),
            Some(Transition::Opened)
        );
        assert_eq!(
            breaker.admit(3, t0 + Duration::from_secs(1)).0,
            Admission::Skip
        );
        let later = t0 + Duration::from_secs(31);
        assert_eq!(
            breaker.admit(3, later),
            (Admission::Probe, Some(Transition::HalfOpened))
        );
        assert_eq!(
            breaker.admit(3, later).0,
            Admission::Skip,
            "one probe at a time"
        );
        assert_eq!(
            breaker.record(false, 3, open_for, later),
            Some(Transition::Closed)
        );
        assert_eq!(breaker.admit(3, later).0, Admission::Go);
    }

    #[test]
    fn a_failed_probe_opens_it_again_and_an_abandoned_one_lets_the_next_probe() {
        let breaker = Breaker::default();
        let open_for = Duration::from_secs(5);
        let t0 = Instant::now();
        breaker.record(true, 1, open_for, t0);
        let later = t0 + Duration::from_secs(6);
        assert_eq!(breaker.admit(1, later).0, Admission::Probe);
        breaker.abandon_probe();
        assert_eq!(breaker.admit(1, later).0, Admission::Probe);
        assert_eq!(
            breaker.record(true, 1, open_for, later),
            Some(Transition::Opened)
        );
        assert_eq!(breaker.admit(1, later).0, Admission::Skip);
        assert_eq!(
            Breaker::default().admit(0, later).0,
            Admission::Go,
            "0 = off"
        );
    }
}
