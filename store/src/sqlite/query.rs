//! Reading logs: by id, by filter (counted, paged by keyset, or streamed), by thread, by trace.

use rusqlite::types::Value as SqlValue;
use rusqlite::{OptionalExtension, params_from_iter};
use serde_json::Value;

use super::SqliteStore;
use crate::cursor::Position;
use crate::dialect::Dialect;
use crate::page::PageRead;
use crate::{Filter, Order, StoreError, plan};

const GET: &str = "SELECT record FROM logs WHERE id = ?1";
const POSITION: &str = "SELECT start_time FROM logs WHERE id = ?1";
const THREAD: &str =
    "SELECT record FROM logs WHERE thread_identifier = ?1 ORDER BY start_time ASC, id ASC";
const TRACE: &str =
    "SELECT record FROM logs WHERE trace_unique_id = ?1 ORDER BY start_time ASC, id ASC";

fn decode(cursor: Option<&str>) -> Result<Option<Position>, StoreError> {
    cursor.map(Position::decode).transpose()
}

impl SqliteStore {
    /// The record with this id, with its scores attached as `"scores": [...]` (see
    /// [`SqliteStore::put_score`]); `None` if no such log.
    pub fn get(&self, id: &str) -> Result<Option<Value>, StoreError> {
        let record: Option<String> = self
            .conn
            .prepare_cached(GET)?
            .query_row([id], |row| row.get(0))
            .optional()?;
        let Some(record) = record else {
            return Ok(None);
        };
        let mut record: Value = serde_json::from_str(&record)?;
        if let Value::Object(fields) = &mut record {
            fields.insert("scores".into(), Value::Array(self.scores_json(id)?));
        }
        Ok(Some(record))
    }

    /// The cursor of the log `id`'s position, as [`SqliteStore::list`] and [`SqliteStore::for_each`] give it:
    /// reading (in either order) after it continues right after that log. `None` if no such log.
    pub fn cursor_of(&self, id: &str) -> Result<Option<String>, StoreError> {
        let start_time: Option<i64> = self
            .conn
            .prepare_cached(POSITION)?
            .query_row([id], |row| row.get(0))
            .optional()?;
        Ok(start_time.map(|start_time| {
            Position {
                start_time,
                id: id.to_owned(),
            }
            .encode()
        }))
    }

