//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite reported an error (I/O, corruption, a busy database past the busy timeout, ...).
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),

    /// PostgreSQL reported an error, or the connection to it failed.
    #[error("postgres: {0}")]
    Postgres(#[from] postgres::Error),

    /// The PostgreSQL server could not be reached or refused the connection.
    #[error("cannot connect to {url}: {source}")]
    Connect {
        /// The URL, its password replaced by `***`.
        url: String,
        /// What the driver reported.
        source: postgres::Error,
    },

    /// The database's parent directory could not be created.
    #[error("cannot create directory {path}: {source}")]
    CreateDir {
        /// The directory that could not be created.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },

    /// The URL given to [`crate::open`] is not one the store understands (a PostgreSQL URL's
    /// password is shown as `***`).
    #[error("bad store url {url:?}: {reason}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// Why it was refused.
        reason: String,
    },

    /// The database was written by a newer version of this crate.
    #[error(
        "database schema version {found} is newer than the supported {supported}: upgrade this Switchboard"
    )]
    SchemaTooNew {
        /// The `user_version` found in the file.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },

    /// A filter parameter is unknown or its value is malformed; `key` names it.
    #[error("bad filter `{key}`: {reason}")]
    BadFilter {
        /// The offending query key, as given (e.g. `fallback_used`, `metadata.`).
        key: String,
        /// Why it was refused.
        reason: String,
    },

    /// A pagination cursor that this store did not produce (or that was altered).
    #[error("bad cursor: {0}")]
    BadCursor(String),

    /// A score that cannot be stored (empty evaluator slug, non-finite number, ...).
    #[error("bad score: {0}")]
    BadScore(String),

    /// The log the operation refers to does not exist; carries its id.
    #[error("log {0} not found")]
    NotFound(String),

    /// A stored record is not valid JSON (the store only keeps records it parsed, so this means
    /// the file was edited or corrupted).
    #[error("stored record is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),

    /// The retention thread could not be started.
    #[error("cannot start the retention thread: {0}")]
    Thread(#[source] std::io::Error),

    /// A [`crate::LogStore::for_each`] callback stopped the iteration with its own error.
    #[error("stopped by the caller: {0}")]
    Aborted(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl StoreError {
    /// True when the connection itself failed (a closed PostgreSQL connection, a SQLite error):
    /// a pool should drop it rather than reuse it.
    pub fn is_connection_failure(&self) -> bool {
        match self {
            StoreError::Sqlite(_) | StoreError::Connect { .. } => true,
            StoreError::Postgres(e) => e.is_closed() || e.as_db_error().is_none(),
            _ => false,
        }
    }

    /// Builds a [`StoreError::BadFilter`].
    pub(crate) fn bad_filter(key: &str, reason: impl Into<String>) -> Self {
        StoreError::BadFilter {
            key: key.to_owned(),
            reason: reason.into(),
        }
    }
}
