//! `POST /api/logs`: records for calls that did not go through the proxy (Respan's create-log
//! shape, see [`crate::respan_log`]), handed to the same log sink as proxied requests' records, so
//! they land in the same stream, store, threads and exports.

use http::{Request, StatusCode};
use hyper::body::Incoming;
use serde_json::json;
use time::OffsetDateTime;

use switchboard_gateway::http::json::json_response;

use crate::error::ApiError;
use crate::respan_log::records_from_json;
use crate::{LogsApi, Reply, read_json};

/// Validates every record (all or nothing), submits them, answers 202 `{"ids": [...]}`.
pub async fn create(api: &LogsApi, request: Request<Incoming>) -> Reply {
    let body = read_json(api, request).await?;
    let records =
        records_from_json(body, OffsetDateTime::now_utc()).map_err(ApiError::InvalidRequest)?;
    let ids: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
    for record in records {
        api.sink.submit(record);
    }
    Ok(json_response(StatusCode::ACCEPTED, &json!({"ids": ids})))
}
