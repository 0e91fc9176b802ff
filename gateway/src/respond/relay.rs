//! After commit: relays the rest of the winning stream to the client, timing each gap, and
//! ends it with `[DONE]`, or with one error event when the provider fails mid-stream, unless
//! `mid_stream = "continue"` finds another target to finish the answer ([`super::continuation`]).

use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use switchboard_config::ErrorKind;
use switchboard_providers::StreamChunk;
use tokio::sync::mpsc::Sender;
use tokio::sync::mpsc::error::TrySendError;
use tokio::time::Instant;

use crate::http::sse;
use crate::request_log::RequestLog;
use switchboard_record::{RequestStatus, Usage};

use crate::engine::attempt::{AttemptContext, AttemptStart, Committed};
use crate::engine::fallback::{Attempted, NotedAttempt};
use crate::engine::json_check::JsonCheck;

use super::continuation::{ChunkIdentity, Continuation, drop_repeated_whitespace, request_body};

/// Everything the relay needs after the response head went out.
pub struct Relay {
    /// The winning stream.
    pub committed: Committed,
    /// Feeds the response body.
    pub tx: Sender<Bytes>,
    /// The request's record.
    pub log: RequestLog,
    /// The client asked for the usage chunk.
    pub include_usage: bool,
    /// Structured-output checks (run at the end unless the stream was buffered).
    pub check: JsonCheck,
    /// `validate_json` of the policy.
    pub validate_json: bool,
    /// Set with `mid_stream = "continue"`: what a continuation needs.
    pub continuation: Option<Continuation>,
}

/// The relay's own bookkeeping across a continuation.
#[derive(Default)]
struct Progress {
    /// The index in the record's attempts of the attempt being relayed.
    attempt: Option<usize>,
    /// Continuation chunks are rewritten to the client stream's identity.
    rewrite: Option<ChunkIdentity>,
    /// The longest gap between content over the attempts relayed before this one, and across
    /// each switch from one to the next.
    max_stall: Duration,
    /// Tokens the attempts relayed before this one reported.
    usage_before: Option<Usage>,
}

enum End {
    Done,
    Failed(ErrorKind, String),
    ClientGone,
}

impl Relay {
    /// Runs to the end of the stream (or of the client).
    pub async fn run(mut self) {
        let mut progress = Progress {
            attempt: self.log.chain.attempts.len().checked_sub(1),
            ..Progress::default()
        };
        let mut end = self.pump(&mut progress).await;
        // With `mid_stream = "continue"` every mid-stream failure is settled there.
        let mut settled = false;
        if let End::Failed(kind, message) = &end
            && self.continuation.is_some()
        {
            end = self
                .continue_after(*kind, message.clone(), &mut progress)
                .await;
            settled = true;
        }
        let Relay {
            committed,
            tx,
            mut log,
            check,
            validate_json,
            ..
        } = self;
        let Committed {
            clock,
            output,
            json_valid,
            skipped,
            ..
        } = committed;
        log.warnings.extend(skipped.warning());
        log.max_stall = clock
            .first_content
            .map(|_| clock.max_stall.max(progress.max_stall));
        log.usage = match (progress.usage_before, output.usage) {
            (Some(before), Some(now)) => Some(before.plus(now)),
            (before, now) => now.or(before),
        };
        log.json_valid = json_valid;
        if log.trace.is_some() {
            log.finish_reasons = output.finish_reason.iter().cloned().collect();
        }
        if let Some(noted) = progress.attempt.and_then(|i| log.chain.attempts.get_mut(i)) {
            noted.record.latency = clock.started.elapsed().as_secs_f64();
        }
        match end {
            End::Done => {
                if validate_json && json_valid.is_none() {
                    let verdict = check.check(output.content(), output.tool_calls());
                    log.json_valid = verdict.as_ref().ok().and_then(|c| c.map(|()| true));
                    if let Err(why) = verdict {
                        log.json_valid = Some(false);
                        log.warnings
                            .push(format!("invalid JSON at the end of the stream: {why}"));
                        log.metrics.invalid_json();
                    }
                }
                log.output = Some(output.message());
                if tx.send(Bytes::from_static(sse::DONE)).await.is_err() {
                    log.finish(RequestStatus::ClientDisconnected, 200, Some(gone()));
                } else {
                    log.finish(RequestStatus::Success, 200, None);
                }
            }
            End::Failed(kind, message) => {
                if !settled {
                    log.metrics.attempt_failed(kind);
                    if let Some(noted) = log.chain.attempts.last_mut() {
                        noted.record.error_kind = Some(kind);
                        noted.record.error_message = Some(message.clone());
                    }
                }
                log.output = Some(output.message());
                let text = format!("The upstream stream failed after it started: {message}");
                let _ = tx.send(sse::error_event(kind, &text)).await;
                log.finish(RequestStatus::Error, 200, Some(text));
            }
            End::ClientGone => {
                log.output = Some(output.message());
                log.finish(RequestStatus::ClientDisconnected, 200, Some(gone()));
            }
        }
    }

