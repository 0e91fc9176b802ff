//! `GET /api/logs` (filtered, newest first, paged by an opaque cursor) and `GET /api/logs/{id}`.

use http::StatusCode;
use serde_json::json;
use switchboard_store::Filter;

use switchboard_gateway::http::json::json_response;

use crate::error::ApiError;
use crate::store_pool::api_error;
use crate::{LogsApi, Reply};

/// Rows per page when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 50;
/// The largest page; a larger `limit` is capped to it.
pub const MAX_LIMIT: usize = 1_000;

/// One page of logs: `{"data": [...], "next_cursor": "..." | null}`.
pub async fn list(api: &LogsApi, pairs: &[(String, String)]) -> Reply {
    let mut limit = DEFAULT_LIMIT;
    let mut cursor = None;
    for (key, value) in pairs {
        match key.as_str() {
            "limit" => limit = parse_limit(value)?,
            "cursor" if !value.is_empty() => cursor = Some(value.clone()),
            _ => {}
        }
    }
    let filter = Filter::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map_err(api_error)?;
    let (data, next_cursor) = api
        .store
        .run(move |store| store.list(&filter, limit, cursor.as_deref()))
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({"data": data, "next_cursor": next_cursor}),
    ))
}

fn parse_limit(value: &str) -> Result<usize, ApiError> {
    match value.parse::<usize>() {
        Ok(0) | Err(_) => Err(ApiError::InvalidRequest(format!(
            "`limit` must be a whole number from 1 to {MAX_LIMIT}, not {value:?}"
        ))),
        Ok(n) => Ok(n.min(MAX_LIMIT)),
    }
}

/// One log with its `scores`, or 404.
pub async fn get(api: &LogsApi, id: &str) -> Reply {
    let key = id.to_owned();
    match api.store.run(move |store| store.get(&key)).await? {
        Some(record) => Ok(json_response(StatusCode::OK, &record)),
        None => Err(ApiError::NotFound(format!("log {id} not found"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_default_cap_and_refuse_junk() {
        assert_eq!(parse_limit("10").unwrap(), 10);
        assert_eq!(parse_limit("5000").unwrap(), MAX_LIMIT);
        for junk in ["0", "-1", "ten", ""] {
            assert!(
                parse_limit(junk)
                    .unwrap_err()
                    .to_string()
                    .contains("`limit`")
            );
        }
    }
}
