//! Filters of the logs API (SPEC section 7) and their translation to [`Predicates`].

use rusqlite::types::Value as SqlValue;

use crate::condition::{self, Condition, Field, Op};
use crate::predicate::{ColumnMatch, Predicates, SideMatch};
use crate::{StoreError, score, timefmt};

/// Which logs a query selects; every set field must match (AND). The default selects every log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// The model name the client sent.
    pub model: Option<String>,
    /// The provider that served (or last tried) the request.
    pub provider_id: Option<String>,
    /// `success`, `error` or `client_disconnected`.
    pub status: Option<String>,
    /// The customer the request was made for.
    pub customer_identifier: Option<String>,
    /// The thread (call) the request belongs to.
    pub thread_identifier: Option<String>,
    /// The trace the request belongs to.
    pub trace_unique_id: Option<String>,
    /// `metadata.<key> = <value>` pairs, any key.
    pub metadata: Vec<(String, String)>,
    /// Inclusive lower bound on `start_time`, RFC3339.
    pub from: Option<String>,
    /// Exclusive upper bound on `start_time`, RFC3339.
    pub to: Option<String>,
    /// Whether a target other than the first was tried.
    pub fallback_used: Option<bool>,
    /// Some attempt failed with this error kind (`5xx`, `429`, `timeout`, ...).
    pub error_kind: Option<String>,
    /// Whether the output validated as JSON (logs without validation match neither value).
    pub json_valid: Option<bool>,
    /// `score.<evaluator_slug> = <value as text>` pairs: a numerical score matches a number equal
    /// to it (`1` matches `1.0`), a boolean `true`/`false`, a categorical score any of its
    /// categories, a string score its exact text.
    pub scores: Vec<(String, String)>,
    /// Conditions with operators (`latency.gt=0.5`, `metadata.language.in=es,pt`), and
    /// equalities on fields without an index of their own (`stream=true`).
    pub conditions: Vec<Condition>,
}

/// Query keys that are not filters but travel in the same query string (SPEC 7: `limit`,
/// `cursor`, and the export's `format`); [`Filter::from_pairs`] skips them.
pub const NON_FILTER_KEYS: [&str; 3] = ["limit", "cursor", "format"];

impl Filter {
    /// Builds a filter from query pairs as in SPEC section 7: `model`, `provider_id`, `status`,
    /// `customer_identifier`, `thread_identifier`, `trace_unique_id`, `metadata.<key>`, `from`,
    /// `to` (RFC3339), `fallback_used`, `error_kind`, `json_valid` (`true`/`false`), and
    /// `score.<evaluator_slug>`. The keys in [`NON_FILTER_KEYS`] are skipped. An unknown key, a
    /// key given twice (other than `metadata.*`/`score.*`), an empty metadata key or evaluator
    /// slug, a bad boolean or a bad time is a [`StoreError::BadFilter`] naming the key.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Filter, StoreError> {
        let mut filter = Filter::default();
        for (key, value) in pairs {
            if NON_FILTER_KEYS.contains(&key) {
                continue;
            }
            let (name, op) = condition::split_key(key);
            if op != Op::Eq || !Filter::indexed_equality(name) {
                if matches!(name, "from" | "to") {
                    return Err(StoreError::bad_filter(
                        key,
                        "`from` and `to` take a time, not an operator (use start_time.gt and the like)",
                    ));
                }
                let field = Field::parse(name).ok_or_else(|| unknown(key, name))?;
                filter
                    .conditions
                    .push(Condition::parse(key, field, op, value)?);
                continue;
            }
            let key = name;
            if let Some(name) = key.strip_prefix("metadata.") {
                if name.is_empty() {
                    return Err(StoreError::bad_filter(key, "the metadata key is empty"));
                }
                filter.metadata.push((name.to_owned(), value.to_owned()));
                continue;
            }
            if let Some(slug) = key.strip_prefix("score.") {
                if slug.is_empty() {
                    return Err(StoreError::bad_filter(key, "the evaluator slug is empty"));
                }
                filter.scores.push((slug.to_owned(), value.to_owned()));
                continue;
            }
            match key {
                "model" => set(&mut filter.model, key, value.to_owned())?,
                "provider_id" => set(&mut filter.provider_id, key, value.to_owned())?,
                "status" => set(&mut filter.status, key, value.to_owned())?,
                "customer_identifier" => {
                    set(&mut filter.customer_identifier, key, value.to_owned())?
                }
                "thread_identifier" => set(&mut filter.thread_identifier, key, value.to_owned())?,
                "trace_unique_id" => set(&mut filter.trace_unique_id, key, value.to_owned())?,
                "error_kind" => set(&mut filter.error_kind, key, value.to_owned())?,
                "from" => {
                    time_bound(key, value)?;
                    set(&mut filter.from, key, value.to_owned())?
                }
                "to" => {
                    time_bound(key, value)?;
                    set(&mut filter.to, key, value.to_owned())?
                }
                "fallback_used" => set(&mut filter.fallback_used, key, boolean(key, value)?)?,
                "json_valid" => set(&mut filter.json_valid, key, boolean(key, value)?)?,
                _ => return Err(unknown(key, key)),
            }
        }
        Ok(filter)
    }

    /// True for the fields whose equality this filter keeps in a field of its own (and can
    /// answer through an index).
    fn indexed_equality(name: &str) -> bool {
        matches!(
            name,
            "model"
                | "provider_id"
                | "status"
                | "customer_identifier"
                | "thread_identifier"
                | "trace_unique_id"
                | "error_kind"
                | "from"
                | "to"
                | "fallback_used"
                | "json_valid"
        ) || name.starts_with("metadata.")
            || name.starts_with("score.")
    }

    /// The conditions this filter stands for; [`StoreError::BadFilter`] for a bad time bound
    /// (a filter built by hand is checked here).
    pub(crate) fn predicates(&self) -> Result<Predicates, StoreError> {
        let columns = [
            ("model", "logs_by_model", &self.model, false),
            ("provider_id", "logs_by_provider", &self.provider_id, false),
            ("status", "logs_by_status", &self.status, false),
            (
                "customer_identifier",
                "logs_by_customer",
                &self.customer_identifier,
                true,
            ),
            (
                "thread_identifier",
                "logs_by_thread",
                &self.thread_identifier,
                true,
            ),
            (
                "trace_unique_id",
                "logs_by_trace",
                &self.trace_unique_id,
                true,
            ),
        ];
        let mut out = Predicates::default();
        for (column, index, value, selective) in columns {
            if let Some(value) = value {
                out.columns.push(ColumnMatch {
                    column,
                    index,
                    value: SqlValue::Text(value.clone()),
                    selective,
                });
            }
        }
        for (column, index, value) in [
            ("fallback_used", "logs_by_fallback", self.fallback_used),
            ("json_valid", "logs_by_json", self.json_valid),
        ] {
            if let Some(value) = value {
                out.columns.push(ColumnMatch {
                    column,
                    index,
                    value: i64::from(value).into(),
                    selective: false,
                });
            }
        }
        out.from = self
            .from
            .as_deref()
            .map(|from| time_bound("from", from))
            .transpose()?;
        out.to = self
            .to
            .as_deref()
            .map(|to| time_bound("to", to))
            .transpose()?;
        for (key, value) in &self.metadata {
            out.sides.push(SideMatch::property(key, value));
        }
        if let Some(kind) = &self.error_kind {
            out.sides.push(SideMatch::error_kind(kind));
        }
        for (slug, value) in &self.scores {
            let (raw, canonical) = score::filter_texts(value);
            out.sides.push(SideMatch::score(slug, &raw, &canonical));
        }
        out.conditions.clone_from(&self.conditions);
        Ok(out)
    }
}

