//! `POST /api/logs`: records for calls that did not go through the proxy (Respan's create-log
//! shape, see [`crate::ingest`]), handed to the same log sink as proxied requests' records, so
//! they land in the same stream, store, threads and exports.

use http::{Request, StatusCode};
use hyper::body::Incoming;
use serde_json::json;
use time::OffsetDateTime;

use super::{Reply, json, read_json};
use crate::error::GatewayError;
use crate::ingest::records_from_json;
use crate::state::AppState;

/// Validates every record (all or nothing), submits them, answers 202 `{"ids": [...]}`.
pub async fn create(state: &AppState, request: Request<Incoming>) -> Reply {
    let body = read_json(state, request).await?;
    let records =
        records_from_json(body, OffsetDateTime::now_utc()).map_err(GatewayError::InvalidRequest)?;
    let ids: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
    for record in records {
        state.sink.submit(record);
    }
    Ok(json(StatusCode::ACCEPTED, &json!({"ids": ids})))
}
