//! The HTTP surface of SPEC sections 3 and 7, dispatched by method and path.

mod api;
mod chat;
mod health;
mod models;

use std::sync::Arc;

use http::{Method, Request, Response};
use hyper::body::Incoming;

use crate::body::ResponseBody;
use crate::error::GatewayError;
use crate::state::AppState;

/// Answers one request.
pub async fn dispatch(state: Arc<AppState>, request: Request<Incoming>) -> Response<ResponseBody> {
    match (request.method(), request.uri().path()) {
        (&Method::POST, "/v1/chat/completions" | "/chat/completions") => {
            chat::handle(&state, request).await
        }
        (&Method::GET, "/v1/models" | "/models") => models::list(&state),
        (&Method::GET, "/healthz") => health::alive(),
        (&Method::GET, "/readyz") => health::ready(&state),
        (&Method::GET, "/metrics") => health::metrics(&state),
        (_, path) if crate::admin::is_api_path(path) => api::dispatch(state, request).await,
        (method, path) => GatewayError::NotFound {
            method: method.to_string(),
            path: path.to_owned(),
        }
        .response(),
    }
}
