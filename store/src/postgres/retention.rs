//! Retention in PostgreSQL: whole days go at once. A day whose end is past the cutoff loses its
//! rows in `log_ids` and `scores` (with their values), then its partitions (detached
//! concurrently, so reads and inserts never wait, then dropped). A day is kept
//! until all of it is past the cutoff, so a log can outlive `retention_days` by up to a day.
//! A session advisory lock keeps consumers from running the same pass twice at once.

use time::OffsetDateTime;

use super::PostgresStore;
use super::partitions::{DAY_MICROS, PARTITIONED, day_from_name, partition_name};
use crate::StoreError;

/// The key of the advisory lock held during a pass.
const RETENTION_LOCK: i64 = 0x5357_4244_0003;

impl PostgresStore {
    /// See [`crate::LogStore::expire_older_than`].
    pub fn expire_older_than(
        &mut self,
        days: u32,
        now: OffsetDateTime,
        expired: &mut dyn FnMut(u64) -> bool,
    ) -> Result<u64, StoreError> {
        let cutoff = now - time::Duration::days(i64::from(days));
        let cutoff = i64::try_from(cutoff.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MIN);
        let locked: bool = self
            .client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&RETENTION_LOCK])?
            .get(0);
        if !locked {
            return Ok(0); // another consumer is running this pass
        }
        let result = self.expire_days(cutoff, expired);
        let unlocked = self
            .client
            .execute("SELECT pg_advisory_unlock($1)", &[&RETENTION_LOCK]);
        let total = result?;
        unlocked?;
        Ok(total)
    }

    fn expire_days(
        &mut self,
        cutoff: i64,
        expired: &mut dyn FnMut(u64) -> bool,
    ) -> Result<u64, StoreError> {
        let mut old: Vec<i64> = self
            .client
            .query(super::partitions::LIST, &[])?
            .iter()
            .filter_map(|row| day_from_name("logs", row.get(0)))
            .filter(|day| (day + 1) * DAY_MICROS <= cutoff)
            .collect();
        old.sort_unstable();
        let mut total = 0;
        for day in old {
            let removed = self.drop_day(day)?;
            total += removed;
            if !expired(removed) {
                break;
            }
        }
        Ok(total)
    }

    /// Removes one day; how many logs it held.
    fn drop_day(&mut self, day: i64) -> Result<u64, StoreError> {
        let Some(logs) = partition_name("logs", day) else {
            return Ok(0);
        };
        let count: i64 = self
            .client
            .query_one(&format!("SELECT count(*) FROM {logs}"), &[])?
            .get(0);
        // The day's ids first, through the partition (log_ids has no index by time: it would
        // cost every insert one more index entry).
        let (from, to) = (day * DAY_MICROS, (day + 1) * DAY_MICROS);
        let mut tx = self.client.transaction()?;
        tx.execute(
            &format!("DELETE FROM log_ids WHERE id IN (SELECT id FROM {logs})"),
            &[],
        )?;
        tx.execute(
            "DELETE FROM scores WHERE start_time >= $1 AND start_time < $2",
            &[&from, &to],
        )?;
        tx.commit()?;
        for table in PARTITIONED {
            if let Some(name) = partition_name(table, day) {
                // Not in a transaction block: CONCURRENTLY waits for running queries to end
                // instead of locking them out.
                self.client.batch_execute(&format!(
                    "ALTER TABLE {table} DETACH PARTITION {name} CONCURRENTLY"
                ))?;
                self.client.batch_execute(&format!("DROP TABLE {name}"))?;
            }
        }
        self.days.remove(&day);
        Ok(u64::try_from(count).unwrap_or(0))
    }
}
