//! The log writer: its own OS thread with its own small runtime, so logging never competes
//! with the request path. It batches records from the queue, encodes them, and delivers them
//! to Redis or the embedded store; while that fails (or the queue overflowed) records go to the
//! spool, which is replayed in order once delivery works again.

use std::sync::Arc;
use std::time::Duration;

use metrics::{Counter, counter};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use switchboard_record::LogRecord;

use crate::SinkError;
use crate::embedded::EmbeddedStore;
use crate::queue::{LogQueue, SinkState};
use crate::redact::Redactor;
use crate::redis_stream::RedisStream;
use crate::spool::Spool;

/// Records per delivery.
const BATCH: usize = 512;
/// After the first record of a batch arrives, how long the writer waits for more before it
/// delivers. Without it every record would wake the writer thread and go out alone: at a few
/// thousand requests a second, a third of the gateway's CPU went to those wake-ups.
const LINGER: Duration = Duration::from_millis(2);
/// First wait before retrying a failed destination; doubles up to [`MAX_RETRY`].
const FIRST_RETRY: Duration = Duration::from_millis(200);
const MAX_RETRY: Duration = Duration::from_secs(5);

/// Where delivered records go.
pub enum Destination {
    /// The Redis stream (boxed: it is much larger than the store handle).
    Redis(Box<RedisStream>),
    /// The embedded store.
    Embedded(EmbeddedStore),
}

impl Destination {
    async fn deliver(&mut self, records: &[String]) -> Result<(), SinkError> {
        match self {
            Destination::Redis(redis) => redis.deliver(records).await,
            Destination::Embedded(store) => store.deliver(records).await,
        }
    }
}

/// The writer's side of the pipeline.
pub struct Writer {
    /// Records from the request path.
    pub rx: mpsc::Receiver<LogRecord>,
    /// The queue (for its overflow and depth gauge).
    pub queue: Arc<LogQueue>,
    /// Where records go.
    pub destination: Destination,
    /// Where they wait.
    pub spool: Spool,
    /// Shared with `/readyz`.
    pub state: Arc<SinkState>,
    /// `redis` or `embedded`, for metric labels.
    pub sink_name: &'static str,
    /// `[logging] redact`, applied here before records are encoded.
    pub redactor: Arc<Redactor>,
}

struct Counters {
    written: Counter,
    spooled: Counter,
    dropped: Counter,
}

struct Health {
    healthy: bool,
    retry_at: Instant,
    backoff: Duration,
}

impl Writer {
    /// Runs until `stop` fires (or every sender is gone), then flushes what is queued to the
    /// destination or the spool and returns.
    pub async fn run(mut self, mut stop: oneshot::Receiver<()>) {
        let counters = Counters {
            written: counter!("switchboard_logs_written_total", "sink" => self.sink_name),
            spooled: counter!("switchboard_logs_spooled_total", "sink" => self.sink_name),
            dropped: counter!("switchboard_logs_dropped_total", "sink" => self.sink_name),
        };
        let mut health = Health {
            healthy: true,
            retry_at: Instant::now(),
            backoff: FIRST_RETRY,
        };
        if !self.spool.is_empty() {
            self.state.set_spooling();
        }
        let mut batch = Vec::with_capacity(BATCH);
        let mut stopping = false;
        loop {
            let waiting = !self.spool.is_empty();
            let tick = tokio::time::sleep_until(if waiting {
                health
                    .retry_at
                    .max(Instant::now() + Duration::from_millis(20))
            } else {
                Instant::now() + Duration::from_secs(3600)
            });
            let received = tokio::select! {
                n = self.rx.recv_many(&mut batch, BATCH) => n,
                () = tick => 0,
                _ = &mut stop, if !stopping => {
                    stopping = true;
                    self.rx.close();
                    0
                }
            };
            if received == 0 && self.rx.is_closed() && self.rx.is_empty() {
                stopping = true;
            }
            if received > 0 && batch.len() < BATCH && !stopping {
                tokio::time::sleep(LINGER).await;
                while batch.len() < BATCH {
                    match self.rx.try_recv() {
                        Ok(record) => batch.push(record),
                        Err(_) => break,
                    }
                }
            }
            self.queue.depth().decrement(batch.len() as f64);
            self.process(&mut batch, &counters, &mut health).await;
            if stopping && self.rx.is_empty() {
                // Last pass: whatever overflowed, and one more try at the spool.
                self.process(&mut batch, &counters, &mut health).await;
                break;
            }
        }
    }