    async fn pump(&mut self, progress: &mut Progress) -> End {
        for chunk in std::mem::take(&mut self.committed.held) {
            if !send_chunk(&self.tx, self.include_usage, &chunk, progress).await {
                return End::ClientGone;
            }
        }
        let Some(mut stream) = self.committed.stream.take() else {
            return End::Done;
        };
        // One timer for the whole relay, moved to each chunk's deadline. A deadline mostly moves
        // later, which tokio's timer takes without touching its wheel; a new timeout per chunk
        // registered and cancelled a wheel entry every time.
        let mut deadline = self.committed.clock.next_content();
        let timer = tokio::time::sleep_until(deadline.at);
        tokio::pin!(timer);
        // Likewise one wait for the client to leave, not a new one per chunk.
        let client_gone = self.tx.closed();
        tokio::pin!(client_gone);
        loop {
            let due = self.committed.clock.next_content();
            if due.at != deadline.at {
                timer.as_mut().reset(due.at);
            }
            deadline = due;
            let next = tokio::select! {
                biased;
                next = stream.next() => next,
                () = &mut timer => return End::Failed(deadline.kind, deadline.what.to_owned()),
                () = &mut client_gone => return End::ClientGone,
            };
            let chunk = match next {
                None => return End::Done,
                Some(Err(e)) => return End::Failed(e.kind(), e.to_string()),
                Some(Ok(chunk)) => chunk,
            };
            if let Some(why) = chunk.info.skipped {
                self.log.metrics.event_skipped();
                self.committed.skipped.note(why);
                continue;
            }
            if chunk.info.is_content_bearing() {
                self.committed.clock.on_content();
            }
            self.committed.output.push(&chunk.info);
            let sent_at = Instant::now();
            if !send_chunk(&self.tx, self.include_usage, &chunk, progress).await {
                return End::ClientGone;
            }
            self.committed.clock.exclude(sent_at.elapsed());
        }
    }

