//! Respan's own API under `/api/request-logs/` (SPEC section 14), so logging code written
//! against Respan's SDK (`client.spans.create_span`, `bulk_create_spans`, `list_spans`,
//! `retrieve_span`) works by changing its base URL. Records go through the same ingest
//! ([`crate::respan_log`]) and sink as `POST /api/logs`; lists use the same filters as
//! `GET /api/logs` ([`filters`]); answers are spans as the SDK parses them ([`span`]).

mod filters;
mod span;

use http::{Request, StatusCode};
use hyper::body::Incoming;
use serde_json::{Value, json};
use switchboard_store::{Order, Store, StoreError};
use time::OffsetDateTime;

use switchboard_gateway::http::json::json_response;

use crate::error::ApiError;
use crate::respan_log::record_from_json;
use crate::store_pool::api_error;
use crate::{LogsApi, Reply, read_json};

/// Spans per bulk request at most (Respan's own limit).
const MAX_BULK: usize = 500;
/// Spans per list page when `page_size` is not given, and at most.
const DEFAULT_PAGE_SIZE: usize = 50;
const MAX_PAGE_SIZE: usize = 1_000;

/// `POST /api/request-logs/`: one span, stored; answers 201 with the record as a span.
pub async fn create(api: &LogsApi, request: Request<Incoming>) -> Reply {
    let body = span::fold_create_body(read_json(api, request).await?);
    let record =
        record_from_json(body, OffsetDateTime::now_utc()).map_err(ApiError::InvalidRequest)?;
    let shown = serde_json::to_value(&record)
        .map_err(|e| ApiError::Internal(format!("cannot show the record: {e}")))?;
    api.sink.submit(record);
    Ok(json_response(StatusCode::CREATED, &span::span(shown)))
}

/// `POST /api/request-logs/bulk/` with `{"logs": [...]}`: each span on its own; 201 with
/// `success_count`, `error_count` and `errors` (by index) when any was accepted, else 400.
pub async fn bulk(api: &LogsApi, request: Request<Incoming>) -> Reply {
    let body = read_json(api, request).await?;
    let Some(Value::Array(logs)) = body.get("logs") else {
        return Err(ApiError::InvalidRequest(
            "the body must be {\"logs\": [...]}, a non-empty array of spans".to_owned(),
        ));
    };
    if logs.is_empty() || logs.len() > MAX_BULK {
        return Err(ApiError::InvalidRequest(format!(
            "`logs` must hold 1 to {MAX_BULK} spans, not {}",
            logs.len()
        )));
    }
    let now = OffsetDateTime::now_utc();
    let mut errors = Vec::new();
    let mut accepted = Vec::new();
    for (index, log) in logs.iter().enumerate() {
        match record_from_json(span::fold_create_body(log.clone()), now) {
            Ok(record) => accepted.push(record),
            Err(error) => errors.push(json!({"index": index, "error": error})),
        }
    }
    let answer = json!({
        "success_count": accepted.len(),
        "error_count": errors.len(),
        "errors": errors,
    });
    if accepted.is_empty() {
        return Ok(json_response(StatusCode::BAD_REQUEST, &answer));
    }
    for record in accepted {
        api.sink.submit(record);
    }
    Ok(json_response(StatusCode::CREATED, &answer))
}

