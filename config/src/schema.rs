//! The config file as written (SPEC section 2): serde structs that reject unknown keys.
//!
//! These are the raw shapes; [`crate::Config`] is what the rest of the gateway uses, with
//! model policies resolved against `[defaults]`.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::ErrorKind;
use crate::hedge::HedgeAfter;
use crate::prefill::Prefill;

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// `[server]`
    #[serde(default)]
    pub server: ServerConfig,
    /// `[logging]`
    #[serde(default)]
    pub logging: LoggingConfig,
    /// `[metrics]`
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// `[otel]`
    #[serde(default)]
    pub otel: OtelConfig,
    /// `[providers.<name>]`
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderConfig>,
    /// `[defaults]`: policy for models that do not set their own and for `provider/model`.
    #[serde(default)]
    pub defaults: PolicySection,
    /// `[models."<name>"]`: the names clients send as `model`.
    #[serde(default)]
    pub models: BTreeMap<String, PolicySection>,
}

/// `[server]`: the listener and who may call it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: String,
    /// Client keys accepted as `Authorization: Bearer <key>`; empty = open.
    pub api_keys: Vec<String>,
    /// Guards `/api/*`; absent = `/api/*` answers only on loopback.
    pub admin_key: Option<String>,
    /// Largest request body accepted (413 past it).
    pub max_body_bytes: usize,
    /// On SIGTERM, how long in-flight requests may run before the process exits.
    pub shutdown_grace_ms: u64,
    /// A connection must send a whole request head within this, else it is closed.
    pub header_timeout_ms: u64,
    /// A connection with nothing in flight and no traffic is closed after this.
    pub idle_timeout_ms: u64,
    /// Connections past this are closed at once, without an answer.
    pub max_connections: usize,
    /// Chat requests in flight past this get 503 `overloaded_error` at once.
    pub max_concurrent_requests: usize,
    /// An upstream answer, error body or single SSE event larger than this fails the attempt.
    pub max_upstream_body_bytes: usize,
    /// On SIGTERM, how long the listener keeps accepting (with `/readyz` 503) before it closes.
    pub drain_delay_ms: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8080".to_owned(),
            api_keys: Vec::new(),
            admin_key: None,
            max_body_bytes: 4 * 1024 * 1024,
            shutdown_grace_ms: 30_000,
            header_timeout_ms: 10_000,
            idle_timeout_ms: 120_000,
            max_connections: 20_000,
            max_concurrent_requests: 4_096,
            max_upstream_body_bytes: 16 * 1024 * 1024,
            drain_delay_ms: 0,
        }
    }
}

/// `[logging]`: where request records go.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoggingConfig {
    /// Redis URL; absent = records go straight into the embedded store.
    pub redis_url: Option<String>,
    /// Redis stream name.
    pub stream: String,
    /// `XADD MAXLEN ~` bound.
    pub max_stream_len: u64,
    /// Where records wait while Redis is unreachable.
    pub spool_dir: String,
    /// Spool size past which new records are dropped (and counted).
    pub spool_max_bytes: u64,
    /// The store `consume` (or the embedded mode) writes into and the logs API reads:
    /// `sqlite://PATH` or `postgres://USER:PASSWORD@HOST:PORT/DB`.
    pub store: String,
    /// Keep `input`/`output` in records.
    pub capture_bodies: bool,
    /// Bound of the in-memory queue between requests and the writer.
    pub queue_capacity: usize,
    /// Patterns replaced in `input`, `output` and `error_message` before a record leaves:
    /// `email`, `phone`, `card`, or any regular expression.
    pub redact: Vec<String>,
    /// Logs older than this many days are removed from the store (by `consume`, or the
    /// embedded writer); absent: kept for ever.
    pub retention_days: Option<u32>,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        LoggingConfig {
            redis_url: None,
            stream: "switchboard:logs".to_owned(),
            max_stream_len: 10_000_000,
            spool_dir: "data/spool".to_owned(),
            spool_max_bytes: 1024 * 1024 * 1024,
            store: "sqlite://data/switchboard.db".to_owned(),
            capture_bodies: true,
            queue_capacity: 65_536,
            redact: Vec::new(),
            retention_days: None,
        }
    }
}

