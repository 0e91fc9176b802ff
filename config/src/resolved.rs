//! The config as the gateway uses it: validated, interpolated, model policies resolved.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::schema::{
    LoadBalance, LoggingConfig, MetricsConfig, MidStream, OtelConfig, PolicySection,
    ProviderConfig, ProviderKind, ServerConfig, StreamJson, Target,
};
use crate::{ErrorKind, HedgeAfter, Prefill};

/// A loaded, valid configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where it came from: a path, or `<embedded default>`.
    pub origin: String,
    /// `[server]`
    pub server: ServerConfig,
    /// `[logging]`
    pub logging: LoggingConfig,
    /// `[metrics]`
    pub metrics: MetricsConfig,
    /// `[otel]`
    pub otel: OtelConfig,
    /// `[providers.<name>]`
    pub providers: BTreeMap<String, ProviderConfig>,
    /// `[defaults]` over the built-in policy: used by models and by `provider/model` requests.
    pub defaults: Policy,
    /// `[models."<name>"]`, each with its policy resolved.
    pub models: BTreeMap<String, ModelRoute>,
}

/// A model clients can name: its fallback chain and the policy that drives it.
#[derive(Debug, Clone)]
pub struct ModelRoute {
    /// Tried in order.
    pub targets: Vec<Target>,
    /// Retries, timeouts and checks.
    pub policy: Policy,
}

/// The resolved policy of one model (every key set).
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Extra tries on the same target before moving on.
    pub retries: u32,
    /// Backoff before the first retry; doubles per retry, with jitter.
    pub backoff_ms: u64,
    /// Error kinds retried on the same target.
    pub retry_on: Vec<ErrorKind>,
    /// Error kinds after which the chain moves on (a kind retried but not here ends the
    /// request once its retries are spent).
    pub fallback_on: Vec<ErrorKind>,
    /// Streams: request sent -> first content-bearing chunk.
    pub first_token_timeout_ms: u64,
    /// Streams: longest gap between content-bearing chunks.
    pub stall_timeout_ms: u64,
    /// One attempt, end to end.
    pub timeout_ms: u64,
    /// The whole request, all attempts together.
    pub budget_ms: u64,
    /// Check JSON outputs and tool-call arguments.
    pub validate_json: bool,
    /// How JSON-mode streams are checked.
    pub stream_json: StreamJson,
    /// Consecutive failed attempts that open a target's circuit; 0 = off.
    pub circuit_failures: u32,
    /// How long an open circuit skips its target.
    pub circuit_open_ms: u64,
    /// How the first target is chosen.
    pub load_balance: LoadBalance,
    /// When to start the next target in parallel; `None`: never.
    pub hedge_after: Option<HedgeAfter>,
    /// The shortest delay `"auto"` hedging waits.
    pub hedge_min_ms: u64,
    /// What a stream that fails after its first token does.
    pub mid_stream: MidStream,
}

impl Default for Policy {
    /// The built-in policy, used where neither the model nor `[defaults]` sets a key.
    fn default() -> Self {
        Policy {
            retries: 1,
            backoff_ms: 50,
            retry_on: ErrorKind::default_retry_on(),
            fallback_on: ErrorKind::default_fallback_on(),
            first_token_timeout_ms: 10_000,
            stall_timeout_ms: 10_000,
            timeout_ms: 60_000,
            budget_ms: 120_000,
            validate_json: true,
            stream_json: StreamJson::ValidateAtEnd,
            circuit_failures: 0,
            circuit_open_ms: 30_000,
            load_balance: LoadBalance::Ordered,
            hedge_after: None,
            hedge_min_ms: 50,
            mid_stream: MidStream::Error,
        }
    }
}

impl Config {
    /// How a target of `provider` continues another target's text: the target's `own`
    /// `prefill`, else its provider's, else the provider kind's default (`true` for
    /// Anthropic, `false` for the other kinds).
    pub fn prefill_of(&self, provider: &str, own: Option<Prefill>) -> Prefill {
        let provider = self.providers.get(provider);
        own.or_else(|| provider.and_then(|p| p.prefill))
            .unwrap_or(match provider.map(|p| p.kind) {
                Some(ProviderKind::Anthropic) => Prefill::Message,
                _ => Prefill::Off,
            })
    }
}

impl Policy {
    /// This policy with the keys `section` sets replaced.
    pub fn overridden_by(&self, section: &PolicySection) -> Policy {
        Policy {
            retries: section.retries.unwrap_or(self.retries),
            backoff_ms: section.backoff_ms.unwrap_or(self.backoff_ms),
            retry_on: section
                .retry_on
                .clone()
                .unwrap_or_else(|| self.retry_on.clone()),
            // A section that sets only `retry_on` keeps its older meaning: retried and fallen
            // back from alike.
            fallback_on: section
                .fallback_on
                .clone()
                .or_else(|| section.retry_on.clone())
                .unwrap_or_else(|| self.fallback_on.clone()),
            first_token_timeout_ms: section
                .first_token_timeout_ms
                .unwrap_or(self.first_token_timeout_ms),
            stall_timeout_ms: section.stall_timeout_ms.unwrap_or(self.stall_timeout_ms),
            timeout_ms: section.timeout_ms.unwrap_or(self.timeout_ms),
            budget_ms: section.budget_ms.unwrap_or(self.budget_ms),
            validate_json: section.validate_json.unwrap_or(self.validate_json),
            stream_json: section.stream_json.unwrap_or(self.stream_json),
            circuit_failures: section.circuit_failures.unwrap_or(self.circuit_failures),
            circuit_open_ms: section.circuit_open_ms.unwrap_or(self.circuit_open_ms),
            load_balance: section.load_balance.unwrap_or(self.load_balance),
            hedge_after: section.hedge_after_ms.or(self.hedge_after),
            hedge_min_ms: section.hedge_min_ms.unwrap_or(self.hedge_min_ms),
            mid_stream: section.mid_stream.unwrap_or(self.mid_stream),
        }
    }

    /// True when an attempt failed with `kind` is tried again on the same target.
    pub fn retries_on(&self, kind: ErrorKind) -> bool {
        !kind.never_retried() && self.retry_on.contains(&kind)
    }

    /// True when the chain moves to the next target after a failure of `kind`.
    pub fn falls_back_on(&self, kind: ErrorKind) -> bool {
        self.fallback_on.contains(&kind)
    }

    /// `first_token_timeout_ms` as a duration.
    pub fn first_token_timeout(&self) -> Duration {
        Duration::from_millis(self.first_token_timeout_ms)
    }

    /// `stall_timeout_ms` as a duration.
    pub fn stall_timeout(&self) -> Duration {
        Duration::from_millis(self.stall_timeout_ms)
    }

    /// `timeout_ms` as a duration.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// `budget_ms` as a duration.
    pub fn budget(&self) -> Duration {
        Duration::from_millis(self.budget_ms)
    }

    /// `circuit_open_ms` as a duration.
    pub fn circuit_open(&self) -> Duration {
        Duration::from_millis(self.circuit_open_ms)
    }

    /// `backoff_ms` as a duration.
    pub fn backoff(&self) -> Duration {
        Duration::from_millis(self.backoff_ms)
    }
}
