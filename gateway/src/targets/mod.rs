//! What the gateway knows of each target beyond the config: operator overrides, its circuit
//! breaker and its recent health. Kept across reloads (a reload does not re-enable a target an
//! operator disabled, nor close an open circuit), and looked up once per route target when a
//! config generation is built, so requests use the handle directly.

pub mod breaker;
pub mod overrides;
pub mod recent;
pub mod shared;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use metrics::{Gauge, counter, gauge};
use tokio::time::Instant;

use breaker::{Admission, Breaker, CircuitState, Transition};
use overrides::Disabled;
use recent::{MIN_SAMPLES, Recent};

/// Why a chain passed a target over (the record's `skipped_targets[].reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// An operator disabled it.
    Disabled,
    /// Its circuit is open (or half-open with a probe already out).
    CircuitOpen,
}

impl SkipReason {
    /// The name records use.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Disabled => "disabled",
            SkipReason::CircuitOpen => "circuit_open",
        }
    }
}

/// A provider's own override, shared by all its targets.
#[derive(Debug, Default)]
pub struct ProviderState {
    disabled: RwLock<Option<Disabled>>,
}

/// One target (provider + model) of any chain.
pub struct TargetState {
    /// Provider config name.
    pub provider: String,
    /// The provider's model.
    pub model: String,
    provider_state: Arc<ProviderState>,
    disabled: RwLock<Option<Disabled>>,
    breaker: Breaker,
    recent: Mutex<Recent>,
    up: Gauge,
    /// It answered a continuation (a prefill) with a refusal: never asked again.
    refuses_prefill: AtomicBool,
}

/// The target's state for `GET /api/admin/targets`.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// `up`, `disabled`, `circuit_open` or `half_open`.
    pub state: &'static str,
    /// The operator's reason, when disabled.
    pub reason: Option<String>,
    /// When the override lapses or the circuit half-opens.
    pub until: Option<SystemTime>,
    /// Failed share of the recent attempts (`None` before any).
    pub error_rate: Option<f64>,
    /// p95 of the recent streams' time to first token, seconds.
    pub ttft_p95: Option<f64>,
    /// Attempts the two figures are taken over.
    pub recent_attempts: usize,
}

impl TargetState {
    fn new(provider: &str, model: &str, provider_state: Arc<ProviderState>) -> TargetState {
        let up = gauge!("switchboard_target_up", "provider" => provider.to_owned(), "model" => model.to_owned());
        up.set(1.0);
        TargetState {
            provider: provider.to_owned(),
            model: model.to_owned(),
            provider_state,
            disabled: RwLock::new(None),
            breaker: Breaker::default(),
            recent: Mutex::new(Recent::default()),
            up,
            refuses_prefill: AtomicBool::new(false),
        }
    }

    fn override_in_force(&self, now: SystemTime) -> Option<Disabled> {
        let own = self
            .disabled
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let provider = self
            .provider_state
            .disabled
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        own.into_iter().chain(provider).find(|d| d.in_force(now))
    }

    /// Whether a chain may try this target now; a `Probe` must be followed by `record` (or
    /// `abandon_probe`).
    pub fn admit(&self, circuit_failures: u32) -> Result<Admission, SkipReason> {
        if self.override_in_force(SystemTime::now()).is_some() {
            return Err(SkipReason::Disabled);
        }
        let (admission, transition) = self.breaker.admit(circuit_failures, Instant::now());
        self.transitioned(transition);
        match admission {
            Admission::Skip => Err(SkipReason::CircuitOpen),
            other => Ok(other),
        }
    }

    /// True when `admit` would let an attempt through now (for weighted draws).
    pub fn is_up(&self) -> bool {
        self.override_in_force(SystemTime::now()).is_none()
            && self.breaker.state() == CircuitState::Closed
    }

    /// An attempt ended: `failed` when its kind is one the policy falls back from.
    pub fn record(
        &self,
        failed: bool,
        ttft: Option<Duration>,
        circuit_failures: u32,
        circuit_open: Duration,
    ) {
        let transition =
            self.breaker
                .record(failed, circuit_failures, circuit_open, Instant::now());
        self.transitioned(transition);
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        recent.push_outcome(failed);
        if let Some(ttft) = ttft {
            recent.ttft.push(ttft);
        }
    }

    /// A non-stream attempt answered in `took` (its first content, for `"auto"` hedging).
    pub fn record_answer_time(&self, took: Duration) {
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        recent.answer.push(took);
    }

    /// The p95 of this target's recent times to first content (streams: first token;
    /// non-stream: whole answer); `None` until it has 20 of them.
    pub fn first_content_p95(&self, stream: bool) -> Option<Duration> {
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        let window = if stream {
            &mut recent.ttft
        } else {
            &mut recent.answer
        };
        window.p95(MIN_SAMPLES).map(Duration::from_secs_f64)
    }

    /// True once this target refused a continuation's prefill.
    pub fn refuses_prefill(&self) -> bool {
        self.refuses_prefill.load(Ordering::Relaxed)
    }

