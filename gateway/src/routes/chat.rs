//! `POST /v1/chat/completions`: read the body (bounded), parse, route, hand to the engine.

use http::{Request, Response};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use crate::body::ResponseBody;
use crate::chat_request::ChatRequest;
use crate::engine;
use crate::error::GatewayError;
use crate::record::RequestStatus;
use crate::request_log::RequestLog;
use crate::state::AppState;

/// Serves one chat completion; every path out of here ends the request's record.
pub async fn handle(state: &AppState, request: Request<Incoming>) -> Response<ResponseBody> {
    let mut log = RequestLog::start(state.sink.clone(), state.config.logging.capture_bodies);
    let (parts, body) = request.into_parts();
    let limit = state.config.server.max_body_bytes;
    let bytes = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return reject(log, GatewayError::BodyTooLarge { limit });
        }
        Err(e) => return reject(log, GatewayError::BodyRead(e.to_string())),
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
    engine::serve(state, &route, request, log).await
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
