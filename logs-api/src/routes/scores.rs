//! `POST /api/logs/{id}/scores`: one score per evaluator per log (a second write replaces it).

use http::{Request, StatusCode};
use hyper::body::Incoming;
use switchboard_store::{Score, StoreError};

use switchboard_gateway::http::json::json_response;

use crate::store_pool::api_error;
use crate::{LogsApi, Reply, read_json};

/// Stores the score in the body and answers the log with all its scores; 404 for an unknown log.
pub async fn put(api: &LogsApi, id: &str, request: Request<Incoming>) -> Reply {
    let body = read_json(api, request).await?;
    let score = Score::from_json(&body).map_err(api_error)?;
    let key = id.to_owned();
    let record = api
        .store
        .run(move |store| {
            store.put_score(&key, &score)?;
            store.get(&key)?.ok_or(StoreError::NotFound(key))
        })
        .await?;
    Ok(json_response(StatusCode::OK, &record))
}