    /// This target refused a prefill: continuations pass it over for the process's life.
    pub fn mark_refuses_prefill(&self) {
        if !self.refuses_prefill.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "{}/{} refused a continuation prefill: it will not be asked to continue again",
                self.provider,
                self.model
            );
        }
    }

    /// A probe ended without an outcome.
    pub fn abandon_probe(&self) {
        self.breaker.abandon_probe();
    }

    fn transitioned(&self, transition: Option<Transition>) {
        let Some(transition) = transition else {
            return;
        };
        counter!("switchboard_circuit_transitions_total", "provider" => self.provider.clone(), "model" => self.model.clone(), "to" => transition.as_str())
            .increment(1);
        self.refresh_gauge();
        tracing::warn!(
            "circuit of {}/{} is now {}",
            self.provider,
            self.model,
            transition.as_str()
        );
    }

    /// Sets `switchboard_target_up` from the state now.
    pub fn refresh_gauge(&self) {
        self.up.set(if self.is_up() { 1.0 } else { 0.0 });
    }

    /// Disables (or, with `None`, enables) this target itself.
    pub fn set_disabled(&self, disabled: Option<Disabled>) {
        *self.disabled.write().unwrap_or_else(|e| e.into_inner()) = disabled;
        self.refresh_gauge();
    }

    /// The state for the admin API.
    pub fn snapshot(&self) -> Snapshot {
        let now = SystemTime::now();
        let (state, reason, until) = match (self.override_in_force(now), self.breaker.state()) {
            (Some(d), _) => ("disabled", d.reason, d.until),
            (None, CircuitState::Open(at)) => {
                let left = at.saturating_duration_since(Instant::now());
                ("circuit_open", None, Some(now + left))
            }
            (None, CircuitState::HalfOpen) => ("half_open", None, None),
            (None, CircuitState::Closed) => ("up", None, None),
        };
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        let attempts = recent.failed.len();
        let error_rate = recent.error_rate();
        let ttft_p95 = recent.ttft.p95(1);
        Snapshot {
            state,
            reason,
            until,
            error_rate,
            ttft_p95,
            recent_attempts: attempts,
        }
    }
}

/// Every target and provider the gateway has state for.
#[derive(Default)]
pub struct TargetStates {
    providers: RwLock<HashMap<String, Arc<ProviderState>>>,
    targets: RwLock<HashMap<(String, String), Arc<TargetState>>>,
}

impl TargetStates {
    fn provider(&self, provider: &str) -> Arc<ProviderState> {
        if let Some(state) = self
            .providers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(provider)
        {
            return state.clone();
        }
        self.providers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(provider.to_owned())
            .or_default()
            .clone()
    }

    /// The state of `provider`/`model`, made on first use.
    pub fn target(&self, provider: &str, model: &str) -> Arc<TargetState> {
        let key = (provider.to_owned(), model.to_owned());
        if let Some(state) = self
            .targets
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return state.clone();
        }
        let provider_state = self.provider(provider);
        self.targets
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_insert_with(|| Arc::new(TargetState::new(provider, model, provider_state)))
            .clone()
    }

    /// A state for a target not kept in the registry (a `provider/model` name past the label
    /// cap): its provider's override applies, its breaker lives as long as its route.
    pub fn transient(&self, provider: &str, model: &str) -> Arc<TargetState> {
        Arc::new(TargetState::new(provider, model, self.provider(provider)))
    }

    /// Disables (`Some`) or enables (`None`) `provider`'s `model`, or with `model` absent the
    /// provider as a whole (and enabling it clears its models' own overrides too).
    pub fn set(&self, provider: &str, model: Option<&str>, disabled: Option<Disabled>) {
        match model {
            Some(model) => self.target(provider, model).set_disabled(disabled),
            None => {
                let enabling = disabled.is_none();
                *self
                    .provider(provider)
                    .disabled
                    .write()
                    .unwrap_or_else(|e| e.into_inner()) = disabled;
                for state in self.all() {
                    if state.provider == provider {
                        if enabling {
                            state.set_disabled(None);
                        }
                        state.refresh_gauge();
                    }
                }
            }
        }
    }

    /// Makes the overrides exactly `orders` (provider-wide ones have no model): what the fleet's
    /// shared store holds.
    pub fn replace_all(&self, orders: &[(String, Option<String>, Disabled)]) {
        let providers: Vec<(String, Arc<ProviderState>)> = self
            .providers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(name, state)| (name.clone(), state.clone()))
            .collect();
        for (name, state) in providers {
            let order = orders
                .iter()
                .find(|(p, m, _)| *p == name && m.is_none())
                .map(|(_, _, d)| d.clone());
            let mut current = state.disabled.write().unwrap_or_else(|e| e.into_inner());
            if *current != order {
                *current = order;
            }
        }
        for (provider, model, disabled) in orders {
            match model {
                Some(model) => {
                    let target = self.target(provider, model);
                    let mut current = target.disabled.write().unwrap_or_else(|e| e.into_inner());
                    *current = Some(disabled.clone());
                }
                None => {
                    *self
                        .provider(provider)
                        .disabled
                        .write()
                        .unwrap_or_else(|e| e.into_inner()) = Some(disabled.clone());
                }
            }
        }
        for target in self.all() {
            let ordered = orders.iter().any(|(p, m, _)| {
                *p == target.provider && m.as_deref() == Some(target.model.as_str())
            });
            if !ordered {
                *target.disabled.write().unwrap_or_else(|e| e.into_inner()) = None;
            }
            target.refresh_gauge();
        }
    }

    /// Every target with state, sorted by provider and model.
    pub fn all(&self) -> Vec<Arc<TargetState>> {
        let mut all: Vec<_> = self
            .targets
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        all.sort_by(|a, b| (&a.provider, &a.model).cmp(&(&b.provider, &b.model)));
        all
    }
}
