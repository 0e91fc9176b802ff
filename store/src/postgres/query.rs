//! Reading logs from PostgreSQL: the shared plan, rendered in this dialect.

use rusqlite::types::Value as SqlValue;
use serde_json::Value;

use super::PostgresStore;
use super::bind::{self, numbered};
use super::partitions::{self, DAY_MICROS};
use crate::cursor::Position;
use crate::dialect::Dialect;
use crate::page::PageRead;
use crate::predicate::Predicates;
use crate::{Filter, Order, StoreError, plan};

const GET: &str = "SELECT l.record FROM log_ids AS i \
     JOIN logs AS l ON l.start_time = i.start_time AND l.id = i.id WHERE i.id = $1";
const POSITION: &str = "SELECT start_time FROM log_ids WHERE id = $1";
const THREAD: &str =
    "SELECT record FROM logs WHERE thread_identifier = $1 ORDER BY start_time ASC, id ASC";
const TRACE: &str =
    "SELECT record FROM logs WHERE trace_unique_id = $1 ORDER BY start_time ASC, id ASC";

/// An inclusive lower and exclusive upper bound on `start_time`, either open.
type TimeRange = (Option<i64>, Option<i64>);

/// Rows fetched per round trip while streaming a walk.
const FETCH: i32 = 2_000;

fn decode(cursor: Option<&str>) -> Result<Option<Position>, StoreError> {
    cursor.map(Position::decode).transpose()
}

impl PostgresStore {
    /// See [`crate::LogStore::get`].
    pub fn get(&mut self, id: &str) -> Result<Option<Value>, StoreError> {
        let statement = self.statement(GET)?;
        let Some(row) = self.client.query_opt(&statement, &[&id])? else {
            return Ok(None);
        };
        let mut record: Value = serde_json::from_str(row.get(0))?;
        if let Value::Object(fields) = &mut record {
            fields.insert("scores".into(), Value::Array(self.scores_json(id)?));
        }
        Ok(Some(record))
    }

    /// See [`crate::LogStore::cursor_of`].
    pub fn cursor_of(&mut self, id: &str) -> Result<Option<String>, StoreError> {
        let statement = self.statement(POSITION)?;
        let row = self.client.query_opt(&statement, &[&id])?;
        Ok(row.map(|row| {
            Position {
                start_time: row.get(0),
                id: id.to_owned(),
            }
            .encode()
        }))
    }