    async fn process(
        &mut self,
        batch: &mut Vec<LogRecord>,
        counters: &Counters,
        health: &mut Health,
    ) {
        let redactor = &self.redactor;
        let lines = encode(batch.drain(..), redactor, &counters.dropped);
        let overflow = encode(
            self.queue.take_overflow().into_iter(),
            redactor,
            &counters.dropped,
        );
        if self.spool.is_empty() && overflow.is_empty() && health.healthy {
            match self.destination.deliver(&lines).await {
                Ok(()) => counters.written.increment(lines.len() as u64),
                Err(e) => {
                    tracing::warn!("log delivery failed, spooling to disk: {e}");
                    health.fail();
                    self.spool_lines(&lines, counters);
                }
            }
        } else {
            self.spool_lines(&lines, counters);
            self.spool_lines(&overflow, counters);
        }
        if !self.spool.is_empty() && Instant::now() >= health.retry_at {
            self.replay(counters, health).await;
        }
        if self.spool.is_empty() {
            self.state.set_delivering();
        } else {
            self.state.set_spooling();
        }
    }

    fn spool_lines(&mut self, lines: &[String], counters: &Counters) {
        if lines.is_empty() {
            return;
        }
        let accepted = match self.spool.append(lines) {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::error!("{e}");
                0
            }
        };
        counters.spooled.increment(accepted as u64);
        let dropped = lines.len() - accepted;
        if dropped > 0 {
            tracing::error!("log spool full (logging.spool_max_bytes): {dropped} records dropped");
            counters.dropped.increment(dropped as u64);
        }
    }

    /// Replays the spool, oldest segment first, until it is empty or delivery fails.
    async fn replay(&mut self, counters: &Counters, health: &mut Health) {
        loop {
            let segment = match self.spool.oldest() {
                Ok(Some(segment)) => segment,
                Ok(None) => break,
                Err(e) => {
                    tracing::error!("cannot read the log spool: {e}");
                    health.fail();
                    return;
                }
            };
            let delivered_before = self.spool.delivered();
            for chunk in
                segment.records[delivered_before.min(segment.records.len())..].chunks(BATCH)
            {
                if let Err(e) = self.destination.deliver(chunk).await {
                    tracing::warn!("log spool replay paused: {e}");
                    health.fail();
                    return;
                }
                counters.written.increment(chunk.len() as u64);
                self.spool.mark_delivered(chunk.len());
            }
            if let Err(e) = self.spool.remove(segment.sequence) {
                tracing::error!("cannot remove a replayed spool segment: {e}");
                health.fail();
                return;
            }
        }
        health.recover();
    }
}

impl Health {
    fn fail(&mut self) {
        self.healthy = false;
        self.retry_at = Instant::now() + self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_RETRY);
    }

    fn recover(&mut self) {
        self.healthy = true;
        self.backoff = FIRST_RETRY;
    }
}

fn encode(
    records: impl Iterator<Item = LogRecord>,
    redactor: &Redactor,
    dropped: &Counter,
) -> Vec<String> {
    records
        .filter_map(|mut record| {
            redactor.apply(&mut record);
            encode_one(&record, dropped)
        })
        .collect()
}

/// One record as its JSON line; `None` (counted as dropped) when it cannot be encoded.
pub(crate) fn encode_one(record: &LogRecord, dropped: &Counter) -> Option<String> {
    match serde_json::to_string(record) {
        Ok(line) => Some(line),
        Err(e) => {
            tracing::error!("log record {} could not be encoded: {e}", record.id);
            dropped.increment(1);
            None
        }
    }
}