/// `[metrics]`: what the Prometheus series may be labelled with. Read once at start (the
/// series a process exposes must not change under a running scrape).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Distinct `provider/model` names that get a `model` label of their own (all providers
    /// together); later ones are counted as `<provider>/other`.
    pub max_passthrough_models: usize,
    /// Metadata keys added as labels of the request, duration, TTFT, token, retry, fallback,
    /// stream-timeout and invalid-JSON series (e.g. `["use_case", "language"]`).
    pub metadata_labels: Vec<String>,
    /// Distinct values each metadata label takes; later values are counted as `other`.
    pub max_label_values: usize,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            max_passthrough_models: 100,
            metadata_labels: Vec::new(),
            max_label_values: 50,
        }
    }
}

/// `[otel]`: OpenTelemetry traces (SPEC section 13), exported over OTLP/HTTP with protobuf.
/// Off unless `endpoint` is set. Read once at start.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtelConfig {
    /// The collector: a base URL (`http://127.0.0.1:4318`, `/v1/traces` is appended) or the
    /// full traces URL when it has a path. Absent: no spans.
    pub endpoint: Option<String>,
    /// `service.name` of the spans' resource.
    pub service_name: String,
    /// Adds the request's messages and the answer to the request span, as an event (redacted
    /// by `[logging] redact`, never for `disable_log` requests).
    pub capture_bodies: bool,
    /// Headers sent with every export (e.g. a hosted collector's API key); treated as secrets.
    pub headers: BTreeMap<String, String>,
    /// Spans wait at most this long before they are sent.
    pub export_interval_ms: u64,
    /// An export that takes longer fails (its spans are counted as dropped).
    pub export_timeout_ms: u64,
    /// Requests whose spans may wait for export; past it their spans are dropped and counted.
    pub queue_capacity: usize,
}

impl Default for OtelConfig {
    fn default() -> Self {
        OtelConfig {
            endpoint: None,
            service_name: "switchboard".to_owned(),
            capture_bodies: false,
            headers: BTreeMap::new(),
            export_interval_ms: 1000,
            export_timeout_ms: 5000,
            queue_capacity: 8192,
        }
    }
}

impl std::fmt::Debug for OtelConfig {
    // Hand-written so header values (credentials) never reach a debug print.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtelConfig")
            .field("endpoint", &self.endpoint)
            .field("service_name", &self.service_name)
            .field("capture_bodies", &self.capture_bodies)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("export_interval_ms", &self.export_interval_ms)
            .field("export_timeout_ms", &self.export_timeout_ms)
            .field("queue_capacity", &self.queue_capacity)
            .finish()
    }
}

/// The wire format a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// Any OpenAI-compatible chat completions API.
    Openai,
    /// Anthropic's Messages API, translated both ways.
    Anthropic,
    /// Azure OpenAI deployments.
    Azure,
}

impl ProviderKind {
    /// The name written in the config.
    pub const fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Openai => "openai",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Azure => "azure",
        }
    }
}

/// `[providers.<name>]`: one upstream API and its credentials.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// Wire format.
    pub kind: ProviderKind,
    /// Base URL, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    /// Credential; empty or absent sends none (local servers).
    #[serde(default)]
    pub api_key: Option<String>,
    /// Extra headers sent with every upstream request.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Azure: the `api-version` query parameter.
    #[serde(default)]
    pub api_version: Option<String>,
    /// Anthropic: `max_tokens` sent when the client sent none.
    #[serde(default)]
    pub default_max_tokens: Option<u32>,
    /// How this provider continues another target's text (`mid_stream = "continue"`):
    /// default `true` for `anthropic`, `false` for the other kinds.
    #[serde(default)]
    pub prefill: Option<Prefill>,
}

