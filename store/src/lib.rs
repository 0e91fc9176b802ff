//! The store of Switchboard's request logs (SPEC sections 4, 5, 7, 11 and 14).
//!
//! One trait, [`LogStore`], with two implementations chosen by the URL of `logging.store`:
//! [`SqliteStore`] (`sqlite://PATH`, the embedded default for one machine) and
//! [`PostgresStore`] (`postgres://...`, shared by any number of consumers and gateways). Both
//! keep each record's JSON text as received beside the columns and side tables that index it,
//! read pages by keyset on `(start_time, id)` off one index (see the `plan` module), and give
//! the same answers for the same data: one filter model ([`Filter`], [`Condition`]) renders
//! into both dialects, and one behaviour suite (`store/tests`) runs against both.
//!
//! The API is synchronous: async callers wrap each call in `spawn_blocking` and give each
//! thread its own store (a store is `Send`, not `Sync`).

#![warn(missing_docs)]

mod batch;
mod condition;
mod cursor;
mod dialect;
mod error;
mod filter;
mod page;
mod plan;
mod postgres;
mod predicate;
mod record;
mod reopening;
mod retention;
mod score;
mod sqlite;
mod timefmt;

use serde_json::Value;
use time::OffsetDateTime;

pub use batch::InsertSummary;
pub use condition::{Condition, Field, Op};
pub use error::StoreError;
pub use filter::{Filter, NON_FILTER_KEYS};
pub use page::Order;
pub use postgres::PostgresStore;
pub use reopening::Reopening;
pub use retention::Retention;
pub use score::{Score, ScoreValue};
pub use sqlite::SqliteStore;

/// A store of log records: what the logs API, `consume`, the embedded writer, retention and
/// `switchboard export` use, whichever database is behind it.
pub trait LogStore: Send + std::fmt::Debug {
    /// `"sqlite"` or `"postgres"`.
    fn backend(&self) -> &'static str;

    /// Inserts a batch of record JSON texts in one transaction. A record whose `id` is already
    /// stored is counted as a duplicate and left as it was; a record that cannot be stored is
    /// reported in [`InsertSummary::rejected`] and the rest of the batch still goes in. A record
    /// without a readable `start_time` is filed under the time of the insert.
    fn insert_batch(&mut self, records: &[&str]) -> Result<InsertSummary, StoreError>;

    /// The record with this id, with its scores attached as `"scores": [...]`; `None` if no
    /// such log.
    fn get(&mut self, id: &str) -> Result<Option<Value>, StoreError>;

    /// The cursor of the log `id`'s position, as [`LogStore::list`] and [`LogStore::for_each`]
    /// give it: reading (in either order) after it continues right after that log.
    fn cursor_of(&mut self, id: &str) -> Result<Option<String>, StoreError>;

    /// How many logs match the filter.
    fn count(&mut self, filter: &Filter) -> Result<u64, StoreError>;

