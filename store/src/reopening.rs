//! A store for long-running writers (`consume`, the embedded writer, retention): opened on
//! first use and opened again after its connection failed, so a database restart costs a few
//! failed (and retried) batches, not the process.

use crate::{LogStore, Store, StoreError};

/// A store at one URL, (re)opened when needed.
#[derive(Debug)]
pub struct Reopening {
    url: String,
    store: Option<Store>,
}

impl Reopening {
    /// Opens the store at `url` now. A database that cannot be reached is not an error here
    /// (the next use tries again); a bad URL or a schema from a newer build is.
    pub fn open(url: &str) -> Result<Reopening, StoreError> {
        let store = match crate::open(url) {
            Ok(store) => Some(store),
            Err(e) if e.is_connection_failure() => {
                tracing::warn!("log store not reachable yet (will retry): {e}");
                None
            }
            Err(e) => return Err(e),
        };
        Ok(Reopening {
            url: url.to_owned(),
            store,
        })
    }

    /// Runs `f` on the store, opening it first if needed; after a failure of the connection
    /// itself the store is dropped, to be opened again on the next call.
    pub fn with<T>(
        &mut self,
        f: impl FnOnce(&mut dyn LogStore) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let store = match &mut self.store {
            Some(store) => store,
            None => self.store.insert(crate::open(&self.url)?),
        };
        let result = f(store.as_mut());
        if result
            .as_ref()
            .is_err_and(StoreError::is_connection_failure)
        {
            self.store = None;
        }
        result
    }
}
