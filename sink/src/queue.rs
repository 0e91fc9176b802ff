//! The request side of the log pipeline: a bounded in-memory queue that never blocks.
//!
//! `submit` is a `try_send`. When the queue is full the record goes to an overflow list that
//! the writer moves to the disk spool, and every later record follows it there until the
//! writer has caught up, so order is kept. After the writer has stopped (shutdown), a record
//! is appended to the spool synchronously: nothing is dropped silently.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use metrics::{Gauge, counter, gauge};
use tokio::sync::mpsc::{self, error::TrySendError};

use switchboard_record::{LogRecord, LogSink};

use crate::redact::Redactor;
use crate::spool::Spool;

/// The sink's state, shared with the writer, for `/readyz`.
#[derive(Debug, Default)]
pub struct SinkState(AtomicU8);

impl SinkState {
    const DELIVERING: u8 = 0;
    const SPOOLING: u8 = 1;

    /// The writer delivers straight to its destination.
    pub fn set_delivering(&self) {
        self.0.store(Self::DELIVERING, Ordering::Relaxed);
    }

    /// Records wait in the spool.
    pub fn set_spooling(&self) {
        self.0.store(Self::SPOOLING, Ordering::Relaxed);
    }

    /// True while records wait in the spool.
    pub fn is_spooling(&self) -> bool {
        self.0.load(Ordering::Relaxed) == Self::SPOOLING
    }
}

/// The [`LogSink`] the gateway hands records to.
pub struct LogQueue {
    tx: mpsc::Sender<LogRecord>,
    overflow: Mutex<Vec<LogRecord>>,
    overflowing: AtomicBool,
    state: Arc<SinkState>,
    sink_name: &'static str,
    depth: Gauge,
    spool_dir: PathBuf,
    spool_max_bytes: u64,
    redactor: Arc<Redactor>,
}

impl LogQueue {
    /// A queue of `capacity` records for a writer delivering to `sink_name` (`redis` or
    /// `embedded`); returns the queue and the writer's receiving end.
    pub fn new(
        capacity: usize,
        sink_name: &'static str,
        state: Arc<SinkState>,
        spool_dir: PathBuf,
        spool_max_bytes: u64,
        redactor: Arc<Redactor>,
    ) -> (Arc<LogQueue>, mpsc::Receiver<LogRecord>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let queue = LogQueue {
            tx,
            overflow: Mutex::new(Vec::new()),
            overflowing: AtomicBool::new(false),
            state,
            sink_name,
            depth: gauge!("switchboard_log_queue_depth", "sink" => sink_name),
            spool_dir,
            spool_max_bytes,
            redactor,
        };
        (Arc::new(queue), rx)
    }

    /// Takes the records that did not fit in the queue (oldest first).
    pub fn take_overflow(&self) -> Vec<LogRecord> {
        if !self.overflowing.load(Ordering::Acquire) {
            return Vec::new();
        }
        let mut overflow = self.overflow.lock().unwrap_or_else(|p| p.into_inner());
        self.overflowing.store(false, Ordering::Release);
        std::mem::take(&mut *overflow)
    }

    /// The queue-depth gauge (the writer lowers it as it takes records).
    pub fn depth(&self) -> &Gauge {
        &self.depth
    }

    fn push_overflow(&self, record: LogRecord) {
        let mut overflow = self.overflow.lock().unwrap_or_else(|p| p.into_inner());
        overflow.push(record);
        self.overflowing.store(true, Ordering::Release);
    }

    /// The writer is gone: append straight to the spool (shutdown only, so blocking is fine).
    fn spool_directly(&self, mut record: LogRecord) {
        self.redactor.apply(&mut record);
        let dropped = counter!("switchboard_logs_dropped_total", "sink" => self.sink_name);
        let Some(line) = crate::writer::encode_one(&record, &dropped) else {
            return;
        };
        let appended = Spool::open(&self.spool_dir, self.spool_max_bytes)
            .and_then(|mut spool| spool.append(std::slice::from_ref(&line)));
        match appended {
            Ok(1) => {
                counter!("switchboard_logs_spooled_total", "sink" => self.sink_name).increment(1);
            }
            Ok(_) => {
                tracing::error!("log spool is full; record {} dropped", record.id);
                counter!("switchboard_logs_dropped_total", "sink" => self.sink_name).increment(1);
            }
            Err(e) => {
                tracing::error!("record {} dropped: {e}", record.id);
                counter!("switchboard_logs_dropped_total", "sink" => self.sink_name).increment(1);
            }
        }
    }
}

impl LogSink for LogQueue {
    fn submit(&self, record: LogRecord) {
        if self.overflowing.load(Ordering::Acquire) {
            self.push_overflow(record);
            return;
        }
        match self.tx.try_send(record) {
            Ok(()) => self.depth.increment(1.0),
            Err(TrySendError::Full(record)) => self.push_overflow(record),
            Err(TrySendError::Closed(record)) => self.spool_directly(record),
        }
    }

    fn state(&self) -> &'static str {
        if self.state.is_spooling() {
            "spooling"
        } else {
            self.sink_name
        }
    }
}