impl std::fmt::Debug for ProviderConfig {
    // Hand-written so the key never reaches a debug print.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("kind", &self.kind)
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("api_version", &self.api_version)
            .field("default_max_tokens", &self.default_max_tokens)
            .field("prefill", &self.prefill)
            .finish()
    }
}

/// How a JSON-mode stream is checked (`stream_json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum StreamJson {
    /// Relay chunks as they come; check and count when the stream ends.
    #[default]
    ValidateAtEnd,
    /// Hold the stream until it validates, so an invalid one can still fall back.
    Buffer,
}

/// `[defaults]` or `[models."<name>"]` as written: every key optional.
///
/// One struct serves both so `deny_unknown_fields` works (serde cannot combine it with
/// `flatten`); validation rejects `targets` under `[defaults]` and requires it on models.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySection {
    /// The fallback chain, tried in order (models only).
    pub targets: Option<Vec<Target>>,
    /// Extra tries on the same target before moving on.
    pub retries: Option<u32>,
    /// Backoff before the first retry; doubles per retry, with jitter.
    pub backoff_ms: Option<u64>,
    /// Error kinds retried on the same target (and, when `fallback_on` is not set anywhere
    /// this policy inherits from, fallen back from too).
    pub retry_on: Option<Vec<ErrorKind>>,
    /// Error kinds after which the chain moves to the next target.
    pub fallback_on: Option<Vec<ErrorKind>>,
    /// Streams: request sent -> first content-bearing chunk.
    pub first_token_timeout_ms: Option<u64>,
    /// Streams: longest gap between content-bearing chunks.
    pub stall_timeout_ms: Option<u64>,
    /// One attempt, end to end.
    pub timeout_ms: Option<u64>,
    /// The whole request, all attempts together.
    pub budget_ms: Option<u64>,
    /// Check JSON outputs and tool-call arguments.
    pub validate_json: Option<bool>,
    /// How JSON-mode streams are checked.
    pub stream_json: Option<StreamJson>,
    /// Consecutive failed attempts (of `retry_on` kinds) that open a target's circuit; 0 = off.
    pub circuit_failures: Option<u32>,
    /// How long an open circuit skips its target before one probe is let through.
    pub circuit_open_ms: Option<u64>,
    /// How the first target is chosen: `ordered` or `weighted`.
    pub load_balance: Option<LoadBalance>,
    /// Start the next target in parallel when no first token came after this long (a number
    /// of milliseconds, or `"auto"`); absent: no hedging.
    pub hedge_after_ms: Option<HedgeAfter>,
    /// The shortest delay `"auto"` hedging waits.
    pub hedge_min_ms: Option<u64>,
    /// A stream that fails after its first token: `error` (an error event) or `continue`
    /// (the next target able to continue finishes the answer).
    pub mid_stream: Option<MidStream>,
}

/// What a stream that fails after its first token does (`mid_stream`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MidStream {
    /// One SSE error event, no `[DONE]`.
    #[default]
    Error,
    /// The text so far goes to the next target able to continue it, and its chunks join the
    /// same client stream.
    Continue,
}

/// How a chain picks the target it tries first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadBalance {
    /// The targets in config order.
    #[default]
    Ordered,
    /// The first target drawn by `weight` among the targets that are up; the others follow in
    /// config order as fallbacks.
    Weighted,
}

/// One entry of a fallback chain.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// A `[providers.<name>]` key.
    pub provider: String,
    /// The model name the provider serves.
    pub model: String,
    /// USD per million prompt tokens (for `cost` in records).
    #[serde(default)]
    pub input_cost_per_mtok: Option<f64>,
    /// USD per million completion tokens.
    #[serde(default)]
    pub output_cost_per_mtok: Option<f64>,
    /// Share of first tries under `load_balance = "weighted"` (default 1).
    #[serde(default)]
    pub weight: Option<u32>,
    /// This target's own `prefill` (over its provider's): some models refuse prefills.
    #[serde(default)]
    pub prefill: Option<Prefill>,
}
