//! A filter lowered to conditions the store can read through an index, and their SQL.
//!
//! Each condition is either an equality on an indexed column of `logs` or a match in a side
//! table; both kinds of index continue with the log's `(start_time, id)`, so either can drive an
//! ordered read (see [`crate::plan`]). A side-table match also renders as a per-log check
//! (`EXISTS`, through the table's index by log id) and, for counts, as `logs.id IN (...)`.

use rusqlite::types::Value as SqlValue;

use crate::condition::Condition;
use crate::dialect::Dialect;

/// An equality on an indexed column of `logs`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ColumnMatch {
    /// The column of `logs`.
    pub(crate) column: &'static str,
    /// Its index, on `(column, start_time, id)`.
    pub(crate) index: &'static str,
    /// The value the column must equal.
    pub(crate) value: SqlValue,
    /// Whether a value of this column usually matches few logs (a thread, a trace, a customer).
    pub(crate) selective: bool,
}

impl ColumnMatch {
    /// `logs.<column> = ?`.
    pub(crate) fn push(&self, out: &mut Clauses) {
        out.push(format!("logs.{} = ?", self.column), [self.value.clone()]);
    }
}

/// The tables beside `logs`, each keyed by value, then `(start_time, log_id)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SideTable {
    /// `metadata.<key> = <value>`.
    Properties,
    /// Some attempt's `error_kind`.
    ErrorKinds,
    /// `score.<evaluator_slug> = <value text>`.
    ScoreValues,
}

impl SideTable {
    /// The table's name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            SideTable::Properties => "log_properties",
            SideTable::ErrorKinds => "log_error_kinds",
            SideTable::ScoreValues => "score_values",
        }
    }

    /// Its index by log id.
    fn by_log(self) -> &'static str {
        match self {
            SideTable::Properties => "log_properties_by_log",
            SideTable::ErrorKinds => "log_error_kinds_by_log",
            SideTable::ScoreValues => "score_values_by_log",
        }
    }
}

/// A match in a side table: equalities on the leading key columns and, for a score value that
/// reads two ways (`1.0` is also the number `1`), a last column equal to either text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SideMatch {
    /// The side table.
    pub(crate) table: SideTable,
    equal: Vec<(&'static str, SqlValue)>,
    either: Option<(&'static str, [SqlValue; 2])>,
}

impl SideMatch {
    /// `metadata.<key> = <value>`.
    pub(crate) fn property(key: &str, value: &str) -> SideMatch {
        SideMatch {
            table: SideTable::Properties,
            equal: vec![("key", text(key)), ("value", text(value))],
            either: None,
        }
    }

    /// Some attempt failed with `kind`.
    pub(crate) fn error_kind(kind: &str) -> SideMatch {
        SideMatch {
            table: SideTable::ErrorKinds,
            equal: vec![("error_kind", text(kind))],
            either: None,
        }
    }

    /// The score of `slug` is found under `raw` or `canonical` (the same text, usually).
    pub(crate) fn score(slug: &str, raw: &str, canonical: &str) -> SideMatch {
        let mut equal = vec![("evaluator_slug", text(slug))];
        let either = if raw == canonical {
            equal.push(("value_text", text(raw)));
            None
        } else {
            Some(("value_text", [text(raw), text(canonical)]))
        };
        SideMatch {
            table: SideTable::ScoreValues,
            equal,
            either,
        }
    }

    /// Whether the matching rows are one range of the key, hence already in `(start_time,
    /// log_id)` order; a match on either of two texts is two ranges.
    pub(crate) fn ordered(&self) -> bool {
        self.either.is_none()
    }

    /// The match on the rows of `table` (a name or an alias): `table.key = ? AND ...`.
    pub(crate) fn push_on(&self, table: &str, out: &mut Clauses) {
        for (column, value) in &self.equal {
            out.push(format!("{table}.{column} = ?"), [value.clone()]);
        }
        if let Some((column, [a, b])) = &self.either {
            out.push(
                format!("{table}.{column} IN (?, ?)"),
                [a.clone(), b.clone()],
            );
        }
    }

    /// A check of the current `logs` row: `EXISTS (...)` through the index by log id (SQLite)
    /// or the key with the log's own `start_time`, which also picks the day partition
    /// (PostgreSQL).
    pub(crate) fn push_exists(&self, out: &mut Clauses, dialect: Dialect) {
        if dialect == Dialect::Postgres
            && self.table == SideTable::Properties
            && let [(_, SqlValue::Text(key)), (_, value)] = self.equal.as_slice()
        {
            out.push(
                format!("{} = ?", crate::dialect::metadata_value(key)),
                [value.clone()],
            );
            return;
        }
        let mut inner = Clauses::default();
        inner.push("s.log_id = logs.id", []);
        let source = match dialect {
            Dialect::Sqlite => format!(
                "{} AS s INDEXED BY {}",
                self.table.name(),
                self.table.by_log()
            ),
            Dialect::Postgres => {
                inner.push("s.start_time = logs.start_time", []);
                format!("{} AS s", self.table.name())
            }
        };
        self.push_on("s", &mut inner);
        // `OFFSET 0` keeps PostgreSQL from turning the check into a join, which would hash
        // every row of a common value before the first row of the page.
        let fence = match dialect {
            Dialect::Sqlite => "",
            Dialect::Postgres => " OFFSET 0",
        };
        out.push(
            format!(
                "EXISTS (SELECT 1 FROM {source}{}{fence})",
                inner.where_sql()
            ),
            [],
        );
        out.params.extend(inner.params);
    }

    /// `logs.id IN (SELECT log_id ...)`: the whole set of matching ids, for counts.
    pub(crate) fn push_in(&self, out: &mut Clauses) {
        let mut inner = Clauses::default();
        self.push_on("s", &mut inner);
        out.push(
            format!(
                "logs.id IN (SELECT s.log_id FROM {} AS s{})",
                self.table.name(),
                inner.where_sql()
            ),
            [],
        );
        out.params.extend(inner.params);
    }
}

/// A filter as conditions that must all hold, plus the time range.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Predicates {
    /// Equalities on indexed columns of `logs`.
    pub(crate) columns: Vec<ColumnMatch>,
    /// Matches in side tables.
    pub(crate) sides: Vec<SideMatch>,
    /// Inclusive lower bound on `start_time`, unix microseconds.
    pub(crate) from: Option<i64>,
    /// Exclusive upper bound on `start_time`, unix microseconds.
    pub(crate) to: Option<i64>,
    /// Conditions with operators, checked on each row the driver yields.
    pub(crate) conditions: Vec<Condition>,
}

