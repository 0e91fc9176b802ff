//! How a filtered read is done: which index drives it, and its SQL.
//!
//! Every candidate index — a `logs` column index `(column, start_time, id)` or a side table keyed
//! `(value..., start_time, log_id)` — yields its matching logs already in `(start_time, id)` order,
//! so a page walks one of them and stops after `limit` rows that pass the other conditions,
//! without collecting and sorting every match. What it costs is the number of rows walked, so
//! when there is a choice the driver is the candidate with the fewest rows in the time range,
//! counted up to [`PROBE_CAP`] (a bounded read of the index, well under a millisecond). Among
//! candidates that all reach the cap, the order of preference is: a thread, trace or customer
//! column, then a side table, then the other columns. A filter without candidates walks
//! `logs_by_time`.
//!
//! The choice depends on the data, not on the database's statistics (which a SQLite store may
//! never have, and a PostgreSQL day partition only gets some time after it fills), and is
//! forced in the SQL: in SQLite `CROSS JOIN` keeps a side-table driver as the outer loop and
//! `INDEXED BY` names a column driver's index; in PostgreSQL the `ORDER BY` on the driver's own
//! `(start_time, id)` columns leaves the planner one index that yields rows in order.

use rusqlite::types::Value as SqlValue;

use crate::StoreError;
use crate::cursor::Position;
use crate::dialect::Dialect;
use crate::page::Order;
use crate::predicate::{self as predicates, Clauses, ColumnMatch, Predicates, SideMatch};

/// Rows counted at most per candidate when choosing a driver.
pub(crate) const PROBE_CAP: i64 = 1_000;

/// The index an ordered read walks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Driver {
    /// `logs_by_time`, checking every condition per row.
    Time,
    /// The index of `Predicates::columns[i]`.
    Column(usize),
    /// The side table of `Predicates::sides[i]`, joined to `logs` by id.
    Side(usize),
}

impl Driver {
    /// The side-table match this driver walks, if it is one.
    fn side(self, predicates: &Predicates) -> Option<&SideMatch> {
        match self {
            Driver::Side(i) => predicates.sides.get(i),
            _ => None,
        }
    }

    /// The column match whose index this driver walks, if it is one.
    fn column(self, predicates: &Predicates) -> Option<&ColumnMatch> {
        match self {
            Driver::Column(i) => predicates.columns.get(i),
            _ => None,
        }
    }
}

/// A candidate driver, with what the choice needs to know about it.
struct Candidate {
    driver: Driver,
    /// Lower is preferred when the probes do not tell candidates apart.
    preference: u8,
    /// Whether its rows come in `(start_time, id)` order; one that does not is only chosen when
    /// it has few rows (they are then sorted).
    ordered: bool,
}

/// Runs a probe's `SELECT count(*)` (SQL with `?` marks, parameters) and answers the count.
pub(crate) type ProbeRunner<'a> = dyn FnMut(&str, &[SqlValue]) -> Result<i64, StoreError> + 'a;

/// Chooses the driver of an ordered read of `predicates` (see the module documentation),
/// counting candidates' rows with `run`.
pub(crate) fn choose(
    run: &mut ProbeRunner<'_>,
    predicates: &Predicates,
    dialect: Dialect,
) -> Result<Driver, StoreError> {
    let mut candidates = candidates(predicates);
    candidates.sort_by_key(|c| c.preference);
    if let [only] = candidates.as_slice()
        && only.ordered
    {
        return Ok(only.driver);
    }
    let mut best: Option<(i64, Driver)> = None;
    for candidate in &candidates {
        let rows = probe(run, predicates, candidate.driver, dialect)?;
        if rows == 0 {
            // Nothing matches: this driver answers at once.
            return Ok(candidate.driver);
        }
        let eligible = candidate.ordered || rows < PROBE_CAP;
        if eligible && best.is_none_or(|(fewest, _)| rows < fewest) {
            best = Some((rows, candidate.driver));
        }
    }
    Ok(best.map_or(Driver::Time, |(_, driver)| driver))
}

