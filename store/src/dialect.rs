//! The two SQL dialects the shared filter model renders into: statements are built once with
//! `?` marks and SQLite's spelling, and the few places where PostgreSQL differs ask the
//! [`Dialect`].

/// The database a statement is rendered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// The embedded store (`sqlite://PATH`).
    Sqlite,
    /// The shared store (`postgres://...`).
    Postgres,
}

impl Dialect {
    /// `table`, read through `index` where the dialect can name one (SQLite's `INDEXED BY`);
    /// PostgreSQL's planner picks the one index that yields the rows in the requested order.
    pub(crate) fn indexed_by(self, table: &str, index: &str) -> String {
        match self {
            Dialect::Sqlite => format!("{table} INDEXED BY {index}"),
            Dialect::Postgres => table.to_owned(),
        }
    }

    /// False as the dialect writes it, for `coalesce(test, false)`.
    pub(crate) fn false_literal(self) -> &'static str {
        match self {
            Dialect::Sqlite => "0",
            Dialect::Postgres => "false",
        }
    }

    /// `needle` occurs in `haystack` (both SQL expressions).
    pub(crate) fn contains(self, haystack: &str, needle: &str) -> String {
        match self {
            Dialect::Sqlite => format!("instr({haystack}, {needle}) > 0"),
            Dialect::Postgres => format!("strpos({haystack}, {needle}) > 0"),
        }
    }

    /// `haystack` starts with the text of the parameter (two `?`s: the prefix twice).
    pub(crate) fn starts_with(self, haystack: &str) -> String {
        match self {
            Dialect::Sqlite => format!("substr({haystack}, 1, length(?)) = ?"),
            Dialect::Postgres => format!("left({haystack}, length(?)) = ?"),
        }
    }

    /// `haystack` ends with the text of the parameter (two `?`s: the suffix twice).
    pub(crate) fn ends_with(self, haystack: &str) -> String {
        match self {
            // Not substr(x, -length(?)): for an empty suffix that is substr(x, 0), all of x.
            Dialect::Sqlite => {
                format!("substr({haystack}, length({haystack}) - length(?) + 1) = ?")
            }
            Dialect::Postgres => format!("right({haystack}, length(?)) = ?"),
        }
    }

    /// The value of the record field `name` at `path` (`$.usage.total_tokens`). SQLite reads
    /// it out of the record's JSON; PostgreSQL keeps these fields as columns of their own named
    /// after the field (parsing each row's JSON for a condition cost 0.5 ms per 20 rows).
    pub(crate) fn json_value(self, path: &str, name: &str) -> String {
        match self {
            Dialect::Sqlite => format!("json_extract(logs.record, '{path}')"),
            Dialect::Postgres => format!("logs.{name}"),
        }
    }
}

/// `text` as an SQL string literal. Only for PostgreSQL, whose `standard_conforming_strings`
/// (on since 9.1, and set on every connection) makes a doubled quote the only escape.
pub(crate) fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// `metadata.<key>` of the current log in PostgreSQL: its `metadata` column holds the same
/// text pairs as `log_properties`, so a check on the row needs no index lookup.
pub(crate) fn metadata_value(key: &str) -> String {
    format!("(logs.metadata ->> {})", literal(key))
}