    /// One page of matching records, newest first (`start_time` desc, then `id` desc), after
    /// `cursor` (from a previous page) if given, and the next page's cursor (`None` on the last
    /// page). A cursor is a position, not an offset: whatever is inserted between two reads, no
    /// row repeats and none is skipped. `limit` is at least 1. A filter with conditions
    /// (`latency.gt=...`) walks at most 20,000 rows per page and returns the matches among them.
    fn list(
        &mut self,
        filter: &Filter,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<(Vec<Value>, Option<String>), StoreError>;

    /// Matching records `offset..offset + limit` in `order` (page-numbered APIs such as
    /// Respan's).
    fn page_at(
        &mut self,
        filter: &Filter,
        order: Order,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<Value>, StoreError>;

    /// Every record of a thread (a call), oldest first.
    fn thread(&mut self, thread_identifier: &str) -> Result<Vec<Value>, StoreError>;

    /// Every record of a trace, oldest first; the caller nests the spans.
    fn trace(&mut self, trace_unique_id: &str) -> Result<Vec<Value>, StoreError>;

    /// Calls `each(record JSON, cursor of that row)` for every matching record in `order`,
    /// after `after_cursor` if given, streaming (constant memory) over one snapshot of the
    /// store. An `Err` from `each` stops the walk and is returned; a walk can be resumed from
    /// the last cursor `each` saw.
    fn for_each(
        &mut self,
        filter: &Filter,
        order: Order,
        after_cursor: Option<&str>,
        each: &mut dyn FnMut(&str, &str) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;

    /// Stores `score` for the log `log_id`, replacing that evaluator's earlier score of the log.
    /// [`StoreError::NotFound`] if the log does not exist.
    fn put_score(&mut self, log_id: &str, score: &Score) -> Result<(), StoreError>;

    /// One retention pass: removes the logs (with their scores) that started more than `days`
    /// days before `now`, calling `expired` with each step's count (answering false stops the
    /// pass); the total. SQLite deletes in batches of 500; PostgreSQL drops whole day
    /// partitions, so a log is kept until its whole day is past the cutoff.
    fn expire_older_than(
        &mut self,
        days: u32,
        now: OffsetDateTime,
        expired: &mut dyn FnMut(u64) -> bool,
    ) -> Result<u64, StoreError>;

    /// The database's plan for the page query [`LogStore::list`] (newest first) or
    /// [`LogStore::for_each`] runs for this filter: a diagnostic that a filter is answered
    /// through an index.
    fn query_plan(
        &mut self,
        filter: &Filter,
        order: Order,
        after_cursor: Option<&str>,
    ) -> Result<Vec<String>, StoreError>;

    /// Refreshes the planner's statistics where the database needs to be asked (SQLite's
    /// `PRAGMA optimize`; PostgreSQL's autovacuum does it by itself).
    fn optimize(&mut self) -> Result<(), StoreError>;
}

/// Implements [`LogStore`] for a store type by calling its inherent methods of the same names
/// (each documented there): both stores keep their own API, and the trait adds none.
macro_rules! log_store_by_inherent_methods {
    ($store:ty, $backend:literal) => {
        impl $crate::LogStore for $store {
            fn backend(&self) -> &'static str {
                $backend
            }
            fn insert_batch(
                &mut self,
                records: &[&str],
            ) -> Result<$crate::InsertSummary, $crate::StoreError> {
                <$store>::insert_batch(self, records)
            }
            fn get(&mut self, id: &str) -> Result<Option<serde_json::Value>, $crate::StoreError> {
                <$store>::get(self, id)
            }
            fn cursor_of(&mut self, id: &str) -> Result<Option<String>, $crate::StoreError> {
                <$store>::cursor_of(self, id)
            }
            fn count(&mut self, filter: &$crate::Filter) -> Result<u64, $crate::StoreError> {
                <$store>::count(self, filter)
            }
            fn list(
                &mut self,
                filter: &$crate::Filter,
                limit: usize,
                cursor: Option<&str>,
            ) -> Result<(Vec<serde_json::Value>, Option<String>), $crate::StoreError> {
                <$store>::list(self, filter, limit, cursor)
            }
            fn page_at(
                &mut self,
                filter: &$crate::Filter,
                order: $crate::Order,
                offset: usize,
                limit: usize,
            ) -> Result<Vec<serde_json::Value>, $crate::StoreError> {
                <$store>::page_at(self, filter, order, offset, limit)
            }
            fn thread(
                &mut self,
                thread_identifier: &str,
            ) -> Result<Vec<serde_json::Value>, $crate::StoreError> {
                <$store>::thread(self, thread_identifier)
            }
            fn trace(
                &mut self,
                trace_unique_id: &str,
            ) -> Result<Vec<serde_json::Value>, $crate::StoreError> {
                <$store>::trace(self, trace_unique_id)
            }
            fn for_each(
                &mut self,
                filter: &$crate::Filter,
                order: $crate::Order,
                after_cursor: Option<&str>,
                each: &mut dyn FnMut(&str, &str) -> Result<(), $crate::StoreError>,
            ) -> Result<(), $crate::StoreError> {
                <$store>::for_each(self, filter, order, after_cursor, each)
            }
            fn put_score(
                &mut self,
                log_id: &str,
                score: &$crate::Score,
            ) -> Result<(), $crate::StoreError> {
                <$store>::put_score(self, log_id, score)
            }
            fn expire_older_than(
                &mut self,
                days: u32,
                now: time::OffsetDateTime,
                expired: &mut dyn FnMut(u64) -> bool,
            ) -> Result<u64, $crate::StoreError> {
                <$store>::expire_older_than(self, days, now, expired)
            }
            fn query_plan(
                &mut self,
                filter: &$crate::Filter,
                order: $crate::Order,
                after_cursor: Option<&str>,
            ) -> Result<Vec<String>, $crate::StoreError> {
                <$store>::query_plan(self, filter, order, after_cursor)
            }
            fn optimize(&mut self) -> Result<(), $crate::StoreError> {
                <$store>::optimize(self)
            }
        }
    };
}
pub(crate) use log_store_by_inherent_methods;

/// `url` as it may be shown in a log line or an error: a PostgreSQL URL's password is `***`.
pub fn redacted_url(url: &str) -> String {
    postgres::redacted(url)
}

/// A store behind its trait, as [`open`] gives it.
pub type Store = Box<dyn LogStore>;

/// Opens the store at `url`, creating or upgrading its schema: `postgres://` or
/// `postgresql://` URLs open a [`PostgresStore`]; `sqlite://PATH`, `sqlite:PATH`, a bare path
/// or `:memory:` a [`SqliteStore`].
pub fn open(url: &str) -> Result<Store, StoreError> {
    if postgres::is_postgres_url(url) {
        Ok(Box::new(PostgresStore::open(url)?))
    } else {
        Ok(Box::new(SqliteStore::open(url)?))
    }
}
