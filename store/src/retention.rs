//! `logging.retention_days` (SPEC section 11): logs that started longer ago are deleted, a few
//! hundred at a time in short transactions, so a writer waits at most one batch (a few
//! milliseconds) for the lock; a pass runs when the retention starts and then every hour.
//! Scores and side-table rows go with their log (foreign keys, `ON DELETE CASCADE`).

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use time::OffsetDateTime;

use crate::{Store, StoreError};

/// Logs deleted per transaction.
const BATCH: usize = 500;
/// The pause between two batches, for writers waiting on the lock.
const BETWEEN_BATCHES: Duration = Duration::from_millis(5);

const EXPIRE: &str = "DELETE FROM logs WHERE id IN \
     (SELECT id FROM logs INDEXED BY logs_by_time WHERE start_time < ?1 \
      ORDER BY start_time, id LIMIT ?2)";

impl Store {
    /// Deletes at most `limit` of the logs that started before `cutoff` (unix microseconds),
    /// oldest first, in one transaction; how many it deleted.
    pub fn expire_batch(&self, cutoff: i64, limit: usize) -> Result<u64, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let deleted = self.conn.prepare_cached(EXPIRE)?.execute((cutoff, limit))?;
        Ok(u64::try_from(deleted).unwrap_or(0))
    }

    /// One retention pass: deletes every log that started more than `days` days before `now`,
    /// batch by batch, calling `expired` after each batch (which stops the pass by answering
    /// false); the total.
    pub fn expire_older_than(
        &self,
        days: u32,
        now: OffsetDateTime,
        expired: &mut dyn FnMut(u64) -> bool,
    ) -> Result<u64, StoreError> {
        let cutoff = now - time::Duration::days(i64::from(days));
        let cutoff = i64::try_from(cutoff.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MIN);
        let mut total = 0;
        loop {
            let deleted = self.expire_batch(cutoff, BATCH)?;
            if deleted == 0 {
                return Ok(total);
            }
            total += deleted;
            if !expired(deleted) {
                return Ok(total);
            }
            std::thread::sleep(BETWEEN_BATCHES);
        }
    }
}

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
        let store = Store::open(url)?;
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
                    match store.expire_older_than(days, OffsetDateTime::now_utc(), &mut batch) {
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
