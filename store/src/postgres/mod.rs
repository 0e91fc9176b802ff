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

use crate::StoreError;
use postgres::{Client, Statement};

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

    /// Nothing to do: autovacuum keeps PostgreSQL's statistics (see [`crate::LogStore::optimize`]).
    pub fn optimize(&mut self) -> Result<(), StoreError> {
        Ok(())
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

crate::log_store_by_inherent_methods!(PostgresStore, "postgres");
