//! Day partitions: one per UTC day of `start_time` for `logs`, `log_properties` and
//! `log_error_kinds`, named `<table>_dYYYYMMDD`.
//!
//! A partition is created as a plain table and then attached, because `ATTACH PARTITION` takes
//! only a SHARE UPDATE EXCLUSIVE lock on the parent, which reads and inserts do not wait for
//! (`CREATE TABLE ... PARTITION OF` would queue behind a long export and make every later
//! reader queue behind it). A transaction-scoped advisory lock keeps two consumers from
//! creating the same day at once.

use time::{Date, Duration, OffsetDateTime};

use super::PostgresStore;
use crate::StoreError;

/// Microseconds in a day.
pub(crate) const DAY_MICROS: i64 = 86_400_000_000;

/// The key of the advisory lock held while creating partitions.
const PARTITION_LOCK: i64 = 0x5357_4244_0002;

/// The partitioned tables, each with a partition per day.
pub(crate) const PARTITIONED: [&str; 3] = ["logs", "log_properties", "log_error_kinds"];

/// The names of `logs`' partitions.
pub(crate) const LIST: &str = "SELECT c.relname::text FROM pg_inherits AS i \
     JOIN pg_class AS c ON c.oid = i.inhrelid WHERE i.inhparent = 'logs'::regclass";

/// The unix day number of a time in unix microseconds.
pub(crate) fn day_of(micros: i64) -> i64 {
    micros.div_euclid(DAY_MICROS)
}

/// `YYYYMMDD` of a unix day number; `None` out of the calendar's range.
fn day_name(day: i64) -> Option<String> {
    let date = OffsetDateTime::UNIX_EPOCH
        .date()
        .checked_add(Duration::days(day))?;
    Some(format!(
        "{:04}{:02}{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    ))
}

/// The unix day number of a partition name's `YYYYMMDD` suffix (`logs_d20250101`).
pub(crate) fn day_from_name(table: &str, name: &str) -> Option<i64> {
    let digits = name.strip_prefix(table)?.strip_prefix("_d")?;
    if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let year: i32 = digits[..4].parse().ok()?;
    let month: u8 = digits[4..6].parse().ok()?;
    let day: u8 = digits[6..].parse().ok()?;
    let date = Date::from_calendar_date(year, month.try_into().ok()?, day).ok()?;
    Some((date - OffsetDateTime::UNIX_EPOCH.date()).whole_days())
}

/// The name of `table`'s partition for `day`.
pub(crate) fn partition_name(table: &str, day: i64) -> Option<String> {
    Some(format!("{table}_d{}", day_name(day)?))
}

impl PostgresStore {
    /// Makes sure the partitions of `days` exist (creating the missing ones).
    pub(crate) fn ensure_days(&mut self, days: &[i64]) -> Result<(), StoreError> {
        let missing: Vec<i64> = days
            .iter()
            .copied()
            .filter(|day| !self.days.contains(day))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let mut tx = self.client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&PARTITION_LOCK])?;
        for &day in &missing {
            let Some(logs) = partition_name("logs", day) else {
                continue; // outside the calendar: such records are refused before this
            };
            let exists: bool = tx
                .query_one("SELECT to_regclass($1) IS NOT NULL", &[&logs])?
                .get(0);
            if exists {
                continue;
            }
            let (from, to) = (day * DAY_MICROS, (day + 1) * DAY_MICROS);
            for table in PARTITIONED {
                let Some(name) = partition_name(table, day) else {
                    continue;
                };
                // Attaching builds the parent's indexes on the new, empty table.
                tx.batch_execute(&format!(
                    "CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS); \
                     ALTER TABLE {table} ATTACH PARTITION {name} \
                         FOR VALUES FROM ({from}) TO ({to});"
                ))?;
            }
        }
        tx.commit()?;
        self.days.extend(missing);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_days_both_ways() {
        let day = day_of(1_735_689_600_000_000);
        assert_eq!(
            partition_name("logs", day).as_deref(),
            Some("logs_d20250101")
        );
        assert_eq!(day_from_name("logs", "logs_d20250101"), Some(day));
        assert_eq!(day_from_name("logs", "log_properties_d20250101"), None);
        assert_eq!(day_from_name("logs", "logs_d2025010"), None);
        assert_eq!(day_of(-1), -1);
        assert_eq!(
            partition_name("logs", -1).as_deref(),
            Some("logs_d19691231")
        );
    }
}
