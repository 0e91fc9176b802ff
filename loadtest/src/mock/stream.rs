//! Response bodies, and the task that writes one SSE stream with real timing:
//! every event is its own body frame, fed through a bounded channel, so
//! delays, stalls, cuts and client disconnects happen on the wire.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::Frame;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep, sleep_until};

use crate::mock::journal::Journal;
use crate::mock::openai::{Answer, ChunkWriter, Usage, split_even};
use crate::mock::script::{Plan, STALL_HOLD};

/// Error type of response bodies.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// Every response body of the mock.
pub(crate) type Body = BoxBody<Bytes, BoxError>;

type Item = Result<Frame<Bytes>, BoxError>;

/// Frames buffered between the writer task and hyper.
const CHANNEL_FRAMES: usize = 16;
/// How often a cut re-checks that hyper has taken every queued frame.
const DRAIN_POLL: Duration = Duration::from_millis(1);
/// Time given to hyper to flush the last frames before the body fails.
const FLUSH_GRACE: Duration = Duration::from_millis(10);

/// A body holding `bytes`.
pub(crate) fn full(bytes: Bytes) -> Body {
    Full::new(bytes)
        .map_err(|never: Infallible| match never {})
        .boxed()
}

/// A body that sends the first half of `bytes`, then fails, which cuts the
/// connection mid-response.
pub(crate) fn truncated(bytes: Bytes) -> Body {
    let (tx, body) = channel();
    tokio::spawn(async move {
        let sink = Sink { tx };
        let half = bytes.slice(..bytes.len() / 2);
        // A client that left early is not a cancelled *stream*.
        if sink.send(half).await.is_ok() {
            let _ = sink.cut().await;
        }
    });
    body
}

/// A bounded channel and the body it feeds, one frame per item.
pub(crate) fn channel() -> (mpsc::Sender<Item>, Body) {
    let (tx, mut rx) = mpsc::channel::<Item>(CHANNEL_FRAMES);
    let body = StreamBody::new(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))).boxed();
    (tx, body)
}

fn cut_error() -> BoxError {
    "mock: stream dropped by script".into()
}

/// Everything one stream needs.
pub(crate) struct StreamJob {
    /// Renders the events.
    pub writer: ChunkWriter,
    /// The resolved script.
    pub plan: Plan,
    /// The final usage chunk, if the client asked for it.
    pub usage: Option<Usage>,
}

/// Starts the writer task of `job` and returns the body it feeds. A client
/// that goes away before the stream is finished is counted in `journal`.
pub(crate) fn spawn(job: StreamJob, journal: Arc<Journal>) -> Body {
    let (tx, body) = channel();
    tokio::spawn(async move {
        let sink = Sink { tx };
        if run(&sink, job).await.is_err() {
            journal.stream_cancelled();
        }
    });
    body
}

/// The client went away (hyper dropped the body).
pub(crate) struct Gone;

/// The writing end of a streamed body.
pub(crate) struct Sink {
    pub(crate) tx: mpsc::Sender<Item>,
}

impl Sink {
    /// Queues one frame.
    pub(crate) async fn send(&self, event: Bytes) -> Result<(), Gone> {
        self.tx.send(Ok(Frame::data(event))).await.map_err(|_| Gone)
    }

    /// Waits until `deadline`, or fails early if the client goes away.
    pub(crate) async fn pause_until(&self, deadline: Instant) -> Result<(), Gone> {
        tokio::select! {
            () = sleep_until(deadline) => Ok(()),
            () = self.tx.closed() => Err(Gone),
        }
    }

    /// Waits `d`, or fails early if the client goes away.
    pub(crate) async fn pause(&self, d: Duration) -> Result<(), Gone> {
        if d.is_zero() {
            return Ok(());
        }
        self.pause_until(Instant::now() + d).await
    }

