//! Upgrading a version 1 store to version 2, inside the caller's immediate transaction.
//!
//! Version 1 keyed the side tables by value then log id (`log_properties (key, value, log_id)`,
//! `log_error_kinds (log_id, error_kind)` plus an index by kind, `score_values (evaluator_slug,
//! value_text, log_id)`), so a filter on a common value collected every matching id and sorted
//! them by time before returning a page. Version 2 adds the log's `start_time` to their keys
//! (see [`crate::schema`]). The upgrade renames the old tables, creates the new ones, copies the
//! rows with each log's `start_time`, builds the indexes and drops the old tables; `logs` and
//! `scores` are untouched. It reads and rewrites every side-table row once.

use rusqlite::Transaction;

use super::schema;
use crate::StoreError;

/// Moves the version 1 side tables out of the way (their indexes' names are reused).
const SET_ASIDE: &str = r#"
DROP INDEX log_error_kinds_by_kind;
DROP INDEX log_properties_by_log;
DROP INDEX score_values_by_log;
ALTER TABLE log_error_kinds RENAME TO log_error_kinds_v1;
ALTER TABLE log_properties RENAME TO log_properties_v1;
ALTER TABLE score_values RENAME TO score_values_v1;
"#;

/// Copies the rows in the new keys' order (so the new trees are written left to right). The
/// joins give each row its log's `start_time` and leave out rows whose log or score is gone.
const COPY: &str = r#"
INSERT INTO log_properties (key, value, start_time, log_id)
    SELECT p.key, p.value, l.start_time, p.log_id
    FROM log_properties_v1 AS p JOIN logs AS l ON l.id = p.log_id
    ORDER BY 1, 2, 3, 4;
INSERT INTO log_error_kinds (error_kind, start_time, log_id)
    SELECT e.error_kind, l.start_time, e.log_id
    FROM log_error_kinds_v1 AS e JOIN logs AS l ON l.id = e.log_id
    ORDER BY 1, 2, 3;
INSERT INTO score_values (evaluator_slug, value_text, start_time, log_id)
    SELECT v.evaluator_slug, v.value_text, l.start_time, v.log_id
    FROM score_values_v1 AS v
    JOIN scores AS s ON s.log_id = v.log_id AND s.evaluator_slug = v.evaluator_slug
    JOIN logs AS l ON l.id = v.log_id
    ORDER BY 1, 2, 3, 4;
"#;

const DROP_OLD: &str = r#"
DROP TABLE log_error_kinds_v1;
DROP TABLE log_properties_v1;
DROP TABLE score_values_v1;
"#;

/// Rewrites a version 1 schema's side tables as version 2's.
pub(crate) fn v1_to_v2(tx: &Transaction<'_>) -> Result<(), StoreError> {
    tx.execute_batch(SET_ASIDE)?;
    tx.execute_batch(schema::SIDE_TABLES)?;
    tx.execute_batch(COPY)?;
    tx.execute_batch(schema::SIDE_INDEXES)?;
    tx.execute_batch(DROP_OLD)?;
    Ok(())
}

