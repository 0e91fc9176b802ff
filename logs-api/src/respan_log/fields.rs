//! The fields of one record in Respan's shape, taken out one by one, each with its type check
//! and an error that names it.

use serde_json::{Map, Value};
use switchboard_record::json_type;
use time::format_description::well_known::{Iso8601, Rfc3339};
use time::{OffsetDateTime, PrimitiveDateTime};

/// The fields of one record, taken out one by one (what is left at the end was not understood).
pub(super) struct Fields {
    /// What is left: at the end, the fields that were not understood.
    pub map: Map<String, Value>,
}

impl Fields {
    /// Takes the first of `names` (a field and its aliases) that is present and not null.
    /// Giving two of them with different values is an error.
    pub fn take(
        &mut self,
        names: &[&'static str],
    ) -> Result<Option<(&'static str, Value)>, String> {
        let mut found: Option<(&'static str, Value)> = None;
        for name in names {
            match self.map.remove(*name) {
                None | Some(Value::Null) => {}
                Some(value) => match &found {
                    Some((first, earlier)) if *earlier != value => {
                        return Err(format!("give only one of `{first}` and `{name}`"));
                    }
                    Some(_) => {}
                    None => found = Some((name, value)),
                },
            }
        }
        Ok(found)
    }

    pub fn string(&mut self, names: &[&'static str]) -> Result<Option<String>, String> {
        match self.take(names)? {
            None => Ok(None),
            Some((_, Value::String(s))) => Ok(Some(s)),
            Some((_, Value::Number(n))) => Ok(Some(n.to_string())),
            Some((name, other)) => Err(must(name, "a string", &other)),
        }
    }

    pub fn boolean(&mut self, names: &[&'static str]) -> Result<Option<bool>, String> {
        match self.take(names)? {
            None => Ok(None),
            Some((_, Value::Bool(b))) => Ok(Some(b)),
            Some((name, other)) => Err(must(name, "a boolean", &other)),
        }
    }

    /// A non-negative finite number (seconds, USD).
    pub fn non_negative(&mut self, names: &[&'static str]) -> Result<Option<f64>, String> {
        match self.take(names)? {
            None => Ok(None),
            Some((name, value)) => number(name, &value).map(Some),
        }
    }

    pub fn integer(
        &mut self,
        names: &[&'static str],
    ) -> Result<Option<(&'static str, i64)>, String> {
        match self.take(names)? {
            None => Ok(None),
            Some((name, Value::Number(n))) => n
                .as_i64()
                .map(|i| Some((name, i)))
                .ok_or_else(|| format!("`{name}` must be an integer")),
            Some((name, other)) => Err(must(name, "an integer", &other)),
        }
    }

    /// An object field (an empty map when absent).
    pub fn object(&mut self, names: &[&'static str]) -> Result<Map<String, Value>, String> {
        match self.take(names)? {
            None => Ok(Map::new()),
            Some((_, Value::Object(map))) => Ok(map),
            Some((name, other)) => Err(must(name, "an object", &other)),
        }
    }

    pub fn json(&mut self, names: &[&'static str]) -> Result<Option<Value>, String> {
        Ok(self.take(names)?.map(|(_, value)| value))
    }

    /// RFC3339 (or ISO 8601 without offset, taken as UTC) or unix seconds.
    pub fn time(&mut self, names: &[&'static str]) -> Result<Option<OffsetDateTime>, String> {
        let Some((name, value)) = self.take(names)? else {
            return Ok(None);
        };
        let bad = || format!("`{name}` must be an RFC3339 time or unix seconds");
        let parsed = match &value {
            Value::String(text) => OffsetDateTime::parse(text, &Rfc3339).ok().or_else(|| {
                PrimitiveDateTime::parse(text, &Iso8601::DEFAULT)
                    .ok()
                    .map(PrimitiveDateTime::assume_utc)
            }),
            Value::Number(n) => n
                .as_f64()
                .filter(|s| s.is_finite())
                .and_then(|s| OffsetDateTime::from_unix_timestamp_nanos((s * 1e9) as i128).ok()),
            _ => None,
        };
        parsed.map(Some).ok_or_else(bad)
    }

    pub fn warnings(&mut self) -> Result<Vec<String>, String> {
        match self.take(&["warnings"])? {
            None => Ok(Vec::new()),
            Some((_, Value::String(s))) => Ok(vec![s]),
            Some((name, Value::Array(items))) => items
                .into_iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s),
                    other => Err(must(name, "a list of strings", &other)),
                })
                .collect(),
            Some((name, other)) => Err(must(name, "a list of strings", &other)),
        }
    }
}

/// "`name` must be what, not a string".
pub(super) fn must(name: &str, what: &str, got: &Value) -> String {
    format!("`{name}` must be {what}, not {}", json_type(got))
}

/// A non-negative finite number.
pub(super) fn number(name: &str, value: &Value) -> Result<f64, String> {
    match value {
        Value::Number(n) => match n.as_f64() {
            Some(x) if x.is_finite() && x >= 0.0 => Ok(x),
            _ => Err(format!("`{name}` must not be negative")),
        },
        other => Err(must(name, "a number", other)),
    }
}

/// A token count.
pub(super) fn tokens(name: &str, value: &Value) -> Result<u64, String> {
    value
        .as_u64()
        .ok_or_else(|| format!("`{name}` must be a non-negative integer"))
}
