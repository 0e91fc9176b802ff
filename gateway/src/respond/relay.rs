//! After commit: relays the rest of the winning stream to the client, timing each gap, and
//! ends it with `[DONE]`, or with one error event when the provider fails mid-stream.
//!
//! A provider that stalls after the first byte ends the stream here today; continuing it on
//! the next target (sending the text so far as an assistant prefix) belongs in this loop.

use bytes::Bytes;
use futures_util::StreamExt;
use switchboard_config::ErrorKind;
use switchboard_providers::StreamChunk;
use tokio::sync::mpsc::Sender;
use tokio::time::Instant;

use crate::http::sse;
use crate::request_log::RequestLog;
use switchboard_record::RequestStatus;

use crate::engine::attempt::Committed;
use crate::engine::json_check::JsonCheck;

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
}

enum End {
    Done,
    Failed(ErrorKind, String),
    ClientGone,
}

impl Relay {
    /// Runs to the end of the stream (or of the client).
    pub async fn run(mut self) {
        let end = self.pump().await;
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
            ..
        } = committed;
        log.max_stall = clock.first_content.map(|_| clock.max_stall);
        log.usage = output.usage;
        log.json_valid = json_valid;
        if let Some((_, attempt)) = log.chain.attempts.last_mut() {
            attempt.latency = clock.started.elapsed().as_secs_f64();
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
                log.metrics.attempt_failed(kind);
                if let Some((_, attempt)) = log.chain.attempts.last_mut() {
                    attempt.error_kind = Some(kind);
                    attempt.error_message = Some(message.clone());
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

    async fn pump(&mut self) -> End {
        for chunk in std::mem::take(&mut self.committed.held) {
            if !send_chunk(&self.tx, self.include_usage, &chunk).await {
                return End::ClientGone;
            }
        }
        let Some(mut stream) = self.committed.stream.take() else {
            return End::Done;
        };
        loop {
            let deadline = self.committed.clock.next_content();
            let next = tokio::select! {
                biased;
                next = tokio::time::timeout_at(deadline.at, stream.next()) => next,
                () = self.tx.closed() => return End::ClientGone,
            };
            let chunk = match next {
                Err(_) => return End::Failed(deadline.kind, deadline.what.to_owned()),
                Ok(None) => return End::Done,
                Ok(Some(Err(e))) => return End::Failed(e.kind(), e.to_string()),
                Ok(Some(Ok(chunk))) => chunk,
            };
            if chunk.info.is_content_bearing() {
                self.committed.clock.on_content();
            }
            self.committed.output.push(&chunk.info);
            let sent_at = Instant::now();
            if !send_chunk(&self.tx, self.include_usage, &chunk).await {
                return End::ClientGone;
            }
            self.committed.clock.exclude(sent_at.elapsed());
        }
    }
}

/// Sends one chunk (the usage chunk only when the client asked); false when the client left.
async fn send_chunk(tx: &Sender<Bytes>, include_usage: bool, chunk: &StreamChunk) -> bool {
    let usage_only = chunk.info.no_choices && chunk.info.usage.is_some();
    if usage_only && !include_usage {
        return true;
    }
    tx.send(sse::event(&chunk.data)).await.is_ok()
}

fn gone() -> String {
    "the client closed the connection before the stream ended".to_owned()
}
