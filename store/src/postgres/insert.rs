//! Batch inserts: one transaction per batch, idempotent on `id`, rows sent by binary `COPY`.
//!
//! The batch's new ids are claimed first in `log_ids` (`ON CONFLICT DO NOTHING RETURNING`):
//! a record whose id is already there, from an earlier batch or another consumer's concurrent
//! one, is a duplicate; the claim waits for a concurrent transaction holding the same id, so
//! two consumers never both store it. Then the claimed records, their metadata pairs and error
//! kinds go in by `COPY ... FROM STDIN BINARY`.

use std::collections::HashSet;

use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{ToSql, Type};

use super::PostgresStore;
use super::partitions::{self, partition_name};
use crate::record::Indexed;
use crate::{InsertSummary, StoreError, timefmt};

const CLAIM: &str = "INSERT INTO log_ids (id, start_time) \
     SELECT * FROM unnest($1::text[], $2::int8[]) ON CONFLICT (id) DO NOTHING RETURNING id";
const COPY_LOGS: &str = "COPY logs (id, start_time, end_time, model, provider_id, status, \
     status_code, thread_identifier, customer_identifier, trace_unique_id, span_unique_id, \
     span_parent_id, fallback_used, json_valid, latency, time_to_first_token, max_stall, cost, \
     retries, prompt_tokens, completion_tokens, total_tokens, stream, continued, span_name, \
     log_type, error_message, provider_model, metadata, record) FROM STDIN BINARY";
const LOG_TYPES: [Type; 30] = [
    Type::TEXT,
    Type::INT8,
    Type::INT8,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::INT8,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::INT2,
    Type::INT2,
    Type::FLOAT8,
    Type::FLOAT8,
    Type::FLOAT8,
    Type::FLOAT8,
    Type::FLOAT8,
    Type::FLOAT8,
    Type::FLOAT8,
    Type::FLOAT8,
    Type::INT2,
    Type::INT2,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::JSONB,
    Type::TEXT,
];
const COPY_PROPERTIES: &str =
    "COPY log_properties (key, value, start_time, log_id) FROM STDIN BINARY";
const COPY_ERROR_KINDS: &str =
    "COPY log_error_kinds (error_kind, start_time, log_id) FROM STDIN BINARY";

/// A record ready to store: its indexed parts, its day and its text.
struct Row<'a> {
    indexed: Indexed,
    start_time: i64,
    text: &'a str,
}

impl PostgresStore {
    /// See [`crate::LogStore::insert_batch`].
    pub fn insert_batch(&mut self, records: &[&str]) -> Result<InsertSummary, StoreError> {
        match self.try_insert_batch(records) {
            // A day this connection knew was dropped by another one's retention pass since.
            Err(StoreError::Postgres(e)) if is_missing_partition(&e) => {
                self.days.clear();
                self.try_insert_batch(records)
            }
            other => other,
        }
    }

    fn try_insert_batch(&mut self, records: &[&str]) -> Result<InsertSummary, StoreError> {
        let mut summary = InsertSummary::default();
        let now = timefmt::now_micros();
        let mut rows = Vec::with_capacity(records.len());
        let mut seen = HashSet::with_capacity(records.len());
        for (index, text) in records.iter().enumerate() {
            let indexed = match Indexed::from_json(text) {
                Ok(indexed) => indexed,
                Err(why) => {
                    summary.rejected.push((index, why));
                    continue;
                }
            };
            let start_time = indexed.start_time.unwrap_or(now);
            if partition_name("logs", partitions::day_of(start_time)).is_none() {
                summary
                    .rejected
                    .push((index, "`start_time` is outside the years 1-9999".to_owned()));
                continue;
            }
            // A second record with an id seen earlier in the batch is a duplicate, as in
            // SQLite where the first one is already in when the second comes.
            if !seen.insert(indexed.id.clone()) {
                summary.duplicates += 1;
                continue;
            }
            rows.push(Row {
                indexed,
                start_time,
                text,
            });
        }
        if rows.is_empty() {
            return Ok(summary);
        }
        let mut days: Vec<i64> = rows
            .iter()
            .map(|row| partitions::day_of(row.start_time))
            .collect();
        days.sort_unstable();
        days.dedup();
        self.ensure_days(&days)?;

        // Claimed in id order, so two consumers claiming overlapping batches wait for each
        // other instead of deadlocking.
        rows.sort_unstable_by(|a, b| a.indexed.id.cmp(&b.indexed.id));
        let ids: Vec<&str> = rows.iter().map(|row| row.indexed.id.as_str()).collect();
        let times: Vec<i64> = rows.iter().map(|row| row.start_time).collect();
        let mut tx = self.client.transaction()?;
        let claimed: HashSet<String> = tx
            .query(CLAIM, &[&ids, &times])?
            .iter()
            .map(|row| row.get(0))
            .collect();
        summary.duplicates += rows.len() - claimed.len();
        rows.retain(|row| claimed.contains(&row.indexed.id));
        summary.inserted = rows.len();
        if !rows.is_empty() {
            copy_logs(&mut tx, &rows)?;
            copy_side_rows(&mut tx, &rows)?;
        }
        tx.commit()?;
        Ok(summary)
    }
}

