//! Scores in SQLite: `scores` plus the `score_values` side table that filters read.

use rusqlite::{OptionalExtension, params};
use serde_json::Value;

use super::SqliteStore;
use crate::score::{self, Score};
use crate::{StoreError, timefmt};

const LOG_START: &str = "SELECT start_time FROM logs WHERE id = ?1";
const DELETE_VALUES: &str = "DELETE FROM score_values WHERE log_id = ?1 AND evaluator_slug = ?2";
const DELETE_SCORE: &str = "DELETE FROM scores WHERE log_id = ?1 AND evaluator_slug = ?2";
const INSERT_SCORE: &str = "INSERT INTO scores (log_id, evaluator_slug, value_type, \
     numerical_value, boolean_value, string_value, created_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
const INSERT_VALUE: &str = "INSERT OR IGNORE INTO score_values \
     (evaluator_slug, value_text, start_time, log_id) VALUES (?1, ?2, ?3, ?4)";
const SELECT_SCORES: &str = "SELECT evaluator_slug, value_type, numerical_value, boolean_value, \
     string_value, created_at FROM scores WHERE log_id = ?1 ORDER BY evaluator_slug";

impl SqliteStore {
    /// Stores `score` for the log `log_id`, replacing that evaluator's earlier score of the log.
    /// [`StoreError::NotFound`] if the log does not exist, [`StoreError::BadScore`] for an empty
    /// slug, a non-finite number or an empty category list.
    pub fn put_score(&mut self, log_id: &str, score: &Score) -> Result<(), StoreError> {
        score.validate()?;
        let slug = &score.evaluator_slug;
        let (kind, number, boolean, text) = score::columns(&score.value)?;
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // The score's values are filed under the log's start time, to read matches in order.
        let start_time: Option<i64> = tx
            .prepare_cached(LOG_START)?
            .query_row([log_id], |row| row.get(0))
            .optional()?;
        let Some(start_time) = start_time else {
            return Err(StoreError::NotFound(log_id.to_owned()));
        };
        tx.prepare_cached(DELETE_VALUES)?
            .execute(params![log_id, slug])?;
        tx.prepare_cached(DELETE_SCORE)?
            .execute(params![log_id, slug])?;
        tx.prepare_cached(INSERT_SCORE)?.execute(params![
            log_id,
            slug,
            kind,
            number,
            boolean,
            text,
            timefmt::now_micros()
        ])?;
        {
            let mut insert_value = tx.prepare_cached(INSERT_VALUE)?;
            for value_text in score::value_texts(&score.value) {
                insert_value.execute(params![slug, value_text, start_time, log_id])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The scores of a log as JSON objects (`evaluator_slug`, one `*_value`, `created_at`),
    /// ordered by evaluator.
    pub(crate) fn scores_json(&self, log_id: &str) -> Result<Vec<Value>, StoreError> {
        let mut statement = self.conn.prepare_cached(SELECT_SCORES)?;
        let mut rows = statement.query([log_id])?;
        let mut scores = Vec::new();
        while let Some(row) = rows.next()? {
            let slug: String = row.get(0)?;
            let kind: String = row.get(1)?;
            let number: Option<f64> = row.get(2)?;
            let boolean: Option<bool> = row.get(3)?;
            let text: Option<String> = row.get(4)?;
            let created_at: i64 = row.get(5)?;
            scores.push(score::score_json(
                slug, &kind, number, boolean, text, created_at,
            )?);
        }
        Ok(scores)
    }
}
