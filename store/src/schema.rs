//! The schema and its versioning (`PRAGMA user_version`).
//!
//! Every filter of the logs API is answered through an index: the columns of `logs` each have an
//! index ending in `(start_time, id)`, so a filtered page is read in order straight off the index;
//! metadata, attempt error kinds and scores live in side tables keyed by the value first.

use rusqlite::Connection;

use crate::StoreError;

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: i64 = 1;

const SCHEMA_V1: &str = r#"
CREATE TABLE IF NOT EXISTS logs (
    id                  TEXT PRIMARY KEY NOT NULL,
    start_time          INTEGER NOT NULL,
    end_time            INTEGER,
    model               TEXT,
    provider_id         TEXT,
    status              TEXT,
    status_code         INTEGER,
    thread_identifier   TEXT,
    customer_identifier TEXT,
    trace_unique_id     TEXT,
    span_unique_id      TEXT,
    span_parent_id      TEXT,
    fallback_used       INTEGER,
    json_valid          INTEGER,
    record              TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS logs_by_time     ON logs (start_time, id);
CREATE INDEX IF NOT EXISTS logs_by_model    ON logs (model, start_time, id);
CREATE INDEX IF NOT EXISTS logs_by_provider ON logs (provider_id, start_time, id);
CREATE INDEX IF NOT EXISTS logs_by_status   ON logs (status, start_time, id);
CREATE INDEX IF NOT EXISTS logs_by_thread   ON logs (thread_identifier, start_time, id);
CREATE INDEX IF NOT EXISTS logs_by_customer ON logs (customer_identifier, start_time, id);
CREATE INDEX IF NOT EXISTS logs_by_trace    ON logs (trace_unique_id, start_time, id);
CREATE INDEX IF NOT EXISTS logs_by_fallback ON logs (fallback_used, start_time, id);
CREATE INDEX IF NOT EXISTS logs_by_json     ON logs (json_valid, start_time, id);

CREATE TABLE IF NOT EXISTS log_error_kinds (
    log_id     TEXT NOT NULL REFERENCES logs (id) ON DELETE CASCADE,
    error_kind TEXT NOT NULL,
    PRIMARY KEY (log_id, error_kind)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS log_error_kinds_by_kind ON log_error_kinds (error_kind, log_id);

CREATE TABLE IF NOT EXISTS log_properties (
    log_id TEXT NOT NULL REFERENCES logs (id) ON DELETE CASCADE,
    key    TEXT NOT NULL,
    value  TEXT NOT NULL,
    PRIMARY KEY (key, value, log_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS log_properties_by_log ON log_properties (log_id);

CREATE TABLE IF NOT EXISTS scores (
    log_id          TEXT NOT NULL REFERENCES logs (id) ON DELETE CASCADE,
    evaluator_slug  TEXT NOT NULL,
    value_type      TEXT NOT NULL,
    numerical_value REAL,
    boolean_value   INTEGER,
    string_value    TEXT,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (log_id, evaluator_slug)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS score_values (
    evaluator_slug TEXT NOT NULL,
    value_text     TEXT NOT NULL,
    log_id         TEXT NOT NULL,
    PRIMARY KEY (evaluator_slug, value_text, log_id),
    FOREIGN KEY (log_id, evaluator_slug) REFERENCES scores (log_id, evaluator_slug) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS score_values_by_log ON score_values (log_id, evaluator_slug);
"#;

/// Creates the schema in a new database, or checks an existing one's version.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found == SCHEMA_VERSION {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    // Re-read under the write lock: another process may have migrated meanwhile.
    let found: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if found < 1 {
        tx.execute_batch(SCHEMA_V1)?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}
