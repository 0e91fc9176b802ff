//! The PostgreSQL schema and its versioned migrations, applied at start.
//!
//! `switchboard_migrations` records each applied version; a session advisory lock makes the
//! gateways and consumers that start together apply each migration once. A database written
//! by a newer build is refused ([`StoreError::SchemaTooNew`]).
//!
//! Version 1, the layout (indexes as in SQLite, every one ending in `(start_time, id)`):
//! * `logs`, partitioned by range of `start_time` (unix microseconds), one partition per UTC
//!   day (see [`super::partitions`]); primary key `(start_time, id)`, since a partitioned
//!   table's unique keys must hold the partition key. Besides the indexed columns it keeps the
//!   fields that conditions compare (`latency`, `time_to_first_token`, token counts, `stream`,
//!   ...) as columns, so a condition never parses a record's JSON.
//! * `log_ids (id, start_time)`: each id once, over every day: the idempotency key, and the
//!   way from an id to its day.
//! * `log_properties` (metadata pairs) and `log_error_kinds`, partitioned like `logs`, keyed by
//!   value then `(start_time, log_id)`: what a filter walks. A check on one row reads the
//!   log's `metadata` column (the same pairs, as JSON text values) instead, so metadata needs
//!   no second index; error kinds have one by log.
//! * `scores` and `score_values`, small, one table each, carrying the log's `start_time` for
//!   retention.

use postgres::Client;

use crate::StoreError;

/// The newest schema version this build knows.
pub(crate) const SCHEMA_VERSION: i32 = 1;

/// The key of the advisory lock held while migrating.
const MIGRATION_LOCK: i64 = 0x5357_4244_0001;

/// Each version's statements, in order; index 0 is version 1.
const MIGRATIONS: [&str; 1] = [r#"
CREATE TABLE log_ids (
    id         text PRIMARY KEY,
    start_time bigint NOT NULL
);

CREATE TABLE logs (
    id                  text NOT NULL,
    start_time          bigint NOT NULL,
    end_time            bigint,
    model               text,
    provider_id         text,
    status              text,
    status_code         bigint,
    thread_identifier   text,
    customer_identifier text,
    trace_unique_id     text,
    span_unique_id      text,
    span_parent_id      text,
    fallback_used       smallint,
    json_valid          smallint,
    latency             double precision,
    time_to_first_token double precision,
    max_stall           double precision,
    cost                double precision,
    retries             double precision,
    prompt_tokens       double precision,
    completion_tokens   double precision,
    total_tokens        double precision,
    stream              smallint,
    continued           smallint,
    span_name           text,
    log_type            text,
    error_message       text,
    provider_model      text,
    metadata            jsonb,
    record              text NOT NULL,
    PRIMARY KEY (start_time, id)
) PARTITION BY RANGE (start_time);
CREATE INDEX logs_by_model    ON logs (model, start_time, id);
CREATE INDEX logs_by_provider ON logs (provider_id, start_time, id);
CREATE INDEX logs_by_status   ON logs (status, start_time, id);
CREATE INDEX logs_by_thread   ON logs (thread_identifier, start_time, id);
CREATE INDEX logs_by_customer ON logs (customer_identifier, start_time, id);
CREATE INDEX logs_by_trace    ON logs (trace_unique_id, start_time, id);
CREATE INDEX logs_by_fallback ON logs (fallback_used, start_time, id);
CREATE INDEX logs_by_json     ON logs (json_valid, start_time, id);

CREATE TABLE log_properties (
    key        text NOT NULL,
    value      text NOT NULL,
    start_time bigint NOT NULL,
    log_id     text NOT NULL,
    PRIMARY KEY (key, value, start_time, log_id)
) PARTITION BY RANGE (start_time);

CREATE TABLE log_error_kinds (
    error_kind text NOT NULL,
    start_time bigint NOT NULL,
    log_id     text NOT NULL,
    PRIMARY KEY (error_kind, start_time, log_id)
) PARTITION BY RANGE (start_time);
CREATE INDEX log_error_kinds_by_log ON log_error_kinds (log_id);

CREATE TABLE scores (
    log_id          text NOT NULL,
    evaluator_slug  text NOT NULL,
    start_time      bigint NOT NULL,
    value_type      text NOT NULL,
    numerical_value double precision,
    boolean_value   boolean,
    string_value    text,
    created_at      bigint NOT NULL,
    PRIMARY KEY (log_id, evaluator_slug)
);
CREATE INDEX scores_by_time ON scores (start_time);

CREATE TABLE score_values (
    evaluator_slug text NOT NULL,
    value_text     text NOT NULL,
    start_time     bigint NOT NULL,
    log_id         text NOT NULL,
    PRIMARY KEY (evaluator_slug, value_text, start_time, log_id),
    FOREIGN KEY (log_id, evaluator_slug) REFERENCES scores (log_id, evaluator_slug) ON DELETE CASCADE
);
CREATE INDEX score_values_by_log ON score_values (log_id, evaluator_slug);
"#];

/// Brings the database to [`SCHEMA_VERSION`], one transaction per version.
pub(crate) fn migrate(client: &mut Client) -> Result<(), StoreError> {
    client.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])?;
    let result = apply(client);
    let unlocked = client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]);
    result?;
    unlocked?;
    Ok(())
}

fn apply(client: &mut Client) -> Result<(), StoreError> {
    client.batch_execute(
        "CREATE TABLE IF NOT EXISTS switchboard_migrations (\
             version    integer PRIMARY KEY, \
             applied_at timestamptz NOT NULL DEFAULT now())",
    )?;
    let found: i32 = client
        .query_one(
            "SELECT coalesce(max(version), 0) FROM switchboard_migrations",
            &[],
        )?
        .get(0);
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found: i64::from(found),
            supported: i64::from(SCHEMA_VERSION),
        });
    }
    for version in found + 1..=SCHEMA_VERSION {
        let Some(statements) = usize::try_from(version - 1)
            .ok()
            .and_then(|i| MIGRATIONS.get(i))
        else {
            break;
        };
        let mut tx = client.transaction()?;
        tx.batch_execute(statements)?;
        tx.execute(
            "INSERT INTO switchboard_migrations (version) VALUES ($1)",
            &[&version],
        )?;
        tx.commit()?;
        tracing::info!("log store: PostgreSQL schema migrated to version {version}");
    }
    Ok(())
}
