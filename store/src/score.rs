//! Scores: one per evaluator per log, written by evaluators or people through the API.

use serde_json::{Map, Value, json};

use crate::{StoreError, timefmt};

/// The value of a score, in Respan's four kinds.
#[derive(Debug, Clone, PartialEq)]
pub enum ScoreValue {
    /// A number (finite).
    Numerical(f64),
    /// Pass/fail.
    Boolean(bool),
    /// One or more categories.
    Categorical(Vec<String>),
    /// Free text.
    String(String),
}

/// A score given to one log by one evaluator.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    /// The evaluator that gave the score; a log has at most one score per evaluator.
    pub evaluator_slug: String,
    /// The score itself.
    pub value: ScoreValue,
}

impl Score {
    /// Reads the body of `POST /api/logs/{id}/scores`: `{"evaluator_slug", and exactly one of
    /// "numerical_value" | "boolean_value" | "categorical_value" (a string or a list of strings)
    /// | "string_value"}`. Errors ([`StoreError::BadScore`]) name the field at fault.
    pub fn from_json(body: &Value) -> Result<Score, StoreError> {
        let bad = |msg: &str| StoreError::BadScore(msg.to_owned());
        let Value::Object(body) = body else {
            return Err(bad("the score is not a JSON object"));
        };
        let evaluator_slug = match body.get("evaluator_slug") {
            Some(Value::String(slug)) => slug.clone(),
            _ => return Err(bad("`evaluator_slug` must be a string")),
        };
        let present: Vec<&str> = VALUE_FIELDS
            .into_iter()
            .filter(|field| body.get(*field).is_some_and(|v| !v.is_null()))
            .collect();
        let [field] = present.as_slice() else {
            return Err(bad(
                "exactly one of `numerical_value`, `boolean_value`, `categorical_value`, \
                 `string_value` must be given",
            ));
        };
        let raw = body.get(*field).unwrap_or(&Value::Null);
        let value = match (*field, raw) {
            ("numerical_value", Value::Number(n)) => {
                ScoreValue::Numerical(n.as_f64().ok_or_else(|| bad("bad `numerical_value`"))?)
            }
            ("boolean_value", Value::Bool(b)) => ScoreValue::Boolean(*b),
            ("string_value", Value::String(s)) => ScoreValue::String(s.clone()),
            ("categorical_value", Value::String(s)) => ScoreValue::Categorical(vec![s.clone()]),
            ("categorical_value", Value::Array(items)) => ScoreValue::Categorical(
                items
                    .iter()
                    .map(|item| item.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| bad("`categorical_value` must hold strings"))?,
            ),
            (field, _) => {
                return Err(StoreError::BadScore(format!(
                    "`{field}` has the wrong type"
                )));
            }
        };
        let score = Score {
            evaluator_slug,
            value,
        };
        score.validate()?;
        Ok(score)
    }

    pub(crate) fn validate(&self) -> Result<(), StoreError> {
        if self.evaluator_slug.is_empty() {
            return Err(StoreError::BadScore("`evaluator_slug` is empty".into()));
        }
        match &self.value {
            ScoreValue::Numerical(n) if !n.is_finite() => Err(StoreError::BadScore(
                "`numerical_value` must be a finite number".into(),
            )),
            ScoreValue::Categorical(items) if items.is_empty() => Err(StoreError::BadScore(
                "`categorical_value` needs at least one category".into(),
            )),
            _ => Ok(()),
        }
    }
}

const VALUE_FIELDS: [&str; 4] = [
    "numerical_value",
    "boolean_value",
    "categorical_value",
    "string_value",
];

/// A number's canonical text, shared by stored numerical scores and numeric filter values.
fn number_text(n: f64) -> String {
    // -0 and 0 are the same score.
    if n == 0.0 {
        "0".to_owned()
    } else {
        n.to_string()
    }
}

/// The texts under which a score is found by a `score.<slug>=<text>` filter.
pub(crate) fn value_texts(value: &ScoreValue) -> Vec<String> {
    match value {
        ScoreValue::Numerical(n) => vec![number_text(*n)],
        ScoreValue::Boolean(b) => vec![b.to_string()],
        ScoreValue::Categorical(items) => items.clone(),
        ScoreValue::String(s) => vec![s.clone()],
    }
}

