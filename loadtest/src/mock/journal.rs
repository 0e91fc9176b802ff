//! What the mock has seen: received requests (optional), per-model-string
//! request counters for the `*_times` gates, and cancelled streams.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

/// One request as the mock received it.
#[derive(Debug, Clone)]
pub struct ReceivedRequest {
    /// URI path, e.g. `/v1/chat/completions` (no query).
    pub path: String,
    /// The request target as sent: path and query, e.g.
    /// `/openai/deployments/d/chat/completions?api-version=2024-10-21`.
    pub uri: String,
    /// All request headers.
    pub headers: http::HeaderMap,
    /// The parsed JSON body; `Null` if the body is empty or not JSON.
    pub body: serde_json::Value,
    /// The body's `model` field as sent, including any `?...` script suffix;
    /// empty if absent.
    pub model: String,
}

/// Shared record of the mock's traffic. Cheap on the hot path: the request
/// list is only locked when enabled, the counter map only for gated scripts.
#[derive(Debug)]
pub(crate) struct Journal {
    requests: Option<Mutex<Vec<ReceivedRequest>>>,
    ordinals: Mutex<HashMap<String, u64>>,
    cancelled: AtomicUsize,
    connections: AtomicUsize,
    next_id: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave these collections invalid.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Journal {
    /// A journal that records requests if `record` is set.
    pub fn new(record: bool) -> Self {
        Journal {
            requests: record.then(|| Mutex::new(Vec::new())),
            ordinals: Mutex::new(HashMap::new()),
            cancelled: AtomicUsize::new(0),
            connections: AtomicUsize::new(0),
            next_id: AtomicU64::new(1),
        }
    }

    /// Whether requests are recorded.
    pub fn is_recording(&self) -> bool {
        self.requests.is_some()
    }

    /// Appends a request (no-op when not recording).
    pub fn record(&self, request: ReceivedRequest) {
        if let Some(requests) = &self.requests {
            lock(requests).push(request);
        }
    }

    /// Every recorded request, in arrival order.
    pub fn requests(&self) -> Vec<ReceivedRequest> {
        self.requests
            .as_ref()
            .map(|r| lock(r).clone())
            .unwrap_or_default()
    }

    /// Recorded requests whose `model` starts with `prefix`.
    pub fn requests_for(&self, prefix: &str) -> Vec<ReceivedRequest> {
        self.requests
            .as_ref()
            .map(|r| {
                lock(r)
                    .iter()
                    .filter(|req| req.model.starts_with(prefix))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Counts one more request for `key` and returns its 1-based ordinal.
    pub fn next_ordinal(&self, key: &str) -> u64 {
        let mut ordinals = lock(&self.ordinals);
        match ordinals.get_mut(key) {
            Some(n) => {
                *n += 1;
                *n
            }
            None => {
                ordinals.insert(key.to_owned(), 1);
                1
            }
        }
    }

    /// Notes a stream whose client went away before it was fully written.
    pub fn stream_cancelled(&self) {
        self.cancelled.fetch_add(1, Ordering::Relaxed);
    }

    /// Streams whose client went away early.
    pub fn cancelled_streams(&self) -> usize {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// Notes a connection accepted.
    pub fn connection_accepted(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }

    /// A fresh response id (`chatcmpl-mock-<n>`).
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }
}
