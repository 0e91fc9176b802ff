//! One upstream attempt, bounded by its clock: a whole answer (non-stream), or a stream read
//! up to its first content-bearing chunk (or to its end, when a JSON-mode stream is buffered).

use futures_util::StreamExt;
use serde_json::Value;
use switchboard_config::{ErrorKind, Policy};
use switchboard_otel::{SpanId, TraceContext};
use switchboard_providers::{
    ChatRequest, ChunkStream, Completion, ProviderError, RequestBody, StreamChunk, UpstreamTrace,
};
use tokio::time::Instant;

use crate::request::routing::RouteTarget;
use crate::telemetry::redact::Redactor;
use switchboard_record::AttemptRecord;

use super::fallback::{Attempted, Failure};
use super::json_check::JsonCheck;
use super::output::{OutputBuilder, message_tool_calls};
use super::stream_timing::{AttemptClock, Deadline};

/// What every attempt of one request shares.
pub struct AttemptContext<'a> {
    /// The client's body (Switchboard fields removed).
    pub body: &'a RequestBody,
    /// The model's policy.
    pub policy: &'a Policy,
    /// When the request's budget runs out.
    pub budget_end: Instant,
    /// The request's structured-output checks.
    pub check: &'a JsonCheck,
    /// Keeps credentials out of messages.
    pub redactor: &'a Redactor,
    /// The request's trace, when its spans are recorded (`[otel]`): each attempt then sends
    /// a `traceparent` naming its own span.
    pub trace: Option<&'a TraceContext>,
}

/// When an attempt started and the span it is: chosen before it starts, since its
/// `traceparent` names the span upstream, and kept when it is cancelled mid-way (a hedge).
#[derive(Debug, Clone, Copy)]
pub struct AttemptStart {
    /// When it started.
    pub at: Instant,
    /// Its span's id.
    pub span_id: SpanId,
    /// Its provider's `gen_ai.provider.name`.
    pub provider: &'static str,
}

impl AttemptStart {
    /// An attempt on `target` starting now.
    pub fn now(target: &RouteTarget) -> AttemptStart {
        AttemptStart {
            at: Instant::now(),
            span_id: switchboard_otel::new_span_id(),
            provider: target.provider.otel_name(),
        }
    }
}

/// A whole answer and the JSON check's verdict on it.
pub struct Answer {
    /// The answer.
    pub completion: Completion,
    /// `Some` where JSON was checked.
    pub json_valid: Option<bool>,
}

/// A stream that produced its first content-bearing chunk (or, buffered, all of them).
pub struct Committed {
    /// The rest of the upstream stream; `None` when it already ended.
    pub stream: Option<ChunkStream>,
    /// Chunks read so far, to send first.
    pub held: Vec<StreamChunk>,
    /// The attempt's clock.
    pub clock: AttemptClock,
    /// The message so far.
    pub output: OutputBuilder,
    /// `Some` when the whole stream was buffered and checked.
    pub json_valid: Option<bool>,
    /// Events the decoder could not read and skipped.
    pub skipped: SkippedEvents,
}

/// Stream events passed over because they could not be read (SPEC 10.1): how many, and the
/// first one's reason, for the record's warnings.
#[derive(Debug, Default)]
pub struct SkippedEvents {
    /// How many.
    pub count: u64,
    /// Why the first was unreadable.
    pub first: Option<String>,
}

impl SkippedEvents {
    /// One more skipped event.
    pub fn note(&mut self, why: String) {
        self.count += 1;
        self.first.get_or_insert(why);
    }

    /// The record's warning, when any event was skipped.
    pub fn warning(&self) -> Option<String> {
        let first = self.first.as_deref()?;
        Some(format!(
            "{} stream event(s) could not be read and were skipped (the first: {first})",
            self.count
        ))
    }
}