    /// How many logs match the filter.
    pub fn count(&self, filter: &Filter) -> Result<u64, StoreError> {
        let (sql, params) = plan::count(&filter.predicates()?, Dialect::Sqlite);
        let count: i64 = self
            .conn
            .prepare_cached(&sql)?
            .query_row(params_from_iter(&params), |row| row.get(0))?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// One page of matching records, newest first (`start_time` desc, then `id` desc), after
    /// `cursor` (from a previous page) if given. The page is read in order off one index and the
    /// read stops after `limit` rows, however many logs match (see [`SqliteStore::query_plan`]). The second value is the cursor of the next page,
    /// `None` on the last page. A cursor is a position, not an offset: whatever is inserted
    /// between two page reads, no row repeats and none is skipped (a row inserted behind the
    /// cursor shows up on a later page; one ahead of it does not). `limit` is at least 1.
    pub fn list(
        &self,
        filter: &Filter,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<(Vec<Value>, Option<String>), StoreError> {
        let read = PageRead::new(filter, limit);
        let after = decode(cursor)?;
        let (sql, params) = self.ordered_read(
            filter,
            Order::NewestFirst,
            after.as_ref(),
            Some(read.statement_limit()),
            read.conditions,
        )?;
        let mut statement = self.conn.prepare_cached(&sql)?;
        let mut rows = statement.query(params_from_iter(&params))?;
        let rows = std::iter::from_fn(|| match rows.next() {
            Ok(Some(row)) => {
                Some((|| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))().map_err(StoreError::Sqlite))
            }
            Ok(None) => None,
            Err(e) => Some(Err(e.into())),
        });
        read.collect(rows)
    }

    /// Matching records `offset..offset + limit` in `order` (page-numbered APIs such as
    /// Respan's; the logs API's cursors are cheaper for deep pages, which this walks past).
    pub fn page_at(
        &self,
        filter: &Filter,
        order: Order,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<Value>, StoreError> {
        let (mut sql, mut params) = self.ordered_read(
            filter,
            order,
            None,
            Some(limit.max(1)),
            plan::Conditions::Filter,
        )?;
        sql.push_str(" OFFSET ?");
        params.push(i64::try_from(offset).unwrap_or(i64::MAX).into());
        let mut statement = self.conn.prepare_cached(&sql)?;
        let mut rows = statement.query(params_from_iter(&params))?;
        let mut records = Vec::new();
        while let Some(row) = rows.next()? {
            let text: String = row.get(2)?;
            records.push(serde_json::from_str(&text)?);
        }
        Ok(records)
    }

    /// Every record of a thread (a call), oldest first.
    pub fn thread(&self, thread_identifier: &str) -> Result<Vec<Value>, StoreError> {
        self.records_of(THREAD, thread_identifier)
    }

    /// Every record of a trace, oldest first; the caller nests the spans.
    pub fn trace(&self, trace_unique_id: &str) -> Result<Vec<Value>, StoreError> {
        self.records_of(TRACE, trace_unique_id)
    }

    /// The SQL and parameters of a filtered read in `order` after a position, at most `limit`
    /// rows, through the index [`plan::choose`] picks for this filter on this data.
    fn ordered_read(
        &self,
        filter: &Filter,
        order: Order,
        after: Option<&Position>,
        limit: Option<usize>,
        conditions: plan::Conditions,
    ) -> Result<(String, Vec<SqlValue>), StoreError> {
        let predicates = filter.predicates()?;
        let driver = plan::choose(&mut self.probe_runner(), &predicates, Dialect::Sqlite)?;
        Ok(plan::ordered_read(
            &predicates,
            driver,
            order,
            after,
            limit,
            conditions,
            Dialect::Sqlite,
        ))
    }

    /// Runs a driver probe of [`plan::choose`] on this connection.
    pub(crate) fn probe_runner(&self) -> impl FnMut(&str, &[SqlValue]) -> Result<i64, StoreError> {
        |sql, params| {
            Ok(self
                .conn
                .prepare_cached(sql)?
                .query_row(params_from_iter(params), |row| row.get(0))?)
        }
    }

    fn records_of(&self, sql: &str, key: &str) -> Result<Vec<Value>, StoreError> {
        let mut statement = self.conn.prepare_cached(sql)?;
        let mut rows = statement.query([key])?;
        let mut records = Vec::new();
        while let Some(row) = rows.next()? {
            let text: String = row.get(0)?;
            records.push(serde_json::from_str(&text)?);
        }
        Ok(records)
    }

    /// Calls `each(record JSON, cursor of that row)` for every matching record in `order`,
    /// starting after `after_cursor` if given. Rows are streamed from one statement, one at a
    /// time, so memory stays constant whatever the number of rows; the walk sees the store as it
    /// was when it began. An `Err` from `each` stops the walk and is returned; a walk stopped by a
    /// failure can be resumed from the last cursor `each` saw.
    pub fn for_each(
        &self,
        filter: &Filter,
        order: Order,
        after_cursor: Option<&str>,
        each: &mut dyn FnMut(&str, &str) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let after = decode(after_cursor)?;
        let (sql, params) = self.ordered_read(
            filter,
            order,
            after.as_ref(),
            None,
            plan::Conditions::Filter,
        )?;
        let mut statement = self.conn.prepare_cached(&sql)?;
        let mut rows = statement.query(params_from_iter(&params))?;
        while let Some(row) = rows.next()? {
            let position = Position {
                start_time: row.get(0)?,
                id: row.get(1)?,
            };
            let record = row.get_ref(2)?.as_str().map_err(rusqlite::Error::from)?;
            each(record, &position.encode())?;
        }
        Ok(())
    }

    /// SQLite's `EXPLAIN QUERY PLAN` lines for the page query that [`SqliteStore::list`] (newest first)
    /// or [`SqliteStore::for_each`] runs for this filter and cursor: a diagnostic to check that a
    /// filter is answered through an index. The driving index is chosen from the data as for a
    /// real read, so the plan can differ between stores.
    pub fn query_plan(
        &self,
        filter: &Filter,
        order: Order,
        after_cursor: Option<&str>,
    ) -> Result<Vec<String>, StoreError> {
        let after = decode(after_cursor)?;
        let (sql, params) = self.ordered_read(
            filter,
            order,
            after.as_ref(),
            Some(100),
            plan::Conditions::Filter,
        )?;
        let mut statement = self.conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
        let mut rows = statement.query(params_from_iter(&params))?;
        let mut plan = Vec::new();
        while let Some(row) = rows.next()? {
            plan.push(row.get(3)?);
        }
        Ok(plan)
    }
}
