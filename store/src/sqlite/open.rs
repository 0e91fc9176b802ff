//! Opening a store: URL forms, connection settings, schema set-up.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::{SqliteStore, schema};
use crate::StoreError;

/// How long a connection waits for another one's lock before giving up.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Prepared statements kept per connection: the filter combinations in use (each a page query
/// and, when it has several conditions, the probes that choose its driving index) plus the fixed
/// ones.
const STATEMENT_CACHE: usize = 128;

/// Where a store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Location {
    Memory,
    File(PathBuf),
}

fn parse_url(url: &str) -> Result<Location, StoreError> {
    let bad = |reason: &str| StoreError::BadUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let rest = if let Some(rest) = url.strip_prefix("sqlite://") {
        rest
    } else if let Some(rest) = url.strip_prefix("sqlite:") {
        rest
    } else if url.contains("://") {
        return Err(bad("only sqlite:// URLs and plain paths are supported"));
    } else {
        url
    };
    if rest == ":memory:" {
        return Ok(Location::Memory);
    }
    if rest.is_empty() {
        return Err(bad("no path"));
    }
    if url.starts_with("sqlite:") && rest.contains('?') {
        return Err(bad("URL parameters are not supported"));
    }
    Ok(Location::File(PathBuf::from(rest)))
}

fn create_parent(path: &Path) -> Result<(), StoreError> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::CreateDir {
                path: parent.to_owned(),
                source,
            })
        }
        _ => Ok(()),
    }
}

impl SqliteStore {
    /// Opens (creating the file, its parent directory and the schema, as needed) the store at
    /// `sqlite://PATH`, `sqlite:PATH` or a bare `PATH`; `sqlite::memory:` (or `:memory:`) opens
    /// a private in-memory store. The connection runs in WAL mode with `synchronous=NORMAL`, a
    /// 5 s busy timeout and foreign keys on.
    pub fn open(url: &str) -> Result<SqliteStore, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = match parse_url(url)? {
            Location::Memory => Connection::open_in_memory()?,
            Location::File(path) => {
                create_parent(&path)?;
                Connection::open_with_flags(&path, flags)?
            }
        };
        conn.busy_timeout(BUSY_TIMEOUT)?;
        wal_mode(&conn)?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        schema::migrate(&mut conn)?;
        Ok(SqliteStore { conn })
    }

    /// Refreshes the statistics SQLite's query planner uses to choose an index (`PRAGMA
    /// optimize`, with a bounded analysis so it stays fast on a large store). Call it after opening
    /// a long-lived connection and then every few hours or after a large import.
    pub fn optimize(&self) -> Result<(), StoreError> {
        self.conn
            .execute_batch("PRAGMA analysis_limit = 1000; PRAGMA optimize = 0x10002;")?;
        Ok(())
    }
}

/// Switches the file to WAL. Several connections opening a store in rollback mode at once
/// (an older store being upgraded) can see SQLITE_BUSY here at once: SQLite does not always
/// call the busy handler for this lock change (it would risk a deadlock), so the switch is
/// retried until the busy timeout. In memory the journal mode stays "memory"; that is fine.
fn wal_mode(conn: &Connection) -> Result<(), StoreError> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        match conn.query_row("PRAGMA journal_mode = WAL", [], |row| {
            row.get::<_, String>(0)
        }) {
            Ok(_) => return Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn understands_the_url_forms() {
        let file = |p: &str| Some(Location::File(PathBuf::from(p)));
        let parse_url = |url: &str| parse_url(url).ok();
        assert_eq!(
            parse_url("sqlite:///var/lib/sb/logs.db"),
            file("/var/lib/sb/logs.db")
        );
        assert_eq!(parse_url("sqlite://data/logs.db"), file("data/logs.db"));
        assert_eq!(parse_url("sqlite:logs.db"), file("logs.db"));
        assert_eq!(parse_url("/tmp/x.db"), file("/tmp/x.db"));
        assert_eq!(parse_url("sqlite::memory:"), Some(Location::Memory));
        assert_eq!(parse_url("sqlite://:memory:"), Some(Location::Memory));
        assert_eq!(parse_url(":memory:"), Some(Location::Memory));
        for bad in ["", "sqlite://", "postgres://x/y", "sqlite://x.db?mode=ro"] {
            assert!(
                matches!(super::parse_url(bad), Err(StoreError::BadUrl { .. })),
                "{bad}"
            );
        }
    }
}