impl AttemptContext<'_> {
    fn request<'b>(
        &'b self,
        target: &'b RouteTarget,
        stream: bool,
        traceparent: Option<&'b str>,
    ) -> ChatRequest<'b> {
        ChatRequest {
            body: self.body,
            model: &target.target.model,
            stream,
            trace: traceparent.map(|traceparent| UpstreamTrace {
                traceparent,
                tracestate: self.trace.and_then(|t| t.tracestate.as_deref()),
            }),
        }
    }

    fn traceparent(&self, start: AttemptStart) -> Option<String> {
        self.trace.map(|trace| trace.traceparent(start.span_id))
    }

    fn record(
        &self,
        target: &RouteTarget,
        clock: &AttemptClock,
        status: Option<u16>,
        failure: Option<(ErrorKind, &str)>,
    ) -> AttemptRecord {
        AttemptRecord {
            provider_id: target.target.provider.clone(),
            provider_model: target.target.model.clone(),
            status_code: status,
            error_kind: failure.map(|(kind, _)| kind),
            error_message: failure.map(|(_, message)| message.to_owned()),
            latency: clock.started.elapsed().as_secs_f64(),
            time_to_first_token: clock.time_to_first_token().map(|d| d.as_secs_f64()),
            hedge: false,
            cancelled: false,
            continuation: false,
        }
    }

    fn failed<T>(
        &self,
        target: &RouteTarget,
        start: AttemptStart,
        clock: &AttemptClock,
        failure: Failure<T>,
    ) -> Attempted<T> {
        let failure = Failure {
            message: self.redactor.redact(failure.message),
            ..failure
        };
        let record = self.record(
            target,
            clock,
            failure.status,
            Some((failure.kind, &failure.message)),
        );
        Attempted {
            result: Err(failure),
            record,
            start,
        }
    }

    /// A non-stream attempt, bounded by `timeout_ms` and the budget.
    pub async fn complete(&self, target: &RouteTarget, start: AttemptStart) -> Attempted<Answer> {
        let clock = AttemptClock::start(start.at, self.policy, self.budget_end);
        let deadline = clock.end();
        let traceparent = self.traceparent(start);
        let call = target
            .provider
            .complete(self.request(target, false, traceparent.as_deref()));
        let completion = match tokio::time::timeout_at(deadline.at, call).await {
            Err(_) => return self.failed(target, start, &clock, timed_out(deadline)),
            Ok(Err(e)) => return self.failed(target, start, &clock, from_provider(e)),
            Ok(Ok(completion)) => completion,
        };
        // The verdict owns nothing of the completion, so an invalid answer can move into the
        // failure below without a copy of its message.
        let verdict = self.policy.validate_json.then(|| {
            let message = completion.message();
            let content = message
                .and_then(|m| m.get("content"))
                .and_then(Value::as_str);
            let calls = message.map(message_tool_calls).unwrap_or_default();
            self.check.check(content, calls)
        });
        let json_valid = match verdict {
            None | Some(Ok(None)) => None,
            Some(Ok(Some(()))) => Some(true),
            Some(Err(why)) => {
                let failure = Failure {
                    payload: Some(Answer {
                        completion,
                        json_valid: Some(false),
                    }),
                    ..Failure::new(ErrorKind::InvalidJson, Some(200), why)
                };
                return self.failed(target, start, &clock, failure);
            }
        };
        Attempted {
            start,
            record: self.record(target, &clock, Some(200), None),
            result: Ok(Answer {
                completion,
                json_valid,
            }),
        }
    }

    /// A stream attempt up to its first content-bearing chunk; with `buffer`, to its end and
    /// through the JSON check.
    pub async fn stream(
        &self,
        target: &RouteTarget,
        start: AttemptStart,
        buffer: bool,
    ) -> Attempted<Committed> {
        let mut clock = AttemptClock::start(start.at, self.policy, self.budget_end);
        let deadline = clock.next_content();
        let traceparent = self.traceparent(start);
        let call = target
            .provider
            .stream(self.request(target, true, traceparent.as_deref()));
        let mut stream = match tokio::time::timeout_at(deadline.at, call).await {
            Err(_) => return self.failed(target, start, &clock, timed_out(deadline)),
            Ok(Err(e)) => return self.failed(target, start, &clock, from_provider(e)),
            Ok(Ok(stream)) => stream,
        };
        let mut held = Vec::new();
        let mut output = OutputBuilder::default();
        let mut skipped = SkippedEvents::default();
        let ended = loop {
            let deadline = clock.next_content();
            let chunk = match tokio::time::timeout_at(deadline.at, stream.next()).await {
                Err(_) => return self.failed(target, start, &clock, timed_out(deadline)),
                Ok(None) => break true,
                Ok(Some(Err(e))) => return self.failed(target, start, &clock, from_provider(e)),
                Ok(Some(Ok(chunk))) => chunk,
            };
            if let Some(why) = chunk.info.skipped {
                target.metrics.event_skipped();
                skipped.note(why);
                continue;
            }
            let content = chunk.info.is_content_bearing();
            if content {
                clock.on_content();
            }
            output.push(&chunk.info);
            held.push(chunk);
            if content && !buffer {
                break false;
            }
        };
        let mut json_valid = None;
        if buffer {
            match self.check.check(output.content(), output.tool_calls()) {
                Ok(checked) => json_valid = checked.map(|()| true),
                Err(why) => {
                    let failure = Failure {
                        payload: Some(Committed {
                            stream: None,
                            held,
                            clock: clock.clone(),
                            output,
                            json_valid: Some(false),
                            skipped,
                        }),
                        ..Failure::new(ErrorKind::InvalidJson, Some(200), why)
                    };
                    return self.failed(target, start, &clock, failure);
                }
            }
        }
        Attempted {
            start,
            record: self.record(target, &clock, Some(200), None),
            result: Ok(Committed {
                stream: (!ended).then_some(stream),
                held,
                clock,
                output,
                json_valid,
                skipped,
            }),
        }
    }
}

fn timed_out<T>(deadline: Deadline) -> Failure<T> {
    Failure::new(deadline.kind, None, deadline.what.to_owned())
}

fn from_provider<T>(error: ProviderError) -> Failure<T> {
    Failure {
        retry_after: error.retry_after(),
        untranslatable: matches!(error, ProviderError::Translate { .. }),
        ..Failure::new(error.kind(), error.status(), error.to_string())
    }
}
