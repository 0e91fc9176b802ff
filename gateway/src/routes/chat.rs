//! `POST /v1/chat/completions`: read the body (bounded), parse, route, hand to the engine.

use http::{Request, Response};
use hyper::body::Incoming;
use switchboard_record::RequestStatus;

use crate::http::body::ResponseBody;
use crate::http::error::GatewayError;
use crate::http::read_body::read_limited;
use crate::request::chat_request::ChatRequest;
use crate::request_log::RequestLog;
use crate::respond;
use crate::state::AppState;

/// Serves one chat completion; every path out of here ends the request's record.
pub async fn handle(state: &AppState, request: Request<Incoming>) -> Response<ResponseBody> {
    let mut log = RequestLog::start(state.sink.clone(), state.config.logging.capture_bodies);
    let (parts, body) = request.into_parts();
    let bytes = match read_limited(body, state.config.server.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(e) => return reject(log, e),
    };
    let mut request = match ChatRequest::parse(&bytes, &parts.headers) {
        Ok(request) => request,
        Err(e) => return reject(log, e),
    };
    log.model.clone_from(&request.model);
    log.stream = request.stream;
    log.identity = std::mem::take(&mut request.identity);
    let Some(route) = state.routes.resolve(&request.model) else {
        return reject(log, GatewayError::ModelNotFound(request.model));
    };
    log.routed = true;
    respond::serve(state, &route, request, log).await
}

fn reject(log: RequestLog, error: GatewayError) -> Response<ResponseBody> {
    let mut response = error.response();
    // The rejection has a record too: name it, as every other answer does.
    if let Ok(id) = http::HeaderValue::from_str(&log.id) {
        response
            .headers_mut()
            .insert("x-switchboard-request-id", id);
    }
    log.finish(
        RequestStatus::Error,
        error.status().as_u16(),
        Some(error.to_string()),
    );
    response
}