fn candidates(predicates: &Predicates) -> Vec<Candidate> {
    let columns = predicates
        .columns
        .iter()
        .enumerate()
        .map(|(i, column)| Candidate {
            driver: Driver::Column(i),
            preference: if column.selective { 0 } else { 2 },
            ordered: true,
        });
    let sides = predicates
        .sides
        .iter()
        .enumerate()
        .map(|(i, side)| Candidate {
            driver: Driver::Side(i),
            preference: if side.ordered() { 1 } else { 3 },
            ordered: side.ordered(),
        });
    columns.chain(sides).collect()
}

/// How many rows the driver's index holds for its condition and the time range, up to
/// [`PROBE_CAP`].
fn probe(
    run: &mut ProbeRunner<'_>,
    predicates: &Predicates,
    driver: Driver,
    dialect: Dialect,
) -> Result<i64, StoreError> {
    let mut clauses = Clauses::default();
    let source = if let Some(side) = driver.side(predicates) {
        let table = side.table.name();
        side.push_on(table, &mut clauses);
        predicates.push_time_range(table, &mut clauses);
        table.to_owned()
    } else if let Some(column) = driver.column(predicates) {
        column.push(&mut clauses);
        predicates.push_time_range("logs", &mut clauses);
        dialect.indexed_by("logs", column.index)
    } else {
        return Ok(PROBE_CAP);
    };
    let sql = format!(
        "SELECT count(*) FROM (SELECT 1 FROM {source}{} LIMIT {PROBE_CAP}) AS probe",
        clauses.where_sql()
    );
    run(&sql, &clauses.params)
}

/// How an ordered read treats the conditions with operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Conditions {
    /// In the WHERE: only matching rows come back (exports, which read to the end anyway).
    Filter,
    /// As the record column: every row the driver walks comes back, its record NULL unless it
    /// matches, so a page can stop after a bounded number of rows (see [`SCAN_BUDGET`]).
    Mark,
}

/// Rows a page walks at most when conditions with operators must be checked row by row: a
/// page then holds the matches among them, and its cursor carries on from the last row walked.
pub(crate) const SCAN_BUDGET: usize = 20_000;

/// The SQL and parameters of a read of `(start_time, id, record)` in `order`, through `driver`,
/// after a position, at most `limit` rows.
pub(crate) fn ordered_read(
    predicates: &Predicates,
    driver: Driver,
    order: Order,
    after: Option<&Position>,
    limit: Option<usize>,
    conditions: Conditions,
    dialect: Dialect,
) -> (String, Vec<SqlValue>) {
    let (compare, direction) = match order {
        Order::OldestFirst => (">", "ASC"),
        Order::NewestFirst => ("<", "DESC"),
    };
    let mut clauses = Clauses::default();
    // The driver's own condition goes first; `walked` is the table whose (start_time, id) the
    // read walks: the side table's copy of them, or the log's.
    let (from, walked, id) = if let Some(side) = driver.side(predicates) {
        let table = side.table.name();
        side.push_on(table, &mut clauses);
        let from = match dialect {
            Dialect::Sqlite => format!("{table} CROSS JOIN logs ON logs.id = {table}.log_id"),
            Dialect::Postgres => format!(
                "{table} JOIN logs ON logs.start_time = {table}.start_time \
                 AND logs.id = {table}.log_id"
            ),
        };
        (from, table, "log_id")
    } else if let Some(column) = driver.column(predicates) {
        column.push(&mut clauses);
        (dialect.indexed_by("logs", column.index), "logs", "id")
    } else {
        ("logs".to_owned(), "logs", "id")
    };
    let (from_time, to_time, after) = bounds(predicates, order, after);
    predicates::push_time_range(walked, from_time, to_time, &mut clauses);
    // PostgreSQL prunes each side of the join to the days in range only when told for each
    // (planning every day partition of `logs` cost 20 ms a statement).
    if dialect == Dialect::Postgres && walked != "logs" {
        predicates::push_time_range("logs", from_time, to_time, &mut clauses);
    }
    if let Some(after) = after {
        clauses.push(
            format!("({walked}.start_time, {walked}.{id}) {compare} (?, ?)"),
            [after.start_time.into(), SqlValue::Text(after.id.clone())],
        );
    }
    for (i, column) in predicates.columns.iter().enumerate() {
        if driver != Driver::Column(i) {
            column.push(&mut clauses);
        }
    }
    for (i, side) in predicates.sides.iter().enumerate() {
        if driver != Driver::Side(i) {
            side.push_exists(&mut clauses, dialect);
        }
    }
    let mut checks = Clauses::default();
    for condition in &predicates.conditions {
        match conditions {
            Conditions::Filter => condition.push(&mut clauses, dialect),
            Conditions::Mark => condition.push(&mut checks, dialect),
        }
    }
    let record = if checks.is_empty() {
        "logs.record".to_owned()
    } else {
        format!("CASE WHEN {} THEN logs.record END", checks.and_sql())
    };
    let mut sql = format!(
        "SELECT {walked}.start_time, {walked}.{id}, {record} FROM {from}{} \
         ORDER BY {walked}.start_time {direction}, {walked}.{id} {direction}",
        clauses.where_sql()
    );
    // The record column's parameters come first: they are the first `?`s of the statement.
    let mut params = checks.params;
    params.extend(clauses.params);
    if let Some(limit) = limit {
        sql.push_str(" LIMIT ?");
        params.push(i64::try_from(limit).unwrap_or(i64::MAX).into());
    }
    (sql, params)
}