    /// Fails the body, after letting hyper write out what was already sent:
    /// hyper drops its unflushed write buffer when a body errors, so wait
    /// until the channel is drained and give the connection a moment to flush.
    pub(crate) async fn cut(&self) -> Result<(), Gone> {
        while self.tx.capacity() < self.tx.max_capacity() {
            self.pause(DRAIN_POLL).await?;
        }
        self.pause(FLUSH_GRACE).await?;
        self.tx.send(Err(cut_error())).await.map_err(|_| Gone)
    }
}

/// Whether the stream goes on after a checkpoint.
pub(crate) enum Next {
    Continue,
    Ended,
}

async fn run(sink: &Sink, job: StreamJob) -> Result<(), Gone> {
    let StreamJob {
        writer,
        plan,
        usage,
    } = job;
    sink.send(writer.role()).await?;
    wait_first_token(sink, plan.ttft, plan.keepalive).await?;

    let events = body_events(&writer, &plan);
    let total = events.len();
    for (sent, event) in events.into_iter().enumerate() {
        if let Next::Ended = checkpoint(sink, &plan, sent).await? {
            return Ok(());
        }
        if sent > 0 {
            sink.pause(plan.chunk_gap).await?;
        }
        sink.send(event).await?;
    }
    if let Next::Ended = checkpoint(sink, &plan, total).await? {
        return Ok(());
    }

    sink.send(writer.finish(plan.answer.finish_reason()))
        .await?;
    if let Some(usage) = usage {
        sink.send(writer.usage(usage)).await?;
    }
    sink.send(ChunkWriter::done()).await
}

/// Waits `ttft`, sending an SSE comment every `keepalive` meanwhile.
async fn wait_first_token(
    sink: &Sink,
    ttft: Duration,
    keepalive: Option<Duration>,
) -> Result<(), Gone> {
    let deadline = Instant::now() + ttft;
    if let Some(every) = keepalive {
        let mut next = Instant::now() + every;
        while next < deadline {
            sink.pause_until(next).await?;
            sink.send(ChunkWriter::keepalive()).await?;
            next += every;
        }
    }
    sink.pause_until(deadline).await
}

/// Applies `stall_after` / `drop_after` once `sent` content events went out.
pub(crate) async fn checkpoint(sink: &Sink, plan: &Plan, sent: usize) -> Result<Next, Gone> {
    if plan.garbage_after == Some(sent) {
        // Named like an Anthropic delta, so both decoders meet an event they cannot read.
        sink.send(Bytes::from_static(
            b"event: content_block_delta\ndata: {\"index\": 0, \"delta\": \n\n",
        ))
        .await?;
    }
    if plan.stall_after == Some(sent) {
        sink.pause(STALL_HOLD).await?;
        sink.cut().await?;
        return Ok(Next::Ended);
    }
    if plan.drop_after == Some(sent) {
        sink.cut().await?;
        return Ok(Next::Ended);
    }
    Ok(Next::Continue)
}

/// The events between the role chunk and the finish chunk: content pieces, or
/// per tool call one header followed by argument fragments.
fn body_events(writer: &ChunkWriter, plan: &Plan) -> Vec<Bytes> {
    match &plan.answer {
        Answer::Text(text) => split_even(text, plan.chunks)
            .into_iter()
            .map(|piece| writer.content(piece))
            .collect(),
        Answer::Tools { name, args, count } => (0..*count)
            .flat_map(|index| {
                std::iter::once(writer.tool_header(index, name)).chain(
                    split_even(args, plan.chunks)
                        .into_iter()
                        .map(move |fragment| writer.tool_args(index, fragment)),
                )
            })
            .collect(),
    }
}

/// How long a non-stream request waits before it is answered.
pub(crate) async fn non_stream_delay(plan: &Plan) {
    let wait = if plan.stall_after.is_some() {
        STALL_HOLD
    } else {
        plan.ttft
    };
    if !wait.is_zero() {
        sleep(wait).await;
    }
}
