//! A tower layer that guards the logs API (`/api/*`, SPEC section 7).
//!
//! With `server.admin_key` set, a request needs `Authorization: Bearer <admin_key>` (compared in
//! constant time), else 401. Without an admin key, `/api/*` answers only to loopback peers (the
//! server puts each connection's [`PeerAddr`] in the request extensions), else 403. Every other
//! path passes through untouched.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower::{Layer, Service};

use crate::body::ResponseBody;
use crate::error::GatewayError;

/// The address of the peer a request came from, put in the request extensions by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

/// Guards `/api/*` with the admin key, or with loopback-only access when there is none.
#[derive(Clone)]
pub struct AdminLayer {
    key: Option<Arc<str>>,
}

impl AdminLayer {
    /// Requires `key` on `/api/*`; `None` allows loopback peers only.
    pub fn new(key: Option<String>) -> AdminLayer {
        AdminLayer {
            key: key.map(Arc::from),
        }
    }
}

impl<S> Layer<S> for AdminLayer {
    type Service = Admin<S>;

    fn layer(&self, inner: S) -> Admin<S> {
        Admin {
            inner,
            key: self.key.clone(),
        }
    }
}

/// The service made by [`AdminLayer`].
#[derive(Clone)]
pub struct Admin<S> {
    inner: S,
    key: Option<Arc<str>>,
}

/// True for the paths of the logs API.
pub fn is_api_path(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// Why a request to `/api/*` is refused, if it is.
fn refusal<B>(key: Option<&str>, request: &Request<B>) -> Option<GatewayError> {
    if !is_api_path(request.uri().path()) {
        return None;
    }
    match key {
        Some(key) => {
            let header = request.headers().get(http::header::AUTHORIZATION);
            let ok = crate::auth::authorized(&[key], header);
            (!ok).then_some(GatewayError::AdminUnauthorized)
        }
        None => {
            let loopback = request
                .extensions()
                .get::<PeerAddr>()
                .is_some_and(|peer| peer.0.ip().to_canonical().is_loopback());
            (!loopback).then_some(GatewayError::AdminForbidden)
        }
    }
}

impl<S, B> Service<Request<B>> for Admin<S>
where
    S: Service<Request<B>, Response = Response<ResponseBody>>,
    S::Future: Send + 'static,
{
    type Response = Response<ResponseBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        if let Some(error) = refusal(self.key.as_deref(), &request) {
            let response = error.response();
            return Box::pin(async move { Ok(response) });
        }
        Box::pin(self.inner.call(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(path: &str, peer: Option<&str>, auth: Option<&str>) -> Request<()> {
        let mut request = Request::builder().uri(path).body(()).unwrap();
        if let Some(peer) = peer {
            request
                .extensions_mut()
                .insert(PeerAddr(peer.parse().unwrap()));
        }
        if let Some(auth) = auth {
            request
                .headers_mut()
                .insert(http::header::AUTHORIZATION, auth.parse().unwrap());
        }
        request
    }

    fn status(key: Option<&str>, request: &Request<()>) -> Option<u16> {
        refusal(key, request).map(|e| e.status().as_u16())
    }

    #[test]
    fn the_admin_key_guards_only_the_api() {
        let key = Some("adm-1");
        let remote = Some("10.0.0.5:4000");
        assert_eq!(status(key, &request("/api/logs", remote, None)), Some(401));
        assert_eq!(
            status(key, &request("/api/logs", remote, Some("Bearer nope"))),
            Some(401)
        );
        assert_eq!(
            status(key, &request("/api/logs", remote, Some("Bearer adm-1"))),
            None
        );
        assert_eq!(status(key, &request("/v1/models", remote, None)), None);
        assert_eq!(status(key, &request("/apiary", remote, None)), None);
    }

    #[test]
    fn without_a_key_only_loopback_peers_pass() {
        for peer in ["127.0.0.1:1", "[::1]:1", "[::ffff:127.0.0.1]:1"] {
            assert_eq!(status(None, &request("/api/logs", Some(peer), None)), None);
        }
        assert_eq!(
            status(None, &request("/api/logs", Some("192.168.1.9:1"), None)),
            Some(403)
        );
        assert_eq!(status(None, &request("/api/logs", None, None)), Some(403));
        assert_eq!(
            status(None, &request("/healthz", Some("192.168.1.9:1"), None)),
            None
        );
    }
}
