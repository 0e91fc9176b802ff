//! Batch inserts: one transaction per batch, idempotent on `id`.

use rusqlite::params;

use super::SqliteStore;
use crate::record::Indexed;
use crate::{InsertSummary, StoreError, timefmt};

const INSERT_LOG: &str = "INSERT INTO logs (id, start_time, end_time, model, provider_id, status, \
     status_code, thread_identifier, customer_identifier, trace_unique_id, span_unique_id, \
     span_parent_id, fallback_used, json_valid, record) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) \
     ON CONFLICT (id) DO NOTHING";
const INSERT_PROPERTY: &str = "INSERT OR IGNORE INTO log_properties (log_id, start_time, key, value) \
     VALUES (?1, ?2, ?3, ?4)";
const INSERT_ERROR_KIND: &str =
    "INSERT OR IGNORE INTO log_error_kinds (log_id, start_time, error_kind) VALUES (?1, ?2, ?3)";

impl SqliteStore {
    /// Inserts a batch of record JSON texts in one transaction. A record whose `id` is already
    /// stored is counted as a duplicate and left as it was; a record that cannot be stored is
    /// reported in [`InsertSummary::rejected`] and the rest of the batch still goes in. A record
    /// without a readable `start_time` is filed under the time of the insert.
    pub fn insert_batch(&mut self, records: &[&str]) -> Result<InsertSummary, StoreError> {
        let mut summary = InsertSummary::default();
        let now = timefmt::now_micros();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            let mut insert_log = tx.prepare_cached(INSERT_LOG)?;
            let mut insert_property = tx.prepare_cached(INSERT_PROPERTY)?;
            let mut insert_error_kind = tx.prepare_cached(INSERT_ERROR_KIND)?;
            for (index, text) in records.iter().enumerate() {
                let row = match Indexed::from_json(text) {
                    Ok(row) => row,
                    Err(why) => {
                        summary.rejected.push((index, why));
                        continue;
                    }
                };
                // The side tables copy the log's start time, to read matches in time order.
                let start_time = row.start_time.unwrap_or(now);
                let added = insert_log.execute(params![
                    row.id,
                    start_time,
                    row.end_time,
                    row.model,
                    row.provider_id,
                    row.status,
                    row.status_code,
                    row.thread_identifier,
                    row.customer_identifier,
                    row.trace_unique_id,
                    row.span_unique_id,
                    row.span_parent_id,
                    row.fallback_used,
                    row.json_valid,
                    text,
                ])?;
                if added == 0 {
                    summary.duplicates += 1;
                    continue;
                }
                for (key, value) in &row.properties {
                    insert_property.execute(params![row.id, start_time, key, value])?;
                }
                for kind in &row.error_kinds {
                    insert_error_kind.execute(params![row.id, start_time, kind])?;
                }
                summary.inserted += 1;
            }
        }
        tx.commit()?;
        Ok(summary)
    }
}
