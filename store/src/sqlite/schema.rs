//! The schema and its versioning (`PRAGMA user_version`).
//!
//! Every filter of the logs API is answered through an index whose keys end in the log's
//! `(start_time, id)`, so a filtered page is read in order straight off one index and stops after
//! `limit` rows:
//!
//! * the columns of `logs` each have an index `(column, start_time, id)`;
//! * metadata, attempt error kinds and score values live in side tables keyed by the value, then
//!   the log's `start_time` (copied from the log when the row is written), then its id; each side
//!   table also has an index by log id, to check one log's rows and for the cascade on delete.
//!
//! Version history: 1 keyed the side tables by value then log id only (see
//! [`super::upgrade`]), so a common value had to be collected in full and sorted by time before
//! its first page; 2 (this one) adds `start_time` to their keys.

use std::time::Duration;

use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::{open, upgrade};
use crate::StoreError;

/// The schema version this build writes and reads (`PRAGMA user_version`).
pub(crate) const SCHEMA_VERSION: i64 = 2;

/// How long opening a store waits for another connection that is creating or upgrading the
/// schema (an upgrade of a large store rewrites its side tables and can take a while).
const UPGRADE_WAIT: Duration = Duration::from_secs(600);

/// `logs`, its column indexes and `scores`: unchanged since version 1.
const CORE: &str = r#"
CREATE TABLE logs (
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
CREATE INDEX logs_by_time     ON logs (start_time, id);
CREATE INDEX logs_by_model    ON logs (model, start_time, id);
CREATE INDEX logs_by_provider ON logs (provider_id, start_time, id);
CREATE INDEX logs_by_status   ON logs (status, start_time, id);
CREATE INDEX logs_by_thread   ON logs (thread_identifier, start_time, id);
CREATE INDEX logs_by_customer ON logs (customer_identifier, start_time, id);
CREATE INDEX logs_by_trace    ON logs (trace_unique_id, start_time, id);
CREATE INDEX logs_by_fallback ON logs (fallback_used, start_time, id);
CREATE INDEX logs_by_json     ON logs (json_valid, start_time, id);

CREATE TABLE scores (
    log_id          TEXT NOT NULL REFERENCES logs (id) ON DELETE CASCADE,
    evaluator_slug  TEXT NOT NULL,
    value_type      TEXT NOT NULL,
    numerical_value REAL,
    boolean_value   INTEGER,
    string_value    TEXT,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (log_id, evaluator_slug)
) WITHOUT ROWID;
"#;

/// The side tables, keyed by value then `(start_time, log_id)`. `start_time` is the log's.
pub(crate) const SIDE_TABLES: &str = r#"
CREATE TABLE log_error_kinds (
    error_kind TEXT NOT NULL,
    start_time INTEGER NOT NULL,
    log_id     TEXT NOT NULL REFERENCES logs (id) ON DELETE CASCADE,
    PRIMARY KEY (error_kind, start_time, log_id)
) WITHOUT ROWID;

CREATE TABLE log_properties (
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    start_time INTEGER NOT NULL,
    log_id     TEXT NOT NULL REFERENCES logs (id) ON DELETE CASCADE,
    PRIMARY KEY (key, value, start_time, log_id)
) WITHOUT ROWID;

CREATE TABLE score_values (
    evaluator_slug TEXT NOT NULL,
    value_text     TEXT NOT NULL,
    start_time     INTEGER NOT NULL,
    log_id         TEXT NOT NULL,
    PRIMARY KEY (evaluator_slug, value_text, start_time, log_id),
    FOREIGN KEY (log_id, evaluator_slug) REFERENCES scores (log_id, evaluator_slug) ON DELETE CASCADE
) WITHOUT ROWID;
"#;

/// The side tables' indexes by log id: one log's rows (the `EXISTS` checks of a filter with
/// several side-table conditions) and the cascades when a log or a score goes.
pub(crate) const SIDE_INDEXES: &str = r#"
CREATE INDEX log_error_kinds_by_log ON log_error_kinds (log_id, error_kind);
CREATE INDEX log_properties_by_log  ON log_properties (log_id, key, value);
CREATE INDEX score_values_by_log    ON score_values (log_id, evaluator_slug, value_text);
"#;

/// Creates the schema in a new database, upgrades an older one, or checks an existing one's
/// version. [`StoreError::SchemaTooNew`] if a newer build wrote the file.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let found = user_version(conn)?;
    check_not_newer(found)?;
    if found == SCHEMA_VERSION {
        return Ok(());
    }
    // The copy of an upgrade joins every row to its log, so checking foreign keys row by row
    // would only slow it down (the setting cannot change inside the transaction).
    conn.pragma_update(None, "foreign_keys", false)?;
    conn.busy_timeout(UPGRADE_WAIT)?;
    let result = set_up(conn);
    conn.busy_timeout(open::BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", true)?;
    result
}

/// Brings the schema to [`SCHEMA_VERSION`] in one immediate transaction.
fn set_up(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Re-read under the write lock: another connection may have set up the schema meanwhile.
    let found = user_version(&tx)?;
    check_not_newer(found)?;
    match found {
        SCHEMA_VERSION => return Ok(()),
        1 => upgrade::v1_to_v2(&tx)?,
        _ => create(&tx)?,
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}

/// Creates the current schema in an empty database.
fn create(tx: &Transaction<'_>) -> Result<(), StoreError> {
    tx.execute_batch(CORE)?;
    tx.execute_batch(SIDE_TABLES)?;
    tx.execute_batch(SIDE_INDEXES)?;
    Ok(())
}

fn user_version(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row("PRAGMA user_version", [], |row| row.get(0))?)
}

fn check_not_newer(found: i64) -> Result<(), StoreError> {
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(())
}
