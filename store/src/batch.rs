//! What both stores share about inserting a batch.

use serde::Serialize;

/// What [`crate::LogStore::insert_batch`] did with a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct InsertSummary {
    /// Records stored by this call.
    pub inserted: usize,
    /// Records skipped because their `id` was already stored (earlier, or earlier in the batch).
    pub duplicates: usize,
    /// Records that cannot be stored, as (index in the batch, why): not JSON, not an object, or
    /// without a non-empty string `id`.
    pub rejected: Vec<(usize, String)>,
}
