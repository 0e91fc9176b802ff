//! Reading logs from PostgreSQL: the shared plan, rendered in this dialect.

use rusqlite::types::Value as SqlValue;
use serde_json::Value;

use super::PostgresStore;
use super::bind::{self, numbered};
use crate::cursor::Position;
use crate::dialect::Dialect;
use crate::page::PageRead;
use crate::{Filter, Order, StoreError, plan};

const GET: &str = "SELECT l.record FROM log_ids AS i \
     JOIN logs AS l ON l.start_time = i.start_time AND l.id = i.id WHERE i.id = $1";
const POSITION: &str = "SELECT start_time FROM log_ids WHERE id = $1";
const THREAD: &str =
    "SELECT record FROM logs WHERE thread_identifier = $1 ORDER BY start_time ASC, id ASC";
const TRACE: &str =
    "SELECT record FROM logs WHERE trace_unique_id = $1 ORDER BY start_time ASC, id ASC";

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

    /// See [`crate::LogStore::list`].
    pub fn list(
        &mut self,
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
        let statement = self.statement(&sql)?;
        let params = bind::params(&params);
        let rows = self.client.query(&statement, &bind::refs(&params))?;
        read.collect(rows.iter().map(|row| {
            Ok((
                row.try_get(0)?,
                row.try_get(1)?,
                row.try_get::<_, Option<String>>(2)?,
            ))
        }))
    }

    /// See [`crate::LogStore::page_at`].
    pub fn page_at(
        &mut self,
        filter: &Filter,
        order: Order,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<Value>, StoreError> {
        let predicates = filter.predicates()?;
        let driver = self.choose(&predicates)?;
        let (mut sql, mut params) = plan::ordered_read(
            &predicates,
            driver,
            order,
            None,
            Some(limit.max(1)),
            plan::Conditions::Filter,
            Dialect::Postgres,
        );
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
    /// [`FETCH`] rows at a time through a portal, so memory stays flat.
    pub fn for_each(
        &mut self,
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
        let statement = self.statement(&sql)?;
        let params = bind::params(&params);
        let mut tx = self
            .client
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()?;
        let portal = tx.bind(&statement, &bind::refs(&params))?;
        loop {
            let rows = tx.query_portal(&portal, FETCH)?;
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
            filter,
            order,
            after.as_ref(),
            Some(100),
            plan::Conditions::Filter,
        )?;
        let statement = self.client.prepare(&format!("EXPLAIN {sql}"))?;
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

    /// The numbered SQL and parameters of a filtered read (see [`plan::ordered_read`]).
    fn ordered_read(
        &mut self,
        filter: &Filter,
        order: Order,
        after: Option<&Position>,
        limit: Option<usize>,
        conditions: plan::Conditions,
    ) -> Result<(String, Vec<SqlValue>), StoreError> {
        let predicates = filter.predicates()?;
        let driver = self.choose(&predicates)?;
        let (sql, params) = plan::ordered_read(
            &predicates,
            driver,
            order,
            after,
            limit,
            conditions,
            Dialect::Postgres,
        );
        Ok((numbered(&sql, &params), params))
    }
}