/// `POST /api/request-logs/list/?page=&page_size=&start_time=&end_time=&log_type=&sort_by=`
/// with `{"filters": {...}}`: `{"results", "count", "next", "previous"}`.
pub async fn list(api: &LogsApi, pairs: &[(String, String)], request: Request<Incoming>) -> Reply {
    let body = read_optional_json(api, request).await?;
    let mut filter = filters::filter(body.get("filters"))?;
    let mut page = 1usize;
    let mut page_size = DEFAULT_PAGE_SIZE;
    let mut order = Order::NewestFirst;
    let mut include: Option<Vec<String>> = None;
    for (key, value) in pairs {
        match key.as_str() {
            "page" => page = whole(key, value, 1)?,
            "page_size" => page_size = whole(key, value, 1)?.min(MAX_PAGE_SIZE),
            "start_time" => filter.from = Some(time(key, value)?),
            "end_time" => filter.to = Some(time(key, value)?),
            "log_type" => {
                let log_type = switchboard_store::Field::parse("log_type").expect("a field");
                filter.conditions.push(
                    switchboard_store::Condition::new(
                        key,
                        log_type,
                        switchboard_store::Op::Eq,
                        &[value],
                    )
                    .map_err(api_error)?,
                );
            }
            "sort_by" => order = sort(value)?,
            "include_fields" => {
                include = Some(value.split(',').map(|f| f.trim().to_owned()).collect());
            }
            "environment" => {
                return Err(ApiError::InvalidRequest(
                    "`environment` is not kept by Switchboard: leave it out (every span is listed)"
                        .to_owned(),
                ));
            }
            _ => {}
        }
    }
    let offset = (page - 1).saturating_mul(page_size);
    let (count, results) = api
        .store
        .run(move |store: &mut Store| -> Result<_, StoreError> {
            let count = store.count(&filter)?;
            let results = store.page_at(&filter, order, offset, page_size)?;
            Ok((count, results))
        })
        .await?;
    let shown = offset + results.len();
    let link = |page: usize| format!("/api/request-logs/list/?page={page}&page_size={page_size}");
    let results: Vec<Value> = results
        .into_iter()
        .map(span::span)
        .map(|span| project(span, include.as_deref()))
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "results": results,
            "count": count,
            "next": (u64::try_from(shown).unwrap_or(u64::MAX) < count).then(|| link(page + 1)),
            "previous": (page > 1).then(|| link(page - 1)),
        }),
    ))
}

/// `GET /api/request-logs/{unique_id}/`: the span with its scores, or 404.
pub async fn get(api: &LogsApi, id: &str) -> Reply {
    let key = id.to_owned();
    match api.store.run(move |store| store.get(&key)).await? {
        Some(record) => Ok(json_response(StatusCode::OK, &span::span(record))),
        None => Err(ApiError::NotFound(format!("span {id} not found"))),
    }
}

/// A list request's body: the SDK always sends `{"filters": ...}`, a hand-made call may not.
async fn read_optional_json(api: &LogsApi, request: Request<Incoming>) -> Result<Value, ApiError> {
    let empty = request
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .is_some_and(|v| v == "0");
    if empty {
        return Ok(json!({}));
    }
    read_json(api, request).await
}

fn whole(key: &str, value: &str, min: usize) -> Result<usize, ApiError> {
    value
        .parse::<usize>()
        .ok()
        .filter(|n| *n >= min)
        .ok_or_else(|| {
            ApiError::InvalidRequest(format!(
                "`{key}` must be a whole number of at least {min}, not {value:?}"
            ))
        })
}

fn time(key: &str, value: &str) -> Result<String, ApiError> {
    // Checked by the store when the filter is used; a bad one is a 400 naming the key.
    switchboard_store::Filter::from_pairs([("from", value)])
        .map(|_| value.to_owned())
        .map_err(|_| {
            ApiError::InvalidRequest(format!("`{key}` must be an ISO 8601 time, not {value:?}"))
        })
}

fn sort(value: &str) -> Result<Order, ApiError> {
    match value {
        "-start_time" | "-timestamp" | "" => Ok(Order::NewestFirst),
        "start_time" | "timestamp" => Ok(Order::OldestFirst),
        other => Err(ApiError::InvalidRequest(format!(
            "`sort_by` {other:?} is not supported: Switchboard sorts by time (start_time, -start_time, timestamp, -timestamp)"
        ))),
    }
}

/// Only the fields `include_fields` names (and `id`, `unique_id`).
fn project(span: Value, include: Option<&[String]>) -> Value {
    let (Some(include), Value::Object(fields)) = (include, &span) else {
        return span;
    };
    let kept = fields
        .iter()
        .filter(|(k, _)| {
            k.as_str() == "id" || k.as_str() == "unique_id" || include.iter().any(|f| f == *k)
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Value::Object(kept)
}