/// The time range and the cursor of a read, without the bound that the other one implies: a
/// cursor is the walk's starting point, so keeping both would make SQLite start the index range
/// at the time bound and skip every row already read on the earlier pages.
fn bounds<'a>(
    predicates: &Predicates,
    order: Order,
    after: Option<&'a Position>,
) -> (Option<i64>, Option<i64>, Option<&'a Position>) {
    let (mut from, mut to) = (predicates.from, predicates.to);
    let Some(position) = after else {
        return (from, to, None);
    };
    let start = position.start_time;
    match order {
        // Rows before the cursor start at or before it; rows before `to <= start` are before it.
        Order::NewestFirst => match to {
            Some(bound) if bound <= start => return (from, to, None),
            _ => to = None,
        },
        // Rows after the cursor start at or after it; rows from `from > start` are after it.
        Order::OldestFirst => match from {
            Some(bound) if bound > start => return (from, to, None),
            _ => from = None,
        },
    }
    (from, to, Some(position))
}

/// The SQL and parameters counting the logs that match `predicates`. Counting every match is
/// proportional to their number whatever the driver, so SQLite plans it from the `IN` form.
pub(crate) fn count(predicates: &Predicates, dialect: Dialect) -> (String, Vec<SqlValue>) {
    let mut clauses = Clauses::default();
    for column in &predicates.columns {
        column.push(&mut clauses);
    }
    predicates.push_time_range("logs", &mut clauses);
    for side in &predicates.sides {
        side.push_in(&mut clauses);
    }
    for condition in &predicates.conditions {
        condition.push(&mut clauses, dialect);
    }
    (
        format!("SELECT count(*) FROM logs{}", clauses.where_sql()),
        clauses.params,
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::sqlite::SqliteStore as Store;
    use crate::{Filter, Score, ScoreValue};

    /// 2 000 logs, all `metadata.language=es`, 50 tenants, threads of 10, one model; one log
    /// scored 1 by `rare`, 1 000 scored 2 by `common`.
    fn seeded() -> Store {
        let mut store = Store::open(":memory:").expect("memory store");
        let records: Vec<String> = (0..2_000)
            .map(|n| {
                json!({
                    "id": format!("log-{n:05}"), "start_time": 1_735_689_600 + n,
                    "model": "voice-fast", "thread_identifier": format!("call_{}", n / 10),
                    "metadata": {"language": "es", "tenant": format!("t{}", n % 50)},
                })
                .to_string()
            })
            .collect();
        let texts: Vec<&str> = records.iter().map(String::as_str).collect();
        store.insert_batch(&texts).expect("insert");
        let score = |slug: &str, n: f64| Score {
            evaluator_slug: slug.into(),
            value: ScoreValue::Numerical(n),
        };
        store
            .put_score("log-00005", &score("rare", 1.0))
            .expect("score");
        for n in 0..1_000 {
            let id = format!("log-{n:05}");
            store.put_score(&id, &score("common", 2.0)).expect("score");
        }
        store
    }

    fn driver(store: &Store, pairs: &[(&str, &str)]) -> Driver {
        let filter = Filter::from_pairs(pairs.iter().copied()).expect("filter");
        let predicates = filter.predicates().expect("predicates");
        choose(&mut store.probe_runner(), &predicates, Dialect::Sqlite).expect("choice")
    }

    #[test]
    fn the_candidate_with_the_fewest_rows_drives() {
        let store = seeded();
        let es = ("metadata.language", "es");
        assert_eq!(driver(&store, &[]), Driver::Time);
        assert_eq!(
            driver(&store, &[("from", "2025-01-01T00:00:00Z")]),
            Driver::Time
        );
        assert_eq!(driver(&store, &[es]), Driver::Side(0));
        assert_eq!(
            driver(&store, &[("metadata.language", "xx")]),
            Driver::Side(0)
        );
        assert_eq!(
            driver(&store, &[es, ("metadata.tenant", "t7")]),
            Driver::Side(1)
        );
        assert_eq!(
            driver(&store, &[es, ("metadata.tenant", "none")]),
            Driver::Side(1)
        );
        assert_eq!(driver(&store, &[es, ("model", "typo")]), Driver::Column(0));
        assert_eq!(
            driver(&store, &[es, ("thread_identifier", "call_7")]),
            Driver::Column(0)
        );
        assert_eq!(
            driver(&store, &[es, ("error_kind", "5xx")]),
            Driver::Side(1)
        );
        // The time range counts: few logs of the common value in one minute.
        let minute = [
            es,
            ("model", "voice-fast"),
            ("from", "2025-01-01T00:10:00Z"),
            ("to", "2025-01-01T00:11:00Z"),
        ];
        assert_eq!(driver(&store, &minute), Driver::Side(0));
        // Both common: a side table is preferred to a low-cardinality column.
        assert_eq!(
            driver(&store, &[("model", "voice-fast"), es]),
            Driver::Side(0)
        );
        // A score value that reads two ways is only walked (and sorted) when it is rare.
        assert_eq!(driver(&store, &[("score.rare", "1.0")]), Driver::Side(0));
        assert_eq!(driver(&store, &[("score.common", "2.0")]), Driver::Time);
        // (metadata conditions come first among the side tables)
        assert_eq!(
            driver(&store, &[("score.common", "2.0"), es]),
            Driver::Side(0)
        );
        assert_eq!(driver(&store, &[("score.common", "2")]), Driver::Side(0));
    }

    #[test]
    fn a_cursor_replaces_the_time_bound_it_makes_redundant() {
        let predicates = Predicates {
            from: Some(100),
            to: Some(200),
            ..Predicates::default()
        };
        let at = |start_time| Position {
            start_time,
            id: "x".into(),
        };
        let (inside, before, after) = (at(150), at(50), at(250));
        let newest = |p| bounds(&predicates, Order::NewestFirst, Some(p));
        let oldest = |p| bounds(&predicates, Order::OldestFirst, Some(p));
        assert_eq!(newest(&inside), (Some(100), None, Some(&inside)));
        assert_eq!(newest(&after), (Some(100), Some(200), None));
        assert_eq!(newest(&before), (Some(100), None, Some(&before)));
        assert_eq!(oldest(&inside), (None, Some(200), Some(&inside)));
        assert_eq!(oldest(&before), (Some(100), Some(200), None));
        assert_eq!(oldest(&after), (None, Some(200), Some(&after)));
        assert_eq!(
            bounds(&predicates, Order::NewestFirst, None),
            (Some(100), Some(200), None)
        );
    }
}
