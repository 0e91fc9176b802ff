//! Retention in SQLite: logs that started longer ago are deleted, a few hundred at a time in
//! short transactions, so a writer waits at most one batch (a few milliseconds) for the lock.
//! Scores and side-table rows go with their log (foreign keys, `ON DELETE CASCADE`).

use std::time::Duration;

use time::OffsetDateTime;

use super::SqliteStore;
use crate::StoreError;

/// Logs deleted per transaction.
const BATCH: usize = 500;
/// The pause between two batches, for writers waiting on the lock.
const BETWEEN_BATCHES: Duration = Duration::from_millis(5);

const EXPIRE: &str = "DELETE FROM logs WHERE id IN \
     (SELECT id FROM logs INDEXED BY logs_by_time WHERE start_time < ?1 \
      ORDER BY start_time, id LIMIT ?2)";

impl SqliteStore {
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
