//! A log sink that keeps records in memory so tests can read what the gateway logged.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use switchboard_record::{LogRecord, LogSink};
use tokio::sync::Notify;

/// Keeps every submitted record as JSON.
#[derive(Default, Clone)]
pub struct MemorySink {
    records: Arc<Mutex<Vec<Value>>>,
    added: Arc<Notify>,
}

impl MemorySink {
    /// Every record so far, in submission order.
    pub fn all(&self) -> Vec<Value> {
        self.records.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Waits until at least `n` records arrived (panics after 10 s).
    pub async fn wait_for(&self, n: usize) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let notified = self.added.notified();
            let all = self.all();
            if all.len() >= n {
                return all;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("expected {n} records, got {}: {all:#?}", all.len());
            }
        }
    }

    /// The record with `id` (waits for it up to 10 s).
    pub async fn by_id(&self, id: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let notified = self.added.notified();
            if let Some(r) = self.all().into_iter().find(|r| r["id"] == id) {
                return r;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("no record with id {id}: {:#?}", self.all());
            }
        }
    }
}

impl LogSink for MemorySink {
    fn submit(&self, record: LogRecord) {
        let value = serde_json::to_value(&record).unwrap_or(Value::Null);
        if let Ok(mut records) = self.records.lock() {
            records.push(value);
        }
        self.added.notify_waiters();
    }

    fn state(&self) -> &'static str {
        "embedded"
    }
}
