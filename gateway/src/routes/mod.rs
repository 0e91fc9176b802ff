//! The HTTP surface of SPEC section 3, dispatched by method and path.

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
        (method, path) => GatewayError::NotFound {
            method: method.to_string(),
            path: path.to_owned(),
        }
        .response(),
    }
}
