//! `POST /v1/chat/completions`: take a place under the concurrency limit, read the body
//! (bounded), parse, route, hand to [`crate::respond`].

use http::{HeaderMap, Request, Response};
use hyper::body::Incoming;

use crate::http::body::ResponseBody;
use crate::http::error::GatewayError;
use crate::http::read_body::read_limited;
use crate::request::chat_request::ChatRequest;
use crate::request::trace::trace_context;
use crate::request_log::RequestLog;
use crate::respond;
use crate::state::AppState;
use crate::telemetry::metrics;

/// Serves one chat completion; every path out of here ends the request's record.
pub async fn handle(state: &AppState, request: Request<Incoming>) -> Response<ResponseBody> {
    let mut log = RequestLog::start(&state.records);
    // A semaphore rather than tower's ConcurrencyLimit: that layer gives its permit back when
    // the response head is sent, and a stream is in flight until its record is written.
    match state.requests.clone().try_acquire_owned() {
        Ok(permit) => log.permit = Some(permit),
        Err(_) => {
            metrics::overload_rejected();
            let limit = state.config.server.max_concurrent_requests;
            return refuse(log, request.headers(), GatewayError::Overloaded { limit });
        }
    }
    let live = state.live();
    let (parts, body) = request.into_parts();
    let bytes = match read_limited(body, live.config.server.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(e) => return refuse(log, &parts.headers, e),
    };
    let mut request = match ChatRequest::parse(&bytes, &parts.headers) {
        Ok(request) => request,
        Err(e) => return refuse(log, &parts.headers, e),
    };
    log.model.clone_from(&request.model);
    log.stream = request.stream;
    log.identity = std::mem::take(&mut request.identity);
    if log.traced() {
        log.trace = Some(trace_context(Some(&log.identity), &parts.headers));
    }
    log.labels = state.metadata_labels.values(&log.identity.metadata);
    log.metrics = log.metrics.labelled(&log.labels);
    let Some(route) = live.routes.resolve(&request.model) else {
        return log.reject(GatewayError::ModelNotFound(request.model));
    };
    log.metrics = route.unserved.labelled(&log.labels);
    respond::serve(&live, &route, request, log).await
}

/// Answers `error` to a request refused before its body was understood; with `[otel]` its
/// span takes the trace of its headers.
fn refuse(mut log: RequestLog, headers: &HeaderMap, error: GatewayError) -> Response<ResponseBody> {
    if log.traced() {
        log.trace = Some(trace_context(None, headers));
    }
    log.reject(error)
}