impl Predicates {
    /// The time range on `<table>.start_time`.
    pub(crate) fn push_time_range(&self, table: &str, out: &mut Clauses) {
        push_time_range(table, self.from, self.to, out);
    }
}

/// `<table>.start_time >= from AND <table>.start_time < to`, for the bounds given.
pub(crate) fn push_time_range(table: &str, from: Option<i64>, to: Option<i64>, out: &mut Clauses) {
    if let Some(from) = from {
        out.push(format!("{table}.start_time >= ?"), [from.into()]);
    }
    if let Some(to) = to {
        out.push(format!("{table}.start_time < ?"), [to.into()]);
    }
}

/// SQL conditions joined by AND, with their positional parameters in order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Clauses {
    clauses: Vec<String>,
    /// The parameters, in the order of their `?`s.
    pub(crate) params: Vec<SqlValue>,
}

impl Clauses {
    /// Adds a condition and its parameters.
    pub(crate) fn push<const N: usize>(
        &mut self,
        clause: impl Into<String>,
        params: [SqlValue; N],
    ) {
        self.clauses.push(clause.into());
        self.params.extend(params);
    }

    /// Adds a condition with any number of parameters.
    pub(crate) fn push_all(&mut self, clause: String, params: Vec<SqlValue>) {
        self.clauses.push(clause);
        self.params.extend(params);
    }

    /// The conditions joined by AND (`1 = 1` when there is none), for a `CASE WHEN`.
    pub(crate) fn and_sql(&self) -> String {
        if self.clauses.is_empty() {
            "1 = 1".to_owned()
        } else {
            self.clauses.join(" AND ")
        }
    }

    /// True when there is no condition.
    pub(crate) fn is_empty(&self) -> bool {
        self.clauses.is_empty()
    }

    /// ` WHERE a AND b ...`, or nothing when there is no condition.
    pub(crate) fn where_sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }
}

fn text(value: &str) -> SqlValue {
    SqlValue::Text(value.to_owned())
}
