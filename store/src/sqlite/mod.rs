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

/// A connection to a SQLite store. Not `Sync`: give each thread (or blocking task) its own.
#[derive(Debug)]
pub struct SqliteStore {
    conn: rusqlite::Connection,
}

crate::log_store_by_inherent_methods!(SqliteStore, "sqlite");