fn set<T>(slot: &mut Option<T>, key: &str, value: T) -> Result<(), StoreError> {
    if slot.is_some() {
        return Err(StoreError::bad_filter(key, "given more than once"));
    }
    *slot = Some(value);
    Ok(())
}

fn unknown(key: &str, name: &str) -> StoreError {
    let fields: Vec<&str> = Field::names().collect();
    let message = if name.is_empty() || name.ends_with('.') {
        "the metadata key or evaluator slug is empty".to_owned()
    } else {
        format!(
            "unknown filter field `{name}`; filters take {}, metadata.<key> and score.<slug>, each as <field>=<value> or <field>.<op>=<value>",
            fields.join(", ")
        )
    };
    StoreError::bad_filter(key, message)
}

fn boolean(key: &str, value: &str) -> Result<bool, StoreError> {
    match value {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(StoreError::bad_filter(
            key,
            format!("{value:?} is not true or false"),
        )),
    }
}

fn time_bound(key: &str, value: &str) -> Result<i64, StoreError> {
    timefmt::rfc3339_micros(value)
        .ok_or_else(|| StoreError::bad_filter(key, format!("{value:?} is not an RFC3339 time")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_key() {
        let filter = Filter::from_pairs([
            ("model", "voice-fast"),
            ("provider_id", "openai"),
            ("status", "error"),
            ("customer_identifier", "acct_9"),
            ("thread_identifier", "call_1"),
            ("trace_unique_id", "t1"),
            ("metadata.language", "es"),
            ("metadata.a.b", "c"),
            ("from", "2025-01-01T00:00:00Z"),
            ("to", "2025-01-02T00:00:00+02:00"),
            ("fallback_used", "true"),
            ("error_kind", "5xx"),
            ("json_valid", "0"),
            ("score.quality", "0.5"),
            ("limit", "10"),
            ("cursor", "abc"),
        ])
        .expect("valid filter");
        assert_eq!(filter.model.as_deref(), Some("voice-fast"));
        assert_eq!(
            filter.metadata,
            vec![
                ("language".to_owned(), "es".to_owned()),
                ("a.b".to_owned(), "c".to_owned())
            ]
        );
        assert_eq!(filter.fallback_used, Some(true));
        assert_eq!(filter.json_valid, Some(false));
        assert_eq!(
            filter.scores,
            vec![("quality".to_owned(), "0.5".to_owned())]
        );
        let predicates = filter.predicates().expect("predicates");
        assert_eq!(predicates.columns.len(), 6 + 2);
        assert_eq!(predicates.sides.len(), 2 + 1 + 1);
        assert!(predicates.from.is_some() && predicates.to.is_some());
        assert!(predicates.sides.iter().all(SideMatch::ordered));
        let oddly_written = Filter::from_pairs([("score.q", "1.0")]).expect("filter");
        let predicates = oddly_written.predicates().expect("predicates");
        assert!(!predicates.sides[0].ordered(), "1.0 is also found as 1");
    }
}
