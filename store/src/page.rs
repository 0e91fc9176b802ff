//! What both stores share about reading pages: the order, and how a page of [`LogStore::list`]
//! is cut out of the rows its statement walks.
//!
//! [`LogStore::list`]: crate::LogStore::list

use serde_json::Value;

use crate::cursor::Position;
use crate::plan::{self, Conditions};
use crate::{Filter, StoreError};

/// The order in which logs are read, on `(start_time, id)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Order {
    /// Earliest `start_time` first.
    OldestFirst,
    /// Latest `start_time` first (the logs API's order).
    #[default]
    NewestFirst,
}

/// How one page is read: at most `limit` records, walking at most `walk` rows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PageRead {
    limit: usize,
    walk: usize,
    /// Whether the statement filters rows or marks the ones that match.
    pub(crate) conditions: Conditions,
}

impl PageRead {
    /// The read of a page of `limit` (at least 1) records of `filter`. Conditions with operators
    /// are checked row by row, so such a page walks at most [`plan::SCAN_BUDGET`] rows and
    /// keeps the matches among them.
    pub(crate) fn new(filter: &Filter, limit: usize) -> PageRead {
        let limit = limit.max(1);
        if filter.conditions.is_empty() {
            PageRead {
                limit,
                walk: limit,
                conditions: Conditions::Filter,
            }
        } else {
            PageRead {
                limit,
                walk: plan::SCAN_BUDGET,
                conditions: Conditions::Mark,
            }
        }
    }

    /// Rows the statement should return: one more than walked, to know whether more follow.
    pub(crate) fn statement_limit(&self) -> usize {
        self.walk.saturating_add(1)
    }

    /// The page and the next page's cursor (`None` on the last page), from the statement's
    /// rows `(start_time, id, record when it matches)` in order.
    pub(crate) fn collect(
        &self,
        rows: impl Iterator<Item = Result<(i64, String, Option<String>), StoreError>>,
    ) -> Result<(Vec<Value>, Option<String>), StoreError> {
        let mut records = Vec::with_capacity(self.limit.min(1_024));
        let mut last = None;
        let mut more = false;
        for (walked, row) in rows.enumerate() {
            let (start_time, id, record) = row?;
            if records.len() == self.limit || walked == self.walk {
                more = true;
                break;
            }
            if let Some(text) = record {
                records.push(serde_json::from_str(&text)?);
            }
            last = Some(Position { start_time, id });
        }
        let next = if more { last.map(|p| p.encode()) } else { None };
        Ok((records, next))
    }
}
