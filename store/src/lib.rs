//! The embedded store of Switchboard's request logs (SPEC sections 4, 5 and 7).
//!
//! One SQLite file in WAL mode holds the log records as received plus the columns and side
//! tables that index them, so that every filter of the logs API is answered through an index and
//! pages are read by keyset on `(start_time, id)` in order off one index, so a page costs about
//! `limit` rows however many logs match. The API is synchronous: async callers wrap each
//! call in `spawn_blocking`, and may open several [`Store`]s on one file: readers never wait,
//! writers wait for each other up to the 5 s busy timeout.

#![warn(missing_docs)]

mod condition;
mod cursor;
mod error;
mod filter;
mod insert;
mod open;
mod plan;
mod predicate;
mod query;
mod record;
mod retention;
mod schema;
mod score;
mod timefmt;
mod upgrade;

pub use condition::{Condition, Field, Op};
pub use error::StoreError;
pub use filter::{Filter, NON_FILTER_KEYS};
pub use insert::InsertSummary;
pub use query::Order;
pub use retention::Retention;
pub use schema::SCHEMA_VERSION;
pub use score::{Score, ScoreValue};

/// A connection to the log store. Not `Sync`: give each thread (or blocking task) its own, or
/// guard one with a mutex.
#[derive(Debug)]
pub struct Store {
    conn: rusqlite::Connection,
}