    /// After the relayed stream failed with `kind`: asks the next target able to continue to
    /// go on from the text sent so far and relays it, as often as targets are left; the end
    /// of the last one relayed, or the real failure when no target could continue.
    async fn continue_after(
        &mut self,
        kind: ErrorKind,
        message: String,
        progress: &mut Progress,
    ) -> End {
        let Some(mut next) = self.continuation.take() else {
            return End::Failed(kind, message);
        };
        let mut failure = (kind, message);
        loop {
            self.settle_failure(&next, progress, &failure);
            let policy = &next.route.policy;
            let so_far = self.committed.output.content().unwrap_or("");
            let text = so_far.trim_end().to_owned();
            let ended_in_space = so_far.len() > text.len();
            let in_tool_call = self.committed.output.tool_calls().next().is_some();
            if !policy.falls_back_on(failure.0) || in_tool_call || text.is_empty() {
                return End::Failed(failure.0, failure.1);
            }
            let Some(body) = self.log.body.as_ref() else {
                return End::Failed(failure.0, failure.1);
            };
            // Asks each candidate in turn until one speaks.
            let committed = loop {
                if Instant::now() >= next.budget_end {
                    return End::Failed(failure.0, failure.1);
                }
                let Some(index) = next.next_candidate() else {
                    return End::Failed(failure.0, failure.1);
                };
                let route = next.route.clone();
                let target = &route.targets[index];
                let body = request_body(body, &text, target.prefill);
                let ctx = AttemptContext {
                    body: &body,
                    policy: &route.policy,
                    budget_end: next.budget_end,
                    check: &self.check,
                    redactor: &next.live.redactor,
                    trace: self.log.trace.as_ref(),
                };
                let Attempted {
                    result,
                    mut record,
                    start,
                } = ctx.stream(target, AttemptStart::now(target), false).await;
                record.continuation = true;
                // A continuation is an attempt like any other for the target's breaker.
                let ttft = record.time_to_first_token.map(Duration::from_secs_f64);
                let failed = result
                    .as_ref()
                    .err()
                    .map(|f| route.policy.falls_back_on(f.kind));
                if failed != Some(false) {
                    let (circuit_failures, open) =
                        (route.policy.circuit_failures, route.policy.circuit_open());
                    target
                        .state
                        .record(failed.is_some(), ttft, circuit_failures, open);
                }
                let position = self.log.chain.attempts.last().map_or(0, |n| n.position + 1);
                self.log.chain.attempts.push(NotedAttempt {
                    position,
                    record,
                    start,
                });
                match result {
                    Ok(committed) => {
                        next.route.targets[next.serving]
                            .metrics
                            .labelled(&self.log.labels)
                            .continued_on(&target.metrics, failure.0);
                        break (index, committed);
                    }
                    Err(refused) => {
                        target
                            .metrics
                            .labelled(&self.log.labels)
                            .attempt_failed(refused.kind);
                        // A 4xx to a continuation is a refusal of the prefill: not again.
                        if refused.kind == ErrorKind::ClientError {
                            target.state.mark_refuses_prefill();
                        }
                    }
                }
            };
            let (index, committed) = committed;
            self.log.continued = true;
            next.serving = index;
            progress.attempt = Some(self.log.chain.attempts.len() - 1);
            let before = &self.committed.clock;
            let switch_gap = match (before.last_content(), committed.clock.first_content) {
                (Some(last), Some(first)) => first.saturating_duration_since(last),
                _ => Duration::ZERO,
            };
            progress.max_stall = progress.max_stall.max(before.max_stall).max(switch_gap);
            if let Some(used) = self.committed.output.usage.take() {
                progress.usage_before = Some(match progress.usage_before {
                    Some(earlier) => earlier.plus(used),
                    None => used,
                });
            }
            let Committed {
                stream,
                mut held,
                clock,
                skipped,
                ..
            } = committed;
            self.committed.skipped.count += skipped.count;
            if let Some(first) = skipped.first {
                self.committed.skipped.first.get_or_insert(first);
            }
            if ended_in_space {
                drop_repeated_whitespace(&mut held);
            }
            for chunk in &held {
                self.committed.output.push(&chunk.info);
            }
            self.committed.stream = stream;
            self.committed.held = held;
            self.committed.clock = clock;
            progress.rewrite = Some(next.identity.clone());
            match self.pump(progress).await {
                End::Failed(kind, message) => failure = (kind, message),
                other => return other,
            }
        }
    }

    /// Marks the relayed attempt as failed mid-stream with `failure` and counts it.
    fn settle_failure(
        &mut self,
        next: &Continuation,
        progress: &Progress,
        failure: &(ErrorKind, String),
    ) {
        let (kind, message) = failure;
        next.route.targets[next.serving]
            .metrics
            .labelled(&self.log.labels)
            .attempt_failed(*kind);
        if let Some(noted) = progress
            .attempt
            .and_then(|i| self.log.chain.attempts.get_mut(i))
        {
            noted.record.error_kind = Some(*kind);
            noted.record.error_message = Some(message.clone());
            noted.record.latency = self.committed.clock.started.elapsed().as_secs_f64();
        }
    }
}

/// Sends one chunk (the usage chunk only when the client asked; a continuation's chunks in
/// the client stream's name); false when the client left.
async fn send_chunk(
    tx: &Sender<Bytes>,
    include_usage: bool,
    chunk: &StreamChunk,
    progress: &Progress,
) -> bool {
    let usage_only = chunk.info.no_choices && chunk.info.usage.is_some();
    if usage_only && !include_usage {
        return true;
    }
    let frame = match &progress.rewrite {
        None => sse::event(&chunk.data),
        Some(identity) => match identity.rewrite(&chunk.data) {
            Some(data) => sse::event(&data),
            None => return true,
        },
    };
    // A free slot takes the frame without the async send's permit wait (the usual case: the
    // client reads as fast as the provider writes).
    match tx.try_send(frame) {
        Ok(()) => true,
        Err(TrySendError::Full(frame)) => tx.send(frame).await.is_ok(),
        Err(TrySendError::Closed(_)) => false,
    }
}

fn gone() -> String {
    "the client closed the connection before the stream ended".to_owned()
}
