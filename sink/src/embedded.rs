//! Delivery straight into the embedded store (no Redis): one transaction per batch.

use switchboard_store::Store;

use crate::SinkError;

/// Writes record batches into the store.
pub struct EmbeddedStore {
    store: Store,
}

impl EmbeddedStore {
    /// Opens (creating) the store at `url` (`sqlite://PATH`).
    pub fn open(url: &str) -> Result<EmbeddedStore, SinkError> {
        Store::open(url)
            .map(|store| EmbeddedStore { store })
            .map_err(|source| SinkError::StoreOpen {
                url: url.to_owned(),
                source,
            })
    }

    /// Inserts `records` (JSON texts) in one transaction.
    pub fn deliver(&mut self, records: &[String]) -> Result<(), SinkError> {
        let texts: Vec<&str> = records.iter().map(String::as_str).collect();
        let summary = self
            .store
            .insert_batch(&texts)
            .map_err(SinkError::StoreInsert)?;
        for (index, why) in &summary.rejected {
            tracing::error!("the store rejected record #{index} of a batch: {why}");
        }
        Ok(())
    }
}
