//! Why the log pipeline could not start or deliver. Never shown to a client: the request path
//! hands records over and moves on; these end up in the gateway's own log.

use std::path::PathBuf;

/// A log pipeline failure.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// Disk I/O on the spool failed.
    #[error("spool {path}: {source}")]
    Spool {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// `logging.redis_url` cannot be parsed (only the kind is kept: the URL may hold a password).
    #[error("logging.redis_url is not usable: {0:?}")]
    RedisUrl(redis::ErrorKind),
    /// Connecting to Redis failed or took too long.
    #[error("cannot connect to Redis: {0}")]
    RedisConnect(String),
    /// A batch of `XADD`s failed or took too long.
    #[error("XADD failed: {0}")]
    Xadd(String),
    /// The embedded store could not be opened.
    #[error("cannot open logging.store {url}: {source}")]
    StoreOpen {
        /// `logging.store`, its password (if any) shown as `***`.
        url: String,
        /// The store's reason.
        source: switchboard_store::StoreError,
    },
    /// The blocking task writing into the store failed (it panicked or was cancelled).
    #[error("the store task failed: {0}")]
    StoreTask(String),
    /// The embedded store refused a batch.
    #[error("store insert failed: {0}")]
    StoreInsert(switchboard_store::StoreError),
    /// A `[logging] redact` entry does not compile.
    #[error("logging.redact: {pattern:?} is not a usable pattern: {why}")]
    Redact {
        /// The entry.
        pattern: String,
        /// The regex crate's reason.
        why: String,
    },
    /// The writer thread could not be started.
    #[error("cannot start the log writer thread: {0}")]
    Thread(std::io::Error),
}