/// "no partition of relation ... found for row".
fn is_missing_partition(error: &postgres::Error) -> bool {
    error.code() == Some(&postgres::error::SqlState::CHECK_VIOLATION)
        && error
            .as_db_error()
            .is_some_and(|db| db.message().starts_with("no partition"))
}

fn flag(value: Option<bool>) -> Option<i16> {
    value.map(i16::from)
}

fn copy_logs(tx: &mut postgres::Transaction<'_>, rows: &[Row<'_>]) -> Result<(), StoreError> {
    let mut writer = BinaryCopyInWriter::new(tx.copy_in(COPY_LOGS)?, &LOG_TYPES);
    for row in rows {
        let r = &row.indexed;
        let (fallback_used, json_valid) = (flag(r.fallback_used), flag(r.json_valid));
        let [stream, continued] = r.flags.map(flag);
        let [
            latency,
            ttft,
            max_stall,
            cost,
            retries,
            prompt,
            completion,
            total,
        ] = &r.numbers;
        let [span_name, log_type, error_message, provider_model] = &r.texts;
        let metadata = (!r.properties.is_empty()).then(|| {
            serde_json::Value::Object(
                r.properties
                    .iter()
                    .map(|(key, value)| (key.clone(), serde_json::Value::String(value.clone())))
                    .collect(),
            )
        });
        let values: [&(dyn ToSql + Sync); 30] = [
            &r.id,
            &row.start_time,
            &r.end_time,
            &r.model,
            &r.provider_id,
            &r.status,
            &r.status_code,
            &r.thread_identifier,
            &r.customer_identifier,
            &r.trace_unique_id,
            &r.span_unique_id,
            &r.span_parent_id,
            &fallback_used,
            &json_valid,
            latency,
            ttft,
            max_stall,
            cost,
            retries,
            prompt,
            completion,
            total,
            &stream,
            &continued,
            span_name,
            log_type,
            error_message,
            provider_model,
            &metadata,
            &row.text,
        ];
        writer.write(&values)?;
    }
    writer.finish()?;
    Ok(())
}

fn copy_side_rows(tx: &mut postgres::Transaction<'_>, rows: &[Row<'_>]) -> Result<(), StoreError> {
    if rows.iter().any(|row| !row.indexed.properties.is_empty()) {
        let types = [Type::TEXT, Type::TEXT, Type::INT8, Type::TEXT];
        let mut writer = BinaryCopyInWriter::new(tx.copy_in(COPY_PROPERTIES)?, &types);
        for row in rows {
            for (key, value) in &row.indexed.properties {
                writer.write(&[key, value, &row.start_time, &row.indexed.id])?;
            }
        }
        writer.finish()?;
    }
    if rows.iter().any(|row| !row.indexed.error_kinds.is_empty()) {
        let types = [Type::TEXT, Type::INT8, Type::TEXT];
        let mut writer = BinaryCopyInWriter::new(tx.copy_in(COPY_ERROR_KINDS)?, &types);
        for row in rows {
            for kind in &row.indexed.error_kinds {
                writer.write(&[kind, &row.start_time, &row.indexed.id])?;
            }
        }
        writer.finish()?;
    }
    Ok(())
}
