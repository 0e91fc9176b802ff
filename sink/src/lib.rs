//! Where finished records go. The request path hands a record over and never waits.
//!
//! [`LogPipeline`] is the production sink: [`queue`] (bounded, never blocks) feeds the
//! [`writer`] thread, which delivers batches to [`redis_stream`] or [`embedded`] and keeps
//! records in the [`spool`] while that fails.

pub mod embedded;
mod error;
pub mod queue;
pub mod redact;
pub mod redis_stream;
pub mod spool;
pub mod writer;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use switchboard_config::LoggingConfig;
use tokio::sync::oneshot;

pub use error::SinkError;
use queue::{LogQueue, SinkState};
pub use switchboard_record::LogSink;
use writer::{Destination, Writer};

/// How often a retention pass runs after the first (at start).
pub const RETENTION_EVERY: Duration = Duration::from_secs(3600);

/// Starts `logging.retention_days` over the store at `url`, counting removed logs in
/// `switchboard_store_records_expired_total`.
pub fn retention(url: &str, days: u32) -> Result<switchboard_store::Retention, SinkError> {
    let expired = metrics::counter!("switchboard_store_records_expired_total");
    switchboard_store::Retention::start(url, days, RETENTION_EVERY, move |n| expired.increment(n))
        .map_err(|source| SinkError::StoreOpen {
            url: switchboard_store::redacted_url(url),
            source,
        })
}

/// The running log pipeline: a queue for the request path and the writer thread behind it.
pub struct LogPipeline {
    queue: Arc<LogQueue>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// `logging.retention_days` over the embedded store (with Redis, `consume` keeps it).
    _retention: Option<switchboard_store::Retention>,
}

impl LogPipeline {
    /// Starts the pipeline of `config`: Redis when `redis_url` is set, else the embedded store.
    pub fn start(config: &LoggingConfig) -> Result<LogPipeline, SinkError> {
        let retention = match (&config.redis_url, config.retention_days) {
            (None, Some(days)) => Some(retention(&config.store, days)?),
            _ => None,
        };
        let (destination, sink_name) = match &config.redis_url {
            Some(url) => (
                Destination::Redis(Box::new(redis_stream::RedisStream::new(
                    url,
                    &config.stream,
                    config.max_stream_len,
                )?)),
                "redis",
            ),
            None => (
                Destination::Embedded(embedded::EmbeddedStore::open(&config.store)?),
                "embedded",
            ),
        };
        let spool_dir = PathBuf::from(&config.spool_dir);
        let spool = spool::Spool::open(&spool_dir, config.spool_max_bytes)?;
        let redactor = Arc::new(redact::Redactor::new(&config.redact)?);
        let state = Arc::new(SinkState::default());
        let (queue, rx) = LogQueue::new(
            config.queue_capacity,
            sink_name,
            state.clone(),
            spool_dir,
            config.spool_max_bytes,
            redactor.clone(),
        );
        let writer = Writer {
            rx,
            queue: queue.clone(),
            destination,
            spool,
            state,
            sink_name,
            redactor,
        };
        let (stop, stopped) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("switchboard-log-writer".to_owned())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                match runtime {
                    Ok(runtime) => runtime.block_on(writer.run(stopped)),
                    Err(e) => tracing::error!("log writer runtime failed to start: {e}"),
                }
            })
            .map_err(SinkError::Thread)?;
        Ok(LogPipeline {
            queue,
            stop: Some(stop),
            thread: Some(thread),
            _retention: retention,
        })
    }

    /// The sink to give the gateway.
    pub fn sink(&self) -> Arc<dyn LogSink> {
        self.queue.clone()
    }

    /// Flushes every queued record to the destination or the spool and stops the writer,
    /// waiting up to `within`. Returns false if the writer did not finish in time.
    pub fn shutdown(mut self, within: Duration) -> bool {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let Some(thread) = self.thread.take() else {
            return true;
        };
        let deadline = std::time::Instant::now() + within;
        while !thread.is_finished() {
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        thread.join().is_ok()
    }
}
