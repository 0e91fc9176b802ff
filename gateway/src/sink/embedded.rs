//! Delivery straight into the embedded store (no Redis): one transaction per batch.

use switchboard_store::Store;

/// Writes record batches into the store.
pub struct EmbeddedStore {
    store: Store,
}

impl EmbeddedStore {
    /// Opens (creating) the store at `url` (`sqlite://PATH`).
    pub fn open(url: &str) -> Result<EmbeddedStore, String> {
        Store::open(url)
            .map(|store| EmbeddedStore { store })
            .map_err(|e| format!("cannot open logging.store {url}: {e}"))
    }

    /// Inserts `records` (JSON texts) in one transaction.
    pub fn deliver(&mut self, records: &[String]) -> Result<(), String> {
        let texts: Vec<&str> = records.iter().map(String::as_str).collect();
        let summary = self
            .store
            .insert_batch(&texts)
            .map_err(|e| format!("store insert failed: {e}"))?;
        for (index, why) in &summary.rejected {
            tracing::error!("the store rejected record #{index} of a batch: {why}");
        }
        Ok(())
    }
}
