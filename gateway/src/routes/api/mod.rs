//! The logs API (SPEC section 7), under `/api/`: listing, reading, threads, traces, scores,
//! export and ingest. [`crate::admin`] has already checked the caller; every store call runs on a
//! blocking thread through [`crate::store_pool`].

mod export;
mod ingest;
mod logs;
mod scores;
mod threads;
mod traces;

use std::sync::Arc;

use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::Value;

use crate::body::{self, ResponseBody};
use crate::error::GatewayError;
use crate::state::AppState;

/// What an API handler answers.
type Reply = Result<Response<ResponseBody>, GatewayError>;

/// Answers one request under `/api/`.
pub async fn dispatch(state: Arc<AppState>, request: Request<Incoming>) -> Response<ResponseBody> {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let reply = match segments(&path) {
        Ok(segments) => route(&state, &method, &path, &segments, request).await,
        Err(e) => Err(e),
    };
    reply.unwrap_or_else(|e| e.response())
}

async fn route(
    state: &Arc<AppState>,
    method: &Method,
    path: &str,
    segments: &[String],
    request: Request<Incoming>,
) -> Reply {
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    match (method, segments.as_slice()) {
        (&Method::GET, ["logs"]) => logs::list(state, &query_pairs(&request)).await,
        (&Method::POST, ["logs"]) => ingest::create(state, request).await,
        (&Method::GET, ["logs", id]) => logs::get(state, id).await,
        (&Method::POST, ["logs", id, "scores"]) => scores::put(state, id, request).await,
        (&Method::GET, ["threads", thread]) => threads::get(state, thread).await,
        (&Method::GET, ["traces", trace]) => traces::get(state, trace).await,
        (&Method::GET, ["export"]) => export::stream(state, &query_pairs(&request)).await,
        _ => Err(GatewayError::NotFound {
            method: method.to_string(),
            path: path.to_owned(),
        }),
    }
}

/// The path after `/api/`, split on `/` and percent-decoded.
fn segments(path: &str) -> Result<Vec<String>, GatewayError> {
    let rest = path.strip_prefix("/api/").unwrap_or("");
    rest.split('/')
        .map(|segment| {
            percent_encoding::percent_decode_str(segment)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| {
                    GatewayError::InvalidRequest(format!(
                        "the path segment {segment:?} is not UTF-8 once decoded"
                    ))
                })
        })
        .collect()
}

/// The query string's pairs, decoded, in order.
fn query_pairs<B>(request: &Request<B>) -> Vec<(String, String)> {
    request
        .uri()
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default()
}

/// Reads a JSON request body of at most `server.max_body_bytes`.
async fn read_json(state: &AppState, request: Request<Incoming>) -> Result<Value, GatewayError> {
    let limit = state.config.server.max_body_bytes;
    let bytes = match Limited::new(request.into_body(), limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return Err(GatewayError::BodyTooLarge { limit });
        }
        Err(e) => return Err(GatewayError::BodyRead(e.to_string())),
    };
    serde_json::from_slice(&bytes)
        .map_err(|e| GatewayError::InvalidRequest(format!("the body is not valid JSON: {e}")))
}

/// A JSON response.
fn json(status: StatusCode, value: &Value) -> Response<ResponseBody> {
    let mut response = Response::new(body::full(value.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_queries_are_decoded() {
        assert_eq!(
            segments("/api/threads/call%2F7%20x").unwrap(),
            vec!["threads", "call/7 x"]
        );
        assert!(segments("/api/logs/%FF").is_err());
        let request = Request::builder()
            .uri("/api/logs?metadata.lang=es%20MX&limit=5&cursor=a%2Bb")
            .body(())
            .unwrap();
        assert_eq!(
            query_pairs(&request),
            vec![
                ("metadata.lang".to_owned(), "es MX".to_owned()),
                ("limit".to_owned(), "5".to_owned()),
                ("cursor".to_owned(), "a+b".to_owned()),
            ]
        );
    }
}
