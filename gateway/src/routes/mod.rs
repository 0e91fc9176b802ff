//! The HTTP surface of SPEC section 3, dispatched by method and path; `/api/*` goes to the
//! [`Mount`] the binary put there (the logs API of SPEC section 7).

mod admin;
mod chat;
mod console;
mod health;
mod models;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use http::{Method, Request, Response};
use hyper::body::Incoming;

use crate::http::body::ResponseBody;
use crate::http::error::GatewayError;
use crate::state::AppState;

/// A service mounted under `/api/` (the logs API). The server has already checked the admin
/// key (or loopback) before a request reaches it.
pub trait Mount: Send + Sync + 'static {
    /// Answers one request whose path starts with `/api/`.
    fn call(
        self: Arc<Self>,
        request: Request<Incoming>,
    ) -> Pin<Box<dyn Future<Output = Response<ResponseBody>> + Send>>;
}

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
        (&Method::POST, "/api/admin/reload") => admin::reload(&state).await,
        (&Method::GET, "/api/admin/targets") => admin::targets(&state),
        (&Method::POST, "/api/admin/targets/disable") => {
            admin::set_target(&state, request, true).await
        }
        (&Method::POST, "/api/admin/targets/enable") => {
            admin::set_target(&state, request, false).await
        }
        (&Method::GET, path) if path.starts_with("/console") => {
            console::asset(path).unwrap_or_else(|| not_found(&Method::GET, path))
        }
        (method, path) if crate::server::guard::is_api_path(path) => match &state.api {
            Some(api) => api.clone().call(request).await,
            None => not_found(method, path),
        },
        (method, path) => not_found(method, path),
    }
}

fn not_found(method: &Method, path: &str) -> Response<ResponseBody> {
    GatewayError::NotFound {
        method: method.to_string(),
        path: path.to_owned(),
    }
    .response()
}
