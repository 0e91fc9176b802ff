//! Delivery straight into the store (no Redis): one transaction per batch, on a blocking
//! thread (the PostgreSQL driver blocks, and SQLite waits on locks), through a store that is
//! opened again after its connection broke.

use std::sync::{Arc, Mutex};

use switchboard_store::Reopening;

use crate::SinkError;

/// Writes record batches into the store.
pub struct EmbeddedStore {
    store: Arc<Mutex<Reopening>>,
}

impl EmbeddedStore {
    /// Opens (creating) the store at `url` (`sqlite://PATH` or `postgres://...`).
    pub fn open(url: &str) -> Result<EmbeddedStore, SinkError> {
        Reopening::open(url)
            .map(|store| EmbeddedStore {
                store: Arc::new(Mutex::new(store)),
            })
            .map_err(|source| SinkError::StoreOpen {
                url: switchboard_store::redacted_url(url),
                source,
            })
    }

    /// Inserts `records` (JSON texts) in one transaction.
    pub async fn deliver(&mut self, records: &[String]) -> Result<(), SinkError> {
        let store = self.store.clone();
        let records = records.to_vec();
        let summary = tokio::task::spawn_blocking(move || {
            let texts: Vec<&str> = records.iter().map(String::as_str).collect();
            let mut store = store.lock().unwrap_or_else(|e| e.into_inner());
            store.with(|store| store.insert_batch(&texts))
        })
        .await
        .map_err(|e| SinkError::StoreTask(e.to_string()))?
        .map_err(SinkError::StoreInsert)?;
        for (index, why) in &summary.rejected {
            tracing::error!("the store rejected record #{index} of a batch: {why}");
        }
        Ok(())
    }
}
