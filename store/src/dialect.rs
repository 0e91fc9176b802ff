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

    /// The value at `path` (`$.usage.total_tokens`) of the record's JSON, as a value of `kind`
    /// (NULL when absent or of another JSON type in PostgreSQL, whose casts would fail).
    pub(crate) fn json_value(self, path: &str, kind: JsonKind) -> String {
        match self {
            Dialect::Sqlite => format!("json_extract(logs.record, '{path}')"),
            Dialect::Postgres => {
                let keys = path.trim_start_matches("$.").replace('.', ",");
                let at = format!("(logs.record::jsonb #> '{{{keys}}}')");
                match kind {
                    JsonKind::Text => format!("(logs.record::jsonb #>> '{{{keys}}}')"),
                    JsonKind::Number => {
                        format!("(CASE WHEN jsonb_typeof({at}) = 'number' THEN ({at})::float8 END)")
                    }
                    // SQLite's json_extract gives a JSON boolean as 1 or 0.
                    JsonKind::Bool => format!(
                        "(CASE WHEN jsonb_typeof({at}) = 'boolean' THEN ({at})::boolean::int END)"
                    ),
                }
            }
        }
    }
}

/// What a JSON field is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JsonKind {
    /// Text.
    Text,
    /// A number.
    Number,
    /// A boolean, as 1 or 0.
    Bool,
}
