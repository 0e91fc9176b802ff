//! Respan's list filters (`{"filters": {"<field>": {"operator": "<op>", "value": [...]}}}`) as
//! the store's [`Filter`]: Respan's field names mapped onto the record's, its operators onto the
//! store's, into the same [`Condition`]s the logs API's `<field>.<op>=<value>` builds.

use serde_json::{Map, Value};
use switchboard_store::{Condition, Field, Filter, Op};

use crate::error::ApiError;

/// Respan's field names that are not the record's own, and the record field each reads.
const ALIASES: &[(&str, &str)] = &[
    ("unique_id", "id"),
    ("trace_id", "trace_unique_id"),
    ("total_cost", "cost"),
    ("input_tokens", "prompt_tokens"),
    ("output_tokens", "completion_tokens"),
    ("total_request_tokens", "total_tokens"),
    ("generation_time", "latency"),
];

/// The record field a Respan filter field reads, if Switchboard keeps it.
fn field(name: &str) -> Option<Field> {
    if let Some(key) = name.strip_prefix("metadata__") {
        return Field::parse(&format!("metadata.{key}"));
    }
    if let Some(slug) = name.strip_prefix("scores__") {
        return Field::parse(&format!("score.{slug}"));
    }
    let name = ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map_or(name, |(_, own)| *own);
    // Names of the native API that Respan spells differently are not Respan's.
    if name.contains('.') {
        return None;
    }
    Field::parse(name)
}

/// Respan's operator: `""` is equality with any of the values, `not` with none of them.
fn operator(name: &str, values: usize) -> Option<Op> {
    match name {
        "" | "eq" if values > 1 => Some(Op::In),
        "" | "eq" => Some(Op::Eq),
        "not" if values > 1 => Some(Op::NotIn),
        other => Op::parse(other),
    }
}

/// The filter of a list request's `filters` object (absent or null: every log).
pub fn filter(filters: Option<&Value>) -> Result<Filter, ApiError> {
    let mut out = Filter::default();
    let Some(filters) = filters.filter(|f| !f.is_null()) else {
        return Ok(out);
    };
    let Value::Object(filters) = filters else {
        return Err(bad(
            "`filters` must be an object of {\"<field>\": {\"operator\", \"value\"}}",
        ));
    };
    for (name, conditions) in filters {
        let field = field(name).ok_or_else(|| {
            bad(&format!(
                "filters.{name}: unsupported field (Switchboard keeps: {}, metadata__<key>, scores__<evaluator>)",
                Field::names().collect::<Vec<_>>().join(", ")
            ))
        })?;
        // One condition, or a list of them on the same field (a range).
        let list: Vec<&Value> = match conditions {
            Value::Array(items) => items.iter().collect(),
            one => vec![one],
        };
        for condition in list {
            out.conditions
                .push(one_condition(name, field.clone(), condition)?);
        }
    }
    Ok(out)
}

fn one_condition(name: &str, field: Field, condition: &Value) -> Result<Condition, ApiError> {
    let Value::Object(condition) = condition else {
        return Err(bad(&format!(
            "filters.{name}: expected {{\"operator\": \"...\", \"value\": [...]}}"
        )));
    };
    let values = values(name, condition)?;
    let op_name = match condition.get("operator") {
        None | Some(Value::Null) => "",
        Some(Value::String(op)) => op.as_str(),
        Some(_) => return Err(bad(&format!("filters.{name}.operator must be a string"))),
    };
    let op = operator(op_name, values.len()).ok_or_else(|| {
        bad(&format!(
            "filters.{name}.operator: unsupported operator {op_name:?}"
        ))
    })?;
    let values: Vec<&str> = match op {
        // `empty` and `not_empty` take `[""]`: their value is not read.
        Op::Empty | Op::NotEmpty => Vec::new(),
        _ => values.iter().map(String::as_str).collect(),
    };
    let key = format!("filters.{name}");
    Condition::new(&key, field, op, &values).map_err(|e| bad(&e.to_string()))
}

/// The condition's values as text (Respan sends strings, numbers and booleans).
fn values(name: &str, condition: &Map<String, Value>) -> Result<Vec<String>, ApiError> {
    let scalar = |value: &Value| match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    let list = match condition.get("value") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(scalar)
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                bad(&format!(
                    "filters.{name}.value must hold strings, numbers or booleans"
                ))
            })?,
        Some(one) => vec![scalar(one).ok_or_else(|| {
            bad(&format!(
                "filters.{name}.value must hold strings, numbers or booleans"
            ))
        })?],
    };
    Ok(list)
}

fn bad(message: &str) -> ApiError {
    ApiError::InvalidRequest(message.to_owned())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn respan_fields_and_operators_read_as_the_stores() {
        let filter = filter(Some(&json!({
            "metadata__language": {"operator": "", "value": ["es", "pt"]},
            "time_to_first_token": {"operator": "gt", "value": [0.5]},
            "latency": [{"operator": "gte", "value": [0.1]}, {"operator": "lt", "value": [2]}],
            "stream": {"operator": "", "value": [true]},
            "error_message": {"operator": "not_empty", "value": [""]},
            "unique_id": {"operator": "not", "value": ["a", "b"]},
        })))
        .unwrap();
        assert_eq!(filter.conditions.len(), 7);
    }

    #[test]
    fn unsupported_fields_and_operators_are_named() {
        let message = |filters: Value| filter(Some(&filters)).unwrap_err().to_string();
        assert!(
            message(json!({"customer_email": {"value": ["a@b"]}}))
                .contains("filters.customer_email")
        );
        assert!(message(json!({"model": {"operator": "near", "value": ["x"]}})).contains("near"));
        assert!(
            message(json!({"cost": {"operator": "gt", "value": ["cheap"]}}))
                .contains("not a number")
        );
        assert!(
            message(json!({"metadata.language": {"value": ["es"]}})).contains("unsupported field")
        );
        assert!(filter(None).unwrap().conditions.is_empty());
    }
}
