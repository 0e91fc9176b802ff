//! The nested parts of a record: usage (nested or flat), metadata, attempts.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use switchboard_record::{AttemptRecord, ErrorKind, Usage};

use super::fields::{Fields, must, tokens};

/// `usage`, or the flat `prompt_tokens` / `completion_tokens` / `total_tokens`.
pub(super) fn usage(f: &mut Fields) -> Result<Option<Usage>, String> {
    let flat = [
        f.take(&["prompt_tokens"])?,
        f.take(&["completion_tokens"])?,
        f.take(&["total_tokens"])?,
    ];
    let nested = match f.take(&["usage"])? {
        None => None,
        Some((_, Value::Object(usage))) => Some(usage),
        Some((name, other)) => return Err(must(name, "an object", &other)),
    };
    if nested.is_none() && flat.iter().all(Option::is_none) {
        return Ok(None);
    }
    let read = |key: &'static str, flat: &Option<(&'static str, Value)>| -> Result<_, String> {
        if let Some((name, value)) = flat {
            return tokens(name, value).map(Some);
        }
        match nested.as_ref().and_then(|u| u.get(key)) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => tokens(&format!("usage.{key}"), value).map(Some),
        }
    };
    let prompt = read("prompt_tokens", &flat[0])?.unwrap_or(0);
    let completion = read("completion_tokens", &flat[1])?.unwrap_or(0);
    let total = read("total_tokens", &flat[2])?.unwrap_or(prompt + completion);
    Ok(Some(Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: total,
    }))
}

/// Custom properties, values as strings.
pub(super) fn metadata(f: &mut Fields) -> Result<BTreeMap<String, String>, String> {
    match f.take(&["metadata"])? {
        None => Ok(BTreeMap::new()),
        Some((_, Value::Object(map))) => Ok(map
            .into_iter()
            .filter_map(|(key, value)| match value {
                Value::Null => None,
                Value::String(s) => Some((key, s)),
                other => Some((key, other.to_string())),
            })
            .collect()),
        Some((name, other)) => Err(must(name, "an object of custom properties", &other)),
    }
}

/// The attempts; one without a `provider_id` takes the record's `provider_id`.
pub(super) fn attempts(
    f: &mut Fields,
    provider_id: Option<&str>,
) -> Result<Vec<AttemptRecord>, String> {
    let items = match f.take(&["attempts"])? {
        None => return Ok(Vec::new()),
        Some((_, Value::Array(items))) => items,
        Some((name, other)) => return Err(must(name, "an array", &other)),
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let Value::Object(map) = item else {
                return Err(must(&format!("attempts[{i}]"), "an object", &item));
            };
            let mut attempt = attempt(map).map_err(|e| format!("attempts[{i}].{e}"))?;
            if attempt.provider_id.is_empty() {
                attempt.provider_id = provider_id.unwrap_or_default().to_owned();
            }
            Ok(attempt)
        })
        .collect()
}

fn attempt(map: Map<String, Value>) -> Result<AttemptRecord, String> {
    let mut f = Fields { map };
    let error_kind = match f.string(&["error_kind"])? {
        None => None,
        Some(kind) => Some(kind.parse::<ErrorKind>().map_err(|_| {
            let kinds: Vec<&str> = ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
            format!("`error_kind` must be one of {}", kinds.join(", "))
        })?),
    };
    let status_code = match f.integer(&["status_code"])? {
        None => None,
        Some((_, code)) if (100..=599).contains(&code) => Some(code as u16),
        Some((name, _)) => return Err(format!("`{name}` must be an HTTP status (100 to 599)")),
    };
    Ok(AttemptRecord {
        provider_id: f.string(&["provider_id"])?.unwrap_or_default(),
        provider_model: f.string(&["provider_model"])?.unwrap_or_default(),
        status_code,
        error_kind,
        error_message: f.string(&["error_message"])?,
        latency: f.non_negative(&["latency"])?.unwrap_or(0.0),
        time_to_first_token: f.non_negative(&["time_to_first_token", "ttft"])?,
        hedge: f.boolean(&["hedge"])?.unwrap_or(false),
        cancelled: f.boolean(&["cancelled"])?.unwrap_or(false),
        continuation: f.boolean(&["continuation"])?.unwrap_or(false),
    })
}
