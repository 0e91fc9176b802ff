//! `logging.retention_days` (SPEC section 11): a thread with its own connection runs a pass
//! when it starts and then every hour; each store removes old logs its own way
//! ([`crate::LogStore::expire_older_than`]: SQLite in short batches, PostgreSQL whole days).

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use time::OffsetDateTime;

use crate::StoreError;

/// A retention thread: its own connection to the store, a pass at start and then every
/// `every`, until dropped.
pub struct Retention {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Retention {
    /// Keeps the store at `url` to `days` days; `expired` hears how many logs each batch
    /// removed (for a metric). A pass that fails is logged and tried again at the next one.
    pub fn start(
        url: &str,
        days: u32,
        every: Duration,
        mut expired: impl FnMut(u64) + Send + 'static,
    ) -> Result<Retention, StoreError> {
        let mut store = crate::Reopening::open(url)?;
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let stopping = stop.clone();
        let thread = std::thread::Builder::new()
            .name("switchboard-retention".to_owned())
            .spawn(move || {
                let stopped = || *stopping.0.lock().unwrap_or_else(|e| e.into_inner());
                loop {
                    let mut batch = |n: u64| {
                        expired(n);
                        !stopped()
                    };
                    let pass = store.with(|store| {
                        store.expire_older_than(days, OffsetDateTime::now_utc(), &mut batch)
                    });
                    match pass {
                        Ok(0) => {}
                        Ok(n) => {
                            tracing::info!("retention: removed {n} logs older than {days} days")
                        }
                        Err(e) => tracing::warn!("retention pass failed (tried again later): {e}"),
                    }
                    let (lock, wake) = &*stopping;
                    let stopped = lock.lock().unwrap_or_else(|e| e.into_inner());
                    let (stopped, _) = wake
                        .wait_timeout_while(stopped, every, |stopped| !*stopped)
                        .unwrap_or_else(|e| e.into_inner());
                    if *stopped {
                        return;
                    }
                }
            })
            .map_err(StoreError::Thread)?;
        Ok(Retention {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Retention {
    fn drop(&mut self) {
        let (lock, wake) = &*self.stop;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