/// The version 1 schema, as history and to build version 1 stores in tests.
#[cfg(test)]
pub(crate) const SCHEMA_V1: &str = r#"
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

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use rusqlite::{Connection, params};
    use serde_json::{Value, json};

    use super::SCHEMA_V1;
    use crate::record::Indexed;
    use crate::sqlite::SqliteStore as Store;
    use crate::sqlite::schema::SCHEMA_VERSION;
    use crate::{Filter, Order, Score, ScoreValue, timefmt};

    /// A database file under the temp dir, removed (with its WAL) when dropped.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(name: &str) -> TempFile {
            let unique = format!(
                "switchboard-store-{name}-{}-{}.db",
                std::process::id(),
                timefmt::now_micros()
            );
            TempFile(std::env::temp_dir().join(unique))
        }

        fn url(&self) -> String {
            format!("sqlite://{}", self.0.display())
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            for suffix in ["", "-wal", "-shm"] {
                let mut path = self.0.clone().into_os_string();
                path.push(suffix);
                let _ = std::fs::remove_file(path);
            }
        }
    }

    /// 300 records, three per second (ties broken by id), with metadata, error kinds, threads;
    /// one without a start time.
    fn records() -> Vec<String> {
        let base = 1_735_689_600_000_000i64;
        let mut records: Vec<String> = (0..300)
            .map(|n: i64| {
                let start = timefmt::micros_to_rfc3339(base + (n / 3) * 1_000_000);
                let language = ["es", "en", "es", "fr", "en"][usize::try_from(n % 5).unwrap_or(0)];
                let kind = if n % 7 == 0 {
                    json!("5xx")
                } else {
                    Value::Null
                };
                json!({
                    "id": format!("log-{n:04}"), "start_time": start, "model": "voice-fast",
                    "thread_identifier": format!("call_{}", n / 12),
                    "metadata": {"language": language, "tenant": format!("t{}", n % 11)},
                    "attempts": [{"error_kind": kind}, {"error_kind": "timeout"}],
                })
                .to_string()
            })
            .collect();
        records.push(json!({"id": "undated", "metadata": {"language": "es"}}).to_string());
        records
    }

    fn scores() -> Vec<(String, Score)> {
        let score = |slug: &str, value| Score {
            evaluator_slug: slug.into(),
            value,
        };
        let mut scores = Vec::new();
        for n in (0..300).step_by(13) {
            let id = format!("log-{n:04}");
            scores.push((id.clone(), score("quality", ScoreValue::Numerical(1.0))));
            let tags = ScoreValue::Categorical(vec!["rude".into(), "off_topic".into()]);
            scores.push((id, score("tags", tags)));
        }
        scores.push((
            "undated".into(),
            score("quality", ScoreValue::Numerical(1.0)),
        ));
        scores
    }

    /// Writes `records` and `scores` into a new version 1 database, as version 1 did.
    fn write_v1(path: &std::path::Path, records: &[String], scores: &[(String, Score)]) {
        let mut conn = Connection::open(path).expect("open v1");
        conn.pragma_update(None, "foreign_keys", true)
            .expect("foreign keys");
        let tx = conn.transaction().expect("tx");
        tx.execute_batch(SCHEMA_V1).expect("v1 schema");
        tx.pragma_update(None, "user_version", 1).expect("version");
        for text in records {
            let row = Indexed::from_json(text).expect("record");
            tx.execute(
                "INSERT INTO logs (id, start_time, model, thread_identifier, record) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    row.id,
                    row.start_time.unwrap_or_else(timefmt::now_micros),
                    row.model,
                    row.thread_identifier,
                    text
                ],
            )
            .expect("v1 log");
            for (key, value) in &row.properties {
                tx.execute(
                    "INSERT INTO log_properties (log_id, key, value) VALUES (?1, ?2, ?3)",
                    params![row.id, key, value],
                )
                .expect("v1 property");
            }
            for kind in &row.error_kinds {
                tx.execute(
                    "INSERT INTO log_error_kinds (log_id, error_kind) VALUES (?1, ?2)",
                    params![row.id, kind],
                )
                .expect("v1 error kind");
            }
        }
        for (log_id, score) in scores {
            let texts: Vec<String> = match &score.value {
                ScoreValue::Numerical(n) => vec![n.to_string()],
                ScoreValue::Categorical(items) => items.clone(),
                other => panic!("not used here: {other:?}"),
            };
            tx.execute(
                "INSERT INTO scores (log_id, evaluator_slug, value_type, created_at) \
                 VALUES (?1, ?2, 'x', 0)",
                params![log_id, score.evaluator_slug],
            )
            .expect("v1 score");
            for text in texts {
                tx.execute(
                    "INSERT INTO score_values (evaluator_slug, value_text, log_id) \
                     VALUES (?1, ?2, ?3)",
                    params![score.evaluator_slug, text, log_id],
                )
                .expect("v1 score value");
            }
        }
        tx.commit().expect("commit v1");
    }

    /// What a filter answers: every page (7 rows each), both exports, and the count.
    fn answers(
        store: &Store,
        pairs: &[(&str, &str)],
    ) -> (Vec<String>, Vec<String>, Vec<String>, u64) {
        let filter = Filter::from_pairs(pairs.iter().copied()).expect("filter");
        let id_of = |record: &Value| record["id"].as_str().unwrap_or_default().to_owned();
        let mut pages = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let (page, next) = store.list(&filter, 7, cursor.as_deref()).expect("page");
            pages.extend(page.iter().map(id_of));
            match next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        let export = |order| {
            let mut ids = Vec::new();
            store
                .for_each(&filter, order, None, &mut |record, _| {
                    ids.push(id_of(&serde_json::from_str(record)?));
                    Ok(())
                })
                .expect("export");
            ids
        };
        let count = store.count(&filter).expect("count");
        (
            pages,
            export(Order::NewestFirst),
            export(Order::OldestFirst),
            count,
        )
    }

    fn schema_of(store: &Store) -> Vec<(String, String, String)> {
        let mut statement = store
            .conn
            .prepare(
                "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name",
            )
            .expect("schema query");
        statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .expect("schema rows")
            .collect::<Result<_, _>>()
            .expect("schema")
    }

    #[test]
    fn a_version_1_store_is_upgraded_on_open_and_answers_as_a_new_one() {
        let (records, scores) = (records(), scores());
        let old = TempFile::new("v1");
        write_v1(&old.0, &records, &scores);
        let upgraded = Store::open(&old.url()).expect("open and upgrade");

        let new = TempFile::new("v2");
        let mut fresh = Store::open(&new.url()).expect("new store");
        let texts: Vec<&str> = records.iter().map(String::as_str).collect();
        assert_eq!(fresh.insert_batch(&texts).expect("insert").inserted, 301);
        for (log_id, score) in &scores {
            fresh.put_score(log_id, score).expect("score");
        }

        let version: i64 = upgraded
            .conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .expect("version");
        assert_eq!(version, SCHEMA_VERSION);
        assert_eq!(schema_of(&upgraded), schema_of(&fresh));
        let check: String = upgraded
            .conn
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .expect("integrity");
        assert_eq!(check, "ok");
        let orphans = upgraded
            .conn
            .prepare("PRAGMA foreign_key_check")
            .and_then(|mut s| s.query([])?.next().map(|row| row.is_some()))
            .expect("foreign key check");
        assert!(!orphans, "every side-table row has its log and score");

        let filters: [&[(&str, &str)]; 12] = [
            &[],
            &[("metadata.language", "es")],
            &[("metadata.language", "fr")],
            &[("metadata.language", "xx")],
            &[("metadata.language", "es"), ("metadata.tenant", "t3")],
            &[
                ("metadata.language", "es"),
                ("from", "2025-01-01T00:00:10Z"),
                ("to", "2025-01-01T00:01:00Z"),
            ],
            &[("error_kind", "5xx")],
            &[("error_kind", "timeout"), ("thread_identifier", "call_4")],
            &[("score.quality", "1")],
            &[("score.quality", "1.0"), ("metadata.language", "en")],
            &[("score.tags", "rude"), ("model", "voice-fast")],
            &[("thread_identifier", "call_2"), ("metadata.language", "es")],
        ];
        for pairs in filters {
            let answer = answers(&upgraded, pairs);
            assert_eq!(answer, answers(&fresh, pairs), "{pairs:?}");
            if pairs != [("metadata.language", "xx")] {
                assert!(answer.3 > 0, "{pairs:?} matches something");
            }
        }

        // Reopening does not upgrade twice, and the upgraded store takes new writes.
        drop(upgraded);
        let mut reopened = Store::open(&old.url()).expect("reopen");
        let late = json!({"id": "late", "start_time": "2025-01-01T00:00:30.5Z",
                          "metadata": {"language": "es"}})
        .to_string();
        assert_eq!(reopened.insert_batch(&[&late]).expect("insert").inserted, 1);
        let spanish = Filter::from_pairs([("metadata.language", "es")]).expect("filter");
        assert_eq!(
            reopened.count(&spanish).expect("count"),
            fresh.count(&spanish).expect("count") + 1
        );
    }

    #[test]
    fn connections_opening_a_version_1_store_together_upgrade_it_once() {
        let (records, scores) = (records(), scores());
        let old = TempFile::new("v1-race");
        write_v1(&old.0, &records, &scores);
        let openers: Vec<_> = (0..4)
            .map(|_| {
                let url = old.url();
                std::thread::spawn(move || {
                    let store = Store::open(&url)?;
                    store.count(&Filter::from_pairs([("metadata.language", "es")])?)
                })
            })
            .collect();
        for opener in openers {
            let count = opener.join().expect("thread").expect("open and count");
            assert_eq!(count, 121);
        }
    }

    #[test]
    fn a_store_from_a_newer_build_is_refused() {
        let file = TempFile::new("v9");
        let conn = Connection::open(&file.0).expect("open");
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .expect("version");
        drop(conn);
        assert!(matches!(
            Store::open(&file.url()),
            Err(crate::StoreError::SchemaTooNew { found, .. }) if found == SCHEMA_VERSION + 1
        ));
    }
}
