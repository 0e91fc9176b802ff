//! Private services for tests. Tests must never touch a service someone else runs on this
//! machine (the system PostgreSQL on 5432 holds somebody's data, and its state would leak
//! between test runs), so each one here is started by the test process itself: in a fresh
//! temporary directory, on a free loopback port, and stopped when the test is done.

#![warn(missing_docs)]

mod postgres;

pub use postgres::PostgresServer;
