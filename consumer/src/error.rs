//! [`ConsumeError`]: why the consumer could not start, or why one round failed (then it retries).

/// A consumer failure.
#[derive(Debug, thiserror::Error)]
pub enum ConsumeError {
    /// `consume` needs a Redis stream to read.
    #[error(
        "logging.redis_url is not set: there is no stream to consume (the gateway writes straight into the store)"
    )]
    NoRedis,
    /// `logging.redis_url` cannot be parsed (only the kind is kept: the URL may hold a password).
    #[error("logging.redis_url: {0:?}")]
    RedisUrl(redis::ErrorKind),
    /// The store could not be opened.
    #[error("cannot open logging.store: {0}")]
    StoreOpen(switchboard_store::StoreError),
    /// A Redis command failed; `what` says which.
    #[error("{what}: {source}")]
    Redis {
        /// What was being done, e.g. `XACK failed`.
        what: &'static str,
        /// Redis's reason.
        source: redis::RedisError,
    },
    /// Redis answered something the consumer cannot read.
    #[error("unexpected {what} reply: {why}")]
    Reply {
        /// The command.
        what: &'static str,
        /// What was wrong with it.
        why: String,
    },
    /// The blocking task that writes into the store failed (it panicked or was cancelled).
    #[error("the store task failed: {0}")]
    StoreTask(String),
    /// The store refused a batch (nothing of it is acknowledged).
    #[error("store insert failed: {0}")]
    StoreInsert(switchboard_store::StoreError),
}

/// `map_err` for a Redis call: `ConsumeError::Redis` with `what`.
pub(crate) fn redis(what: &'static str) -> impl FnOnce(redis::RedisError) -> ConsumeError {
    move |source| ConsumeError::Redis { what, source }
}