    /// See [`crate::LogStore::count`].
    pub fn count(&mut self, filter: &Filter) -> Result<u64, StoreError> {
        let (sql, params) = plan::count(&filter.predicates()?, Dialect::Postgres);
        let statement = self.statement(&numbered(&sql, &params))?;
        let params = bind::params(&params);
        let count: i64 = self
            .client
            .query_one(&statement, &bind::refs(&params))?
            .get(0);
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// See [`crate::LogStore::list`]. A page is read newest day first, one day partition at
    /// a time, until it is full: each statement then walks one partition's index (a fraction of
    /// a millisecond) instead of merging every day's. A filter on a thread, trace or customer
    /// (few rows, spread over days) is one statement over all days.
    pub fn list(
        &mut self,
        filter: &Filter,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<(Vec<Value>, Option<String>), StoreError> {
        let read = PageRead::new(filter, limit);
        let after = decode(cursor)?;
        let predicates = filter.predicates()?;
        let spans: Vec<TimeRange> = if predicates.columns.iter().any(|column| column.selective) {
            vec![(predicates.from, predicates.to)]
        } else {
            self.days_newest_first(&predicates, after.as_ref())?
        };
        let mut rows = Vec::new();
        for (from, to) in spans {
            let wanted = read.statement_limit() - rows.len();
            if wanted == 0 {
                break;
            }
            let day = Predicates {
                from,
                to,
                ..predicates.clone()
            };
            let (sql, params) = self.ordered_read(
                &day,
                Order::NewestFirst,
                after.as_ref(),
                Some(wanted),
                read.conditions,
            )?;
            let statement = self.statement(&numbered(&sql, &params))?;
            let params = bind::params(&params);
            for row in self.client.query(&statement, &bind::refs(&params))? {
                rows.push((
                    row.try_get::<_, i64>(0)?,
                    row.try_get::<_, String>(1)?,
                    row.try_get::<_, Option<String>>(2)?,
                ));
            }
        }
        read.collect(rows.into_iter().map(Ok))
    }

    /// The time range of each day partition that can hold rows of `predicates` before the
    /// cursor, newest first, clipped to the filter's own range.
    fn days_newest_first(
        &mut self,
        predicates: &Predicates,
        after: Option<&Position>,
    ) -> Result<Vec<TimeRange>, StoreError> {
        let statement = self.statement(partitions::LIST)?;
        let mut days: Vec<i64> = self
            .client
            .query(&statement, &[])?
            .iter()
            .filter_map(|row| partitions::day_from_name("logs", row.get(0)))
            .collect();
        days.sort_unstable_by(|a, b| b.cmp(a));
        let (from, to) = (predicates.from, predicates.to);
        let last = after.map(|p| p.start_time);
        Ok(days
            .into_iter()
            .map(|day| (day * DAY_MICROS, (day + 1) * DAY_MICROS))
            .filter(|&(start, end)| {
                from.is_none_or(|from| end > from)
                    && to.is_none_or(|to| start < to)
                    && last.is_none_or(|last| start <= last)
            })
            .map(|(start, end)| {
                (
                    Some(from.map_or(start, |from| from.max(start))),
                    Some(to.map_or(end, |to| to.min(end))),
                )
            })
            .collect())
    }

    /// See [`crate::LogStore::page_at`].
    pub fn page_at(
        &mut self,
        filter: &Filter,
        order: Order,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<Value>, StoreError> {
        let (mut sql, mut params) = self.ordered_read(
            &filter.predicates()?,
            order,
            None,
            Some(limit.max(1)),
            plan::Conditions::Filter,
        )?;
        sql.push_str(" OFFSET ?");
        params.push(i64::try_from(offset).unwrap_or(i64::MAX).into());
        let statement = self.statement(&numbered(&sql, &params))?;
        let params = bind::params(&params);
        let rows = self.client.query(&statement, &bind::refs(&params))?;
        rows.iter()
            .map(|row| Ok(serde_json::from_str(row.try_get(2)?)?))
            .collect()
    }

    /// See [`crate::LogStore::thread`].
    pub fn thread(&mut self, thread_identifier: &str) -> Result<Vec<Value>, StoreError> {
        self.records_of(THREAD, thread_identifier)
    }

    /// See [`crate::LogStore::trace`].
    pub fn trace(&mut self, trace_unique_id: &str) -> Result<Vec<Value>, StoreError> {
        self.records_of(TRACE, trace_unique_id)
    }

    fn records_of(&mut self, sql: &str, key: &str) -> Result<Vec<Value>, StoreError> {
        let statement = self.statement(sql)?;
        let rows = self.client.query(&statement, &[&key])?;
        rows.iter()
            .map(|row| Ok(serde_json::from_str(row.try_get(0)?)?))
            .collect()
    }

    /// See [`crate::LogStore::for_each`]. The walk runs in one read-only repeatable-read
    /// transaction (one snapshot, as SQLite's single statement sees) and fetches
    /// [`FETCH`] rows at a time from a cursor, so memory stays flat.
    pub fn for_each(
        &mut self,
        filter: &Filter,
        order: Order,
        after_cursor: Option<&str>,
        each: &mut dyn FnMut(&str, &str) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let after = decode(after_cursor)?;
        let (sql, params) = self.ordered_read(
            &filter.predicates()?,
            order,
            after.as_ref(),
            None,
            plan::Conditions::Filter,
        )?;
        let sql = numbered(&sql, &params);
        let params = bind::params(&params);
        let mut tx = self
            .client
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()?;
        // A walk streams in order from its first row, as SQLite's does: through the driver's
        // index, never by hashing and sorting every match first (which the planner prefers
        // for a whole table, and which makes an export wait seconds before its first line).
        // `logs` and its side tables share their day partitions: joined day by day, a
        // side-table walk looks each log up in its own day instead of in every day (an export
        // of 400,000 metadata matches: 4 s before, 2.5 s after). Pages, bounded to one day,
        // do without: it only adds planning time there.
        tx.batch_execute(
            "SET LOCAL enable_sort = off; SET LOCAL enable_hashjoin = off; \
             SET LOCAL enable_mergejoin = off; SET LOCAL cursor_tuple_fraction = 0.01; \
             SET LOCAL enable_partitionwise_join = on",
        )?;
        tx.execute(
            &format!("DECLARE switchboard_walk NO SCROLL CURSOR FOR {sql}"),
            &bind::refs(&params),
        )?;
        let fetch = format!("FETCH {FETCH} FROM switchboard_walk");
        loop {
            let rows = tx.query(&fetch, &[])?;
            for row in &rows {
                let position = Position {
                    start_time: row.try_get(0)?,
                    id: row.try_get(1)?,
                };
                each(row.try_get(2)?, &position.encode())?;
            }
            if rows.len() < usize::try_from(FETCH).unwrap_or(usize::MAX) {
                break;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// PostgreSQL's `EXPLAIN` lines for the page query of this filter (see
    /// [`crate::LogStore::query_plan`]).
    pub fn query_plan(
        &mut self,
        filter: &Filter,
        order: Order,
        after_cursor: Option<&str>,
    ) -> Result<Vec<String>, StoreError> {
        let after = decode(after_cursor)?;
        let (sql, params) = self.ordered_read(
            &filter.predicates()?,
            order,
            after.as_ref(),
            Some(100),
            plan::Conditions::Filter,
        )?;
        let statement = self
            .client
            .prepare(&format!("EXPLAIN {}", numbered(&sql, &params)))?;
        let params = bind::params(&params);
        let rows = self.client.query(&statement, &bind::refs(&params))?;
        rows.iter().map(|row| Ok(row.try_get(0)?)).collect()
    }

    /// The driver of a read of `predicates`, probing candidates on this connection.
    fn choose(
        &mut self,
        predicates: &crate::predicate::Predicates,
    ) -> Result<plan::Driver, StoreError> {
        let mut run = |sql: &str, params: &[SqlValue]| -> Result<i64, StoreError> {
            let statement = self.statement(&numbered(sql, params))?;
            let params = bind::params(params);
            Ok(self
                .client
                .query_one(&statement, &bind::refs(&params))?
                .get(0))
        };
        plan::choose(&mut run, predicates, Dialect::Postgres)
    }

    /// The SQL (with `?` marks, for [`numbered`]) and parameters of a read of `predicates`
    /// through the driver probed on this connection (see [`plan::ordered_read`]).
    fn ordered_read(
        &mut self,
        predicates: &Predicates,
        order: Order,
        after: Option<&Position>,
        limit: Option<usize>,
        conditions: plan::Conditions,
    ) -> Result<(String, Vec<SqlValue>), StoreError> {
        let driver = self.choose(predicates)?;
        Ok(plan::ordered_read(
            predicates,
            driver,
            order,
            after,
            limit,
            conditions,
            Dialect::Postgres,
        ))
    }
}
