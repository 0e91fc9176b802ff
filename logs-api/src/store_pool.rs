//! Read access to the log store (`logging.store`) for the logs API: a few idle connections
//! kept for reuse, and every call run on a blocking thread so the store never blocks the
//! runtime.

use std::sync::{Arc, Mutex};

use switchboard_store::{Store, StoreError};

use crate::error::ApiError;

/// Idle connections kept for the next request; more are opened when requests overlap.
const MAX_IDLE: usize = 4;

/// Connections to the store at one URL, opened on first use.
pub struct StorePool {
    url: String,
    idle: Mutex<Vec<Store>>,
}

impl StorePool {
    /// A pool for `url` (`sqlite://PATH` or `postgres://...`); nothing is opened yet.
    pub fn new(url: &str) -> StorePool {
        StorePool {
            url: url.to_owned(),
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Runs `f` with a connection on the calling (blocking) thread.
    pub fn with<T>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let mut store = match idle {
            Some(store) => store,
            None => switchboard_store::open(&self.url)?,
        };
        let result = f(&mut store);
        // A connection that failed itself (SQLite, or a PostgreSQL connection that broke) is
        // dropped rather than reused.
        if !result
            .as_ref()
            .is_err_and(StoreError::is_connection_failure)
            && let Ok(mut idle) = self.idle.lock()
            && idle.len() < MAX_IDLE
        {
            idle.push(store);
        }
        result
    }

    /// Runs `f` with a connection on a blocking thread, mapping store errors to API errors.
    pub async fn run<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let pool = self.clone();
        tokio::task::spawn_blocking(move || pool.with(f))
            .await
            .map_err(|e| ApiError::Internal(format!("the store task failed: {e}")))?
            .map_err(api_error)
    }
}

/// How a store error is answered: the caller's mistakes as 400/404, the rest as 500.
pub fn api_error(error: StoreError) -> ApiError {
    match error {
        StoreError::BadFilter { .. } | StoreError::BadCursor(_) | StoreError::BadScore(_) => {
            ApiError::InvalidRequest(error.to_string())
        }
        StoreError::NotFound(_) => ApiError::NotFound(error.to_string()),
        other => {
            tracing::error!("logs API: {other}");
            ApiError::Internal(format!("the log store failed: {other}"))
        }
    }
}
