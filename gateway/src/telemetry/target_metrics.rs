//! Metric handles resolved once per (model label, provider) pair, so the request path records
//! into ready handles instead of building label strings and looking series up per request.
//! With `[metrics] metadata_labels`, each pair keeps one variant per combination of label
//! values it has met (bounded by `max_label_values`), resolved the same way.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use metrics::{Counter, Histogram, Label, counter, histogram};
use switchboard_config::ErrorKind;
use switchboard_record::RequestStatus;

use super::metadata_labels::SeriesLabels;

/// The series of one chain target under one `model` label (or of a request no target served).
/// Each handle is registered the first time it is used, so only series that happened are
/// exposed, and after that recording is one atomic operation.
pub struct TargetMetrics {
    model: Arc<str>,
    provider: Arc<str>,
    /// Metadata label values these series carry (none without `metadata_labels`).
    extra: SeriesLabels,
    /// The variants per metadata label values (kept on the unlabelled series only).
    variants: Mutex<HashMap<SeriesLabels, Arc<TargetMetrics>>>,
    requests: [OnceLock<Counter>; 3],
    duration: OnceLock<Histogram>,
    ttft: OnceLock<Histogram>,
    prompt_tokens: OnceLock<Counter>,
    completion_tokens: OnceLock<Counter>,
}

impl TargetMetrics {
    /// The series of `model` (a bounded label) served by `provider` (a config name, or empty
    /// when nothing was tried).
    pub fn new(model: Arc<str>, provider: Arc<str>) -> TargetMetrics {
        TargetMetrics::with_extra(model, provider, SeriesLabels::default())
    }

    fn with_extra(model: Arc<str>, provider: Arc<str>, extra: SeriesLabels) -> TargetMetrics {
        TargetMetrics {
            model,
            provider,
            extra,
            variants: Mutex::default(),
            requests: Default::default(),
            duration: OnceLock::new(),
            ttft: OnceLock::new(),
            prompt_tokens: OnceLock::new(),
            completion_tokens: OnceLock::new(),
        }
    }

    /// The `model` label these series carry.
    pub fn model_label(&self) -> &str {
        &self.model
    }

    /// The same series with a request's metadata label values added (these very series when
    /// no metadata label is configured).
    pub fn labelled(self: &Arc<Self>, labels: &SeriesLabels) -> Arc<TargetMetrics> {
        if labels.is_empty() {
            return self.clone();
        }
        let mut variants = self.variants.lock().unwrap_or_else(|e| e.into_inner());
        variants
            .entry(labels.clone())
            .or_insert_with(|| {
                Arc::new(TargetMetrics::with_extra(
                    self.model.clone(),
                    self.provider.clone(),
                    labels.clone(),
                ))
            })
            .clone()
    }

    /// `model` and `provider` (named `provider_label`), then `own`, then the metadata labels.
    fn labels_with(
        &self,
        provider_label: &'static str,
        own: &[(&'static str, Arc<str>)],
    ) -> Vec<Label> {
        let mut labels = vec![
            Label::new("model", self.model.clone()),
            Label::new(provider_label, self.provider.clone()),
        ];
        labels.extend(own.iter().map(|(k, v)| Label::new(*k, v.clone())));
        labels.extend(self.extra.pairs().map(|(k, v)| Label::new(k, v)));
        labels
    }

    fn labels(&self, own: &[(&'static str, &'static str)]) -> Vec<Label> {
        let own: Vec<_> = own.iter().map(|(k, v)| (*k, Arc::from(*v))).collect();
        self.labels_with("provider", &own)
    }

    /// One request ended.
    pub fn request_finished(&self, status: RequestStatus, latency: Duration) {
        let index = match status {
            RequestStatus::Success => 0,
            RequestStatus::Error => 1,
            RequestStatus::ClientDisconnected => 2,
        };
        self.requests[index]
            .get_or_init(|| {
                counter!(
                    "switchboard_requests_total",
                    self.labels(&[("status", status.as_str())])
                )
            })
            .increment(1);
        self.duration
            .get_or_init(|| histogram!("switchboard_request_duration_seconds", self.labels(&[])))
            .record(latency.as_secs_f64());
    }

    /// A stream's first content-bearing chunk reached the client.
    pub fn first_token(&self, since_start: Duration) {
        self.ttft
            .get_or_init(|| histogram!("switchboard_time_to_first_token_seconds", self.labels(&[])))
            .record(since_start.as_secs_f64());
    }

    /// Tokens used by a request.
    pub fn tokens(&self, prompt: u64, completion: u64) {
        let tokens = |kind: &'static str| {
            counter!("switchboard_tokens_total", self.labels(&[("type", kind)]))
        };
        self.prompt_tokens
            .get_or_init(|| tokens("prompt"))
            .increment(prompt);
        self.completion_tokens
            .get_or_init(|| tokens("completion"))
            .increment(completion);
    }

    // The series below count failures: rare enough to be looked up when they happen.

    /// The same target is tried again after a failure of `reason`.
    pub fn retry(&self, reason: ErrorKind) {
        counter!(
            "switchboard_retries_total",
            self.labels(&[("reason", reason.as_str())])
        )
        .increment(1);
    }

    /// The chain moves on from this target to `next` after a failure of `reason`.
    pub fn fallback_to(&self, next: &TargetMetrics, reason: ErrorKind) {
        let labels = self.labels_with(
            "from_provider",
            &[
                ("to_provider", next.provider.clone()),
                ("reason", Arc::from(reason.as_str())),
            ],
        );
        counter!("switchboard_fallbacks_total", labels).increment(1);
    }

    /// An attempt failed: counts the timeout and invalid-JSON kinds.
    pub fn attempt_failed(&self, kind: ErrorKind) {
        let timeout_kind = match kind {
            ErrorKind::FirstTokenTimeout => "first_token",
            ErrorKind::Stall => "stall",
            ErrorKind::Timeout => "total",
            ErrorKind::InvalidJson => return self.invalid_json(),
            _ => return,
        };
        counter!(
            "switchboard_stream_timeouts_total",
            self.labels(&[("kind", timeout_kind)])
        )
        .increment(1);
    }

    /// A stream of this target that failed with `reason` after its first token was finished
    /// by `next`.
    pub fn continued_on(&self, next: &TargetMetrics, reason: ErrorKind) {
        let labels = self.labels_with(
            "from_provider",
            &[
                ("to_provider", next.provider.clone()),
                ("reason", Arc::from(reason.as_str())),
            ],
        );
        counter!("switchboard_continuations_total", labels).increment(1);
    }

    /// A stream event of this target could not be read and was skipped.
    pub fn event_skipped(&self) {
        counter!("switchboard_stream_events_skipped_total", self.labels(&[])).increment(1);
    }

    /// A hedge on this target ran: it produced content first (`won`) or not.
    pub fn hedged(&self, won: bool) {
        let outcome = if won { "won" } else { "lost" };
        counter!(
            "switchboard_hedges_total",
            self.labels(&[("outcome", outcome)])
        )
        .increment(1);
    }

    /// An output failed the JSON check.
    pub fn invalid_json(&self) {
        counter!("switchboard_invalid_json_total", self.labels(&[])).increment(1);
    }
}