/// For a filter value: the text as given and, when it reads as a number, that number's canonical
/// text (so `1.0` finds the numerical score 1).
pub(crate) fn filter_texts(value: &str) -> (String, String) {
    let canonical = match value.trim().parse::<f64>() {
        Ok(n) if n.is_finite() => number_text(n),
        _ => value.to_owned(),
    };
    (value.to_owned(), canonical)
}

/// A stored score as the API shows it: `evaluator_slug`, the one `*_value` of its kind
/// (`numerical`, `boolean`, `categorical` as a JSON list text, or `string`) and `created_at`.
pub(crate) fn score_json(
    slug: String,
    kind: &str,
    number: Option<f64>,
    boolean: Option<bool>,
    text: Option<String>,
    created_at: i64,
) -> Result<Value, StoreError> {
    let mut score = Map::new();
    score.insert("evaluator_slug".into(), json!(slug));
    let (field, value) = match kind {
        "numerical" => ("numerical_value", json!(number)),
        "boolean" => ("boolean_value", json!(boolean)),
        "categorical" => {
            let items: Value = match &text {
                Some(text) => serde_json::from_str(text)?,
                None => Value::Null,
            };
            ("categorical_value", items)
        }
        _ => ("string_value", json!(text)),
    };
    score.insert(field.into(), value);
    score.insert(
        "created_at".into(),
        json!(timefmt::micros_to_rfc3339(created_at)),
    );
    Ok(Value::Object(score))
}

/// A score's columns: its kind's name, and the number, boolean or text it fills.
pub(crate) type ScoreColumns = (&'static str, Option<f64>, Option<bool>, Option<String>);

/// How a score is stored (categories as a JSON list text).
pub(crate) fn columns(value: &ScoreValue) -> Result<ScoreColumns, StoreError> {
    Ok(match value {
        ScoreValue::Numerical(n) => ("numerical", Some(*n), None, None),
        ScoreValue::Boolean(b) => ("boolean", None, Some(*b), None),
        ScoreValue::Categorical(items) => (
            "categorical",
            None,
            None,
            Some(serde_json::to_string(items)?),
        ),
        ScoreValue::String(s) => ("string", None, None, Some(s.clone())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_api_body() {
        let read = |body: Value| Score::from_json(&body);
        assert_eq!(
            read(json!({"evaluator_slug": "q", "numerical_value": 0.5})).ok(),
            Some(Score {
                evaluator_slug: "q".into(),
                value: ScoreValue::Numerical(0.5)
            })
        );
        assert_eq!(
            read(json!({"evaluator_slug": "c", "categorical_value": "rude", "string_value": null}))
                .ok()
                .map(|s| s.value),
            Some(ScoreValue::Categorical(vec!["rude".into()]))
        );
        for body in [
            json!({"numerical_value": 1}),
            json!({"evaluator_slug": "q"}),
            json!({"evaluator_slug": "q", "numerical_value": 1, "boolean_value": true}),
            json!({"evaluator_slug": "q", "boolean_value": "yes"}),
            json!({"evaluator_slug": "q", "categorical_value": [1]}),
            json!({"evaluator_slug": "", "string_value": "x"}),
            json!({"evaluator_slug": "q", "categorical_value": []}),
        ] {
            assert!(
                matches!(read(body.clone()), Err(StoreError::BadScore(_))),
                "{body}"
            );
        }
    }

    #[test]
    fn numbers_match_by_value() {
        assert_eq!(filter_texts("1.0"), ("1.0".into(), "1".into()));
        assert_eq!(value_texts(&ScoreValue::Numerical(1.0)), vec!["1"]);
        assert_eq!(filter_texts("-0"), ("-0".into(), "0".into()));
        assert_eq!(filter_texts("good"), ("good".into(), "good".into()));
        assert_eq!(filter_texts("NaN"), ("NaN".into(), "NaN".into()));
    }
}
