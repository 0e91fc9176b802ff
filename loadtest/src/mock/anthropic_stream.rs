//! The task that writes one Anthropic Messages SSE stream with real timing:
//! `message_start`, the `ttft` wait (with `ping`s and keep-alive comments),
//! content blocks with their deltas, `message_delta`, `message_stop`.
//! `stall_after` / `drop_after` count content deltas.

use std::sync::Arc;

use bytes::Bytes;
use tokio::time::Instant;

use crate::mock::anthropic::{EventWriter, stop_reason};
use crate::mock::journal::Journal;
use crate::mock::openai::{Answer, ChunkWriter, split_even};
use crate::mock::script::Plan;
use crate::mock::stream::{self, Body, Gone, Next, Sink, checkpoint};

/// Everything one Anthropic stream needs.
pub(crate) struct MessagesJob {
    /// Renders `message_start` (the other events need no state).
    pub writer: EventWriter,
    /// The resolved script.
    pub plan: Plan,
    /// Input tokens reported in `message_start`.
    pub input_tokens: u64,
}

/// Starts the writer task of `job` and returns the body it feeds. A client
/// that goes away before the stream is finished is counted in `journal`.
pub(crate) fn spawn(job: MessagesJob, journal: Arc<Journal>) -> Body {
    let (tx, body) = stream::channel();
    tokio::spawn(async move {
        let sink = Sink { tx };
        if run(&sink, job).await.is_err() {
            journal.stream_cancelled();
        }
    });
    body
}

/// One SSE event of the body, and whether it is a content delta (what
/// `chunks`, `chunk_ms`, `stall_after` and `drop_after` count).
struct Event {
    bytes: Bytes,
    delta: bool,
}

async fn run(sink: &Sink, job: MessagesJob) -> Result<(), Gone> {
    let MessagesJob {
        writer,
        plan,
        input_tokens,
    } = job;
    sink.send(writer.message_start(input_tokens)).await?;
    wait_first_token(sink, &plan).await?;

    let mut deltas = 0;
    for event in body_events(&plan) {
        if event.delta {
            if let Next::Ended = checkpoint(sink, &plan, deltas).await? {
                return Ok(());
            }
            if deltas > 0 {
                sink.pause(plan.chunk_gap).await?;
            }
        }
        sink.send(event.bytes).await?;
        if event.delta {
            deltas += 1;
            if let Some(kind) = plan.error_event.as_deref().filter(|_| deltas == 1) {
                // Anthropic ends the stream after an error event.
                return sink.send(EventWriter::error(kind)).await;
            }
        }
    }
    if let Next::Ended = checkpoint(sink, &plan, deltas).await? {
        return Ok(());
    }
    sink.send(EventWriter::message_delta(
        stop_reason(&plan.answer),
        plan.answer.completion_tokens(),
    ))
    .await?;
    sink.send(EventWriter::message_stop()).await
}

/// Waits `ttft`, sending the plan's `ping`s evenly spread over the wait and,
/// with `keepalive`, an SSE comment every `keepalive` meanwhile.
async fn wait_first_token(sink: &Sink, plan: &Plan) -> Result<(), Gone> {
    let start = Instant::now();
    let deadline = start + plan.ttft;
    let mut schedule: Vec<(Instant, Bytes)> = Vec::new();
    let slots = u32::try_from(plan.pings + 1).unwrap_or(u32::MAX);
    for i in 0..plan.pings {
        let nth = u32::try_from(i + 1).unwrap_or(u32::MAX);
        schedule.push((start + plan.ttft * nth / slots, EventWriter::ping()));
    }
    if let Some(every) = plan.keepalive.filter(|d| !d.is_zero()) {
        let mut next = start + every;
        while next < deadline {
            schedule.push((next, ChunkWriter::keepalive()));
            next += every;
        }
    }
    // Stable: at equal times pings keep their order before comments.
    schedule.sort_by_key(|(at, _)| *at);
    for (at, bytes) in schedule {
        sink.pause_until(at).await?;
        sink.send(bytes).await?;
    }
    sink.pause_until(deadline).await
}

/// The content blocks: one text block split into `chunks` deltas, or per
/// tool call one `tool_use` block with its arguments split into `chunks`
/// `input_json_delta`s.
fn body_events(plan: &Plan) -> Vec<Event> {
    let frame = |bytes| Event {
        bytes,
        delta: false,
    };
    let delta = |bytes| Event { bytes, delta: true };
    let mut events = Vec::new();
    match &plan.answer {
        Answer::Text(text) => {
            events.push(frame(EventWriter::text_start(0)));
            for piece in split_even(text, plan.chunks) {
                events.push(delta(EventWriter::text_delta(0, piece)));
            }
            events.push(frame(EventWriter::block_stop(0)));
        }
        Answer::Tools { name, args, count } => {
            for index in 0..*count {
                events.push(frame(EventWriter::tool_start(index, index, name)));
                for fragment in split_even(args, plan.chunks) {
                    events.push(delta(EventWriter::json_delta(index, fragment)));
                }
                events.push(frame(EventWriter::block_stop(index)));
            }
        }
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::script::Script;

    #[test]
    fn body_events_count_deltas() {
        let plan = Script::parse("chunks=2").unwrap().plan(1);
        let events = body_events(&plan);
        assert_eq!(events.iter().filter(|e| e.delta).count(), 2);
        assert_eq!(events.len(), 4);
        let plan = Script::parse("tool_call=f&parallel_tools=2&chunks=3")
            .unwrap()
            .plan(1);
        let events = body_events(&plan);
        assert_eq!(events.iter().filter(|e| e.delta).count(), 6);
        assert_eq!(events.len(), 10);
    }
}
