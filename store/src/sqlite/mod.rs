//! The embedded store: one SQLite file in WAL mode (`sqlite://PATH`), for one machine.
//!
//! The log records are kept as received plus the columns and side tables that index them, so
//! that every filter is answered through an index and pages are read by keyset on
//! `(start_time, id)` in order off one index (see [`crate::plan`]). Readers never wait; writers
//! wait for each other up to the 5 s busy timeout.

mod insert;
mod open;
mod query;
mod retention;
pub(crate) mod schema;
mod score;
mod upgrade;

use serde_json::Value;
use time::OffsetDateTime;

use crate::{Filter, InsertSummary, LogStore, Order, Score, StoreError};

/// A connection to a SQLite store. Not `Sync`: give each thread (or blocking task) its own.
#[derive(Debug)]
pub struct SqliteStore {
    conn: rusqlite::Connection,
}

// Each method is the inherent one of the same name, documented there.
impl LogStore for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }
    fn insert_batch(&mut self, records: &[&str]) -> Result<InsertSummary, StoreError> {
        SqliteStore::insert_batch(self, records)
    }
    fn get(&mut self, id: &str) -> Result<Option<Value>, StoreError> {
        SqliteStore::get(self, id)
    }
    fn cursor_of(&mut self, id: &str) -> Result<Option<String>, StoreError> {
        SqliteStore::cursor_of(self, id)
    }
    fn count(&mut self, filter: &Filter) -> Result<u64, StoreError> {
        SqliteStore::count(self, filter)
    }
    fn list(
        &mut self,
        filter: &Filter,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<(Vec<Value>, Option<String>), StoreError> {
        SqliteStore::list(self, filter, limit, cursor)
    }
    fn page_at(
        &mut self,
        filter: &Filter,
        order: Order,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<Value>, StoreError> {
        SqliteStore::page_at(self, filter, order, offset, limit)
    }
    fn thread(&mut self, thread_identifier: &str) -> Result<Vec<Value>, StoreError> {
        SqliteStore::thread(self, thread_identifier)
    }
    fn trace(&mut self, trace_unique_id: &str) -> Result<Vec<Value>, StoreError> {
        SqliteStore::trace(self, trace_unique_id)
    }
    fn for_each(
        &mut self,
        filter: &Filter,
        order: Order,
        after_cursor: Option<&str>,
        each: &mut dyn FnMut(&str, &str) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        SqliteStore::for_each(self, filter, order, after_cursor, each)
    }
    fn put_score(&mut self, log_id: &str, score: &Score) -> Result<(), StoreError> {
        SqliteStore::put_score(self, log_id, score)
    }
    fn expire_older_than(
        &mut self,
        days: u32,
        now: OffsetDateTime,
        expired: &mut dyn FnMut(u64) -> bool,
    ) -> Result<u64, StoreError> {
        SqliteStore::expire_older_than(self, days, now, expired)
    }
    fn query_plan(
        &mut self,
        filter: &Filter,
        order: Order,
        after_cursor: Option<&str>,
    ) -> Result<Vec<String>, StoreError> {
        SqliteStore::query_plan(self, filter, order, after_cursor)
    }
    fn optimize(&mut self) -> Result<(), StoreError> {
        SqliteStore::optimize(self)
    }
}
