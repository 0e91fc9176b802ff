//! The shared store: PostgreSQL (`postgres://user:pass@host:5432/db`), written by any number of
//! consumers and read by any number of gateways.
//!
//! The tables mirror SQLite's (see [`schema`]): `logs` and the metadata and error-kind side
//! tables are partitioned by day of `start_time` (so retention drops whole days), every index
//! continues with the log's `(start_time, id)`, and the same filter model renders into this
//! dialect. `log_ids` (one table) keeps each id once, which a partitioned table cannot: it is
//! what makes inserts idempotent across days, and it finds a log's day for a lookup by id.
//!
//! The driver is the synchronous `postgres` crate (the blocking face of `tokio-postgres`, same
//! maintainers): the store's API is synchronous by design, since SQLite's is, and every caller
//! already runs it on a blocking thread; binary `COPY` comes with it.

mod bind;
mod connect;
mod insert;
mod partitions;
mod query;
mod retention;
mod schema;
mod score;

use std::collections::{HashMap, HashSet};

use postgres::{Client, Statement};
use serde_json::Value;
use time::OffsetDateTime;

use crate::{Filter, InsertSummary, LogStore, Order, Score, StoreError};

pub(crate) use connect::{is_postgres_url, redacted};

/// Prepared statements kept per connection (as SQLite's cache: the filter combinations in use).
const STATEMENT_CACHE: usize = 128;

/// A connection to a PostgreSQL store. Not `Sync`: give each thread its own.
pub struct PostgresStore {
    client: Client,
    /// Prepared statements by SQL text.
    statements: HashMap<String, Statement>,
    /// Days (unix day numbers) whose partitions this connection knows exist.
    days: HashSet<i64>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("statements", &self.statements.len())
            .field("days", &self.days.len())
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://` or `postgresql://`, libpq's URL form)
    /// and creates or upgrades its schema. Errors never carry the URL's password.
    pub fn open(url: &str) -> Result<PostgresStore, StoreError> {
        let mut client = connect::connect(url)?;
        schema::migrate(&mut client)?;
        let mut store = PostgresStore {
            client,
            statements: HashMap::new(),
            days: HashSet::new(),
        };
        // Today's and tomorrow's partitions, so the first batches of a day find theirs.
        let today = partitions::day_of(crate::timefmt::now_micros());
        store.ensure_days(&[today, today + 1])?;
        Ok(store)
    }

    /// The prepared statement for `sql`, from the cache or prepared now.
    fn statement(&mut self, sql: &str) -> Result<Statement, StoreError> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        if self.statements.len() >= STATEMENT_CACHE {
            self.statements.clear();
        }
        let statement = self.client.prepare(sql)?;
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }
}

// Each method is the inherent one of the same name, documented there.
impl LogStore for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }
    fn insert_batch(&mut self, records: &[&str]) -> Result<InsertSummary, StoreError> {
        PostgresStore::insert_batch(self, records)
    }
    fn get(&mut self, id: &str) -> Result<Option<Value>, StoreError> {
        PostgresStore::get(self, id)
    }
    fn cursor_of(&mut self, id: &str) -> Result<Option<String>, StoreError> {
        PostgresStore::cursor_of(self, id)
    }
    fn count(&mut self, filter: &Filter) -> Result<u64, StoreError> {
        PostgresStore::count(self, filter)
    }
    fn list(
        &mut self,
        filter: &Filter,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<(Vec<Value>, Option<String>), StoreError> {
        PostgresStore::list(self, filter, limit, cursor)
    }
    fn page_at(
        &mut self,
        filter: &Filter,
        order: Order,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<Value>, StoreError> {
        PostgresStore::page_at(self, filter, order, offset, limit)
    }
    fn thread(&mut self, thread_identifier: &str) -> Result<Vec<Value>, StoreError> {
        PostgresStore::thread(self, thread_identifier)
    }
    fn trace(&mut self, trace_unique_id: &str) -> Result<Vec<Value>, StoreError> {
        PostgresStore::trace(self, trace_unique_id)
    }
    fn for_each(
        &mut self,
        filter: &Filter,
        order: Order,
        after_cursor: Option<&str>,
        each: &mut dyn FnMut(&str, &str) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        PostgresStore::for_each(self, filter, order, after_cursor, each)
    }
    fn put_score(&mut self, log_id: &str, score: &Score) -> Result<(), StoreError> {
        PostgresStore::put_score(self, log_id, score)
    }
    fn expire_older_than(
        &mut self,
        days: u32,
        now: OffsetDateTime,
        expired: &mut dyn FnMut(u64) -> bool,
    ) -> Result<u64, StoreError> {
        PostgresStore::expire_older_than(self, days, now, expired)
    }
    fn query_plan(
        &mut self,
        filter: &Filter,
        order: Order,
        after_cursor: Option<&str>,
    ) -> Result<Vec<String>, StoreError> {
        PostgresStore::query_plan(self, filter, order, after_cursor)
    }
    fn optimize(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
}
