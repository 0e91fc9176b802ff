//! Helpers shared by the store's user-story tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};
use switchboard_store::{InsertSummary, Store};
use switchboard_test_services::PostgresServer;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// 2025-01-01T00:00:00Z: every test record starts some seconds after it.
pub const BASE: i64 = 1_735_689_600;

/// A directory under the system temp dir, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let unique = format!(
            "switchboard-store-{name}-{}-{}-{}",
            std::process::id(),
            OffsetDateTime::now_utc().unix_timestamp_nanos(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(unique);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The `sqlite://` URL of a database in a not-yet-existing sub-directory.
    pub fn url(&self) -> String {
        format!("sqlite://{}", self.0.join("data").join("logs.db").display())
    }

    pub fn open(&self) -> Store {
        switchboard_store::open(&self.url()).expect("open store")
    }
}

/// Which store a test of the shared behaviour suite runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Where a test's store lives: a fresh SQLite file, or a fresh database on the test process's
/// private PostgreSQL (started on first use, on a free port, stopped when the process exits).
pub struct Place {
    pub backend: Backend,
    dir: TempDir,
    url: String,
}

impl Place {
    pub fn new(backend: Backend, name: &str) -> Place {
        let dir = TempDir::new(name);
        let url = match backend {
            Backend::Sqlite => dir.url(),
            Backend::Postgres => PostgresServer::shared().create_database(),
        };
        Place { backend, dir, url }
    }

    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// A new connection to the store.
    pub fn open(&self) -> Store {
        switchboard_store::open(&self.url).expect("open store")
    }

    /// The temp directory beside it (the SQLite file lives in `data/`).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Runs each named test function `fn name(backend: Backend)` once per store: as
/// `sqlite::name` and `postgres::name`.
#[macro_export]
macro_rules! both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name($crate::common::Backend::Sqlite) } )*
        }
        mod postgres {
            $( #[test] fn $name() { super::$name($crate::common::Backend::Postgres) } )*
        }
    };
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// RFC3339 of `BASE + seconds`.
pub fn at(seconds: f64) -> String {
    let nanos = (i128::from(BASE) * 1_000_000_000) + (seconds * 1e9).round() as i128;
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .expect("in range")
        .format(&Rfc3339)
        .expect("formats")
}

/// A complete SPEC section 4 record starting `seconds` after `BASE`.
pub fn record(id: &str, seconds: f64) -> Value {
    json!({
        "id": id, "timestamp": at(seconds + 0.412), "start_time": at(seconds), "log_type": "chat",
        "model": "voice-fast", "provider_id": "openai", "provider_model": "gpt-4o-mini",
        "stream": true, "status_code": 200, "status": "success", "error_message": null,
        "latency": 0.412, "time_to_first_token": 0.131, "max_stall": 0.020,
        "usage": {"prompt_tokens": 12, "completion_tokens": 40, "total_tokens": 52},
        "cost": 0.0000123,
        "input": [{"role": "user", "content": "hola"}],
        "output": {"role": "assistant", "content": "¡hola!"},
        "tools": [], "response_format": null,
        "customer_identifier": "acct_9", "thread_identifier": "call_123",
        "metadata": {"language": "es", "use_case": "intent"},
        "trace_unique_id": null, "span_unique_id": null, "span_parent_id": null, "span_name": null,
        "retries": 0, "fallback_used": false, "json_valid": true,
        "attempts": [{"provider_id": "openai", "provider_model": "gpt-4o-mini", "status_code": 200,
                      "error_kind": null, "latency": 0.41, "time_to_first_token": 0.131}],
        "warnings": []
    })
}

/// Sets `record[key] = value`.
pub fn with(mut record: Value, key: &str, value: Value) -> Value {
    record[key] = value;
    record
}

/// Inserts JSON values as one batch.
pub fn insert(store: &mut Store, records: &[Value]) -> InsertSummary {
    let texts: Vec<String> = records.iter().map(Value::to_string).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    store.insert_batch(&refs).expect("insert batch")
}

/// The ids of records, in order.
pub fn ids(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| r["id"].as_str().expect("id").to_owned())
        .collect()
}

/// A sortable test id.
pub fn id(n: usize) -> String {
    format!("log-{n:06}")
}
