//! Scores in PostgreSQL: `scores` plus the `score_values` side table that filters read.

use serde_json::Value;

use super::PostgresStore;
use crate::score::{self, Score};
use crate::{StoreError, timefmt};

const LOG_START: &str = "SELECT start_time FROM log_ids WHERE id = $1";
// Its values go with it (foreign key, ON DELETE CASCADE).
const DELETE_SCORE: &str = "DELETE FROM scores WHERE log_id = $1 AND evaluator_slug = $2";
const INSERT_SCORE: &str = "INSERT INTO scores (log_id, evaluator_slug, start_time, value_type, \
     numerical_value, boolean_value, string_value, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
const INSERT_VALUE: &str = "INSERT INTO score_values \
     (evaluator_slug, value_text, start_time, log_id) VALUES ($1, $2, $3, $4) \
     ON CONFLICT DO NOTHING";
const SELECT_SCORES: &str = "SELECT evaluator_slug, value_type, numerical_value, boolean_value, \
     string_value, created_at FROM scores WHERE log_id = $1 ORDER BY evaluator_slug";

impl PostgresStore {
    /// See [`crate::LogStore::put_score`].
    pub fn put_score(&mut self, log_id: &str, score: &Score) -> Result<(), StoreError> {
        score.validate()?;
        let slug = &score.evaluator_slug;
        let (kind, number, boolean, text) = score::columns(&score.value)?;
        let mut tx = self.client.transaction()?;
        // The score's values are filed under the log's start time, to read matches in order.
        let Some(row) = tx.query_opt(LOG_START, &[&log_id])? else {
            return Err(StoreError::NotFound(log_id.to_owned()));
        };
        let start_time: i64 = row.get(0);
        tx.execute(DELETE_SCORE, &[&log_id, slug])?;
        tx.execute(
            INSERT_SCORE,
            &[
                &log_id,
                slug,
                &start_time,
                &kind,
                &number,
                &boolean,
                &text,
                &timefmt::now_micros(),
            ],
        )?;
        for value_text in score::value_texts(&score.value) {
            tx.execute(INSERT_VALUE, &[slug, &value_text, &start_time, &log_id])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The scores of a log as JSON objects, ordered by evaluator.
    pub(crate) fn scores_json(&mut self, log_id: &str) -> Result<Vec<Value>, StoreError> {
        let statement = self.statement(SELECT_SCORES)?;
        let rows = self.client.query(&statement, &[&log_id])?;
        rows.iter()
            .map(|row| {
                score::score_json(
                    row.try_get(0)?,
                    row.try_get(1)?,
                    row.try_get(2)?,
                    row.try_get(3)?,
                    row.try_get(4)?,
                    row.try_get(5)?,
                )
            })
            .collect()
    }
}
