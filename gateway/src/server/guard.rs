//! One tower layer that checks `Authorization: Bearer <key>` on the paths it guards. The server
//! stacks it twice ([`Guard::ClientKeys`], then [`Guard::AdminKey`]); every path a guard does
//! not cover passes through untouched, so health, readiness and metrics stay open.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use arc_swap::ArcSwap;
use http::{Request, Response};
use subtle::ConstantTimeEq;
use tower::{Layer, Service};

use crate::http::body::ResponseBody;
use crate::http::error::GatewayError;
use crate::live::Live;
use crate::request_log::{RecordContext, RequestLog};

/// The address of the peer a request came from, put in the request extensions by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

/// What a guard checks, and where.
#[derive(Clone)]
pub enum Guard {
    /// `server.api_keys` on `/v1/*` and the unprefixed OpenAI paths; with no keys, all pass.
    /// A refused chat request still gets its record (status 401) through `records`.
    ClientKeys {
        /// Where the accepted keys are read, per request.
        keys: Keys,
        /// Where the records of refused chat requests go.
        records: Option<Arc<RecordContext>>,
    },
    /// `server.admin_key` on `/api/*` (SPEC section 7); with no admin key, only loopback
    /// peers pass (403 otherwise).
    AdminKey(Keys),
}

/// Where a guard reads its keys: fixed ones, or the live config (so a reload rotates them).
#[derive(Clone)]
pub enum Keys {
    /// These client keys and this admin key, always.
    Fixed(Arc<[String]>, Option<Arc<str>>),
    /// Those of the config in effect.
    Live(Arc<ArcSwap<Live>>),
}

impl Keys {
    fn client(&self) -> Arc<[String]> {
        match self {
            Keys::Fixed(keys, _) => keys.clone(),
            Keys::Live(live) => live.load().client_keys.clone(),
        }
    }

    fn admin(&self) -> Option<Arc<str>> {
        match self {
            Keys::Fixed(_, admin) => admin.clone(),
            Keys::Live(live) => live.load().admin_key.clone(),
        }
    }
}

impl Guard {
    /// The client-key guard reading `keys`, recording refused chat requests in `records`.
    pub fn client_keys(keys: Keys, records: Option<Arc<RecordContext>>) -> Guard {
        Guard::ClientKeys { keys, records }
    }

    /// The admin guard reading `keys`.
    pub fn admin_key(keys: Keys) -> Guard {
        Guard::AdminKey(keys)
    }

    /// Why `request` is refused, if it is.
    fn refusal<B>(&self, request: &Request<B>) -> Option<GatewayError> {
        let path = request.uri().path();
        let header = request.headers().get(http::header::AUTHORIZATION);
        match self {
            Guard::ClientKeys { keys, .. } => {
                if !is_openai_path(path) {
                    return None;
                }
                let keys = keys.client();
                (!keys.is_empty() && !authorized(&keys, header))
                    .then_some(GatewayError::Unauthorized)
            }
            Guard::AdminKey(_) if !is_api_path(path) => None,
            Guard::AdminKey(keys) => match keys.admin() {
                Some(key) => {
                    (!authorized(&[key], header)).then_some(GatewayError::AdminUnauthorized)
                }
                None => self.loopback_only(request),
            },
        }
    }

    fn loopback_only<B>(&self, request: &Request<B>) -> Option<GatewayError> {
        let loopback = request
            .extensions()
            .get::<PeerAddr>()
            .is_some_and(|peer| peer.0.ip().to_canonical().is_loopback());
        (!loopback).then_some(GatewayError::AdminForbidden)
    }
}

/// True for the paths of the logs API.
pub fn is_api_path(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

fn is_chat_path(path: &str) -> bool {
    path == "/v1/chat/completions" || path == "/chat/completions"
}

fn is_openai_path(path: &str) -> bool {
    path.starts_with("/v1/") || path == "/chat/completions" || path == "/models"
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer_token(header: Option<&http::HeaderValue>) -> Option<&str> {
    header
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
}

/// True when `header` carries one of `keys`. Constant-time per key, and every key is
/// compared, so timing reveals nothing.
fn authorized<K: AsRef<str>>(keys: &[K], header: Option<&http::HeaderValue>) -> bool {
    let Some(token) = bearer_token(header) else {
        return false;
    };
    keys.iter().fold(false, |ok, key| {
        ok | bool::from(key.as_ref().as_bytes().ct_eq(token.as_bytes()))
    })
}

impl<S> Layer<S> for Guard {
    type Service = Guarded<S>;

    fn layer(&self, inner: S) -> Guarded<S> {
        Guarded {
            inner,
            guard: self.clone(),
        }
    }
}

/// The service made by a [`Guard`].
#[derive(Clone)]
pub struct Guarded<S> {
    inner: S,
    guard: Guard,
}

impl<S, B> Service<Request<B>> for Guarded<S>
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
        if let Some(error) = self.guard.refusal(&request) {
            let response = match &self.guard {
                Guard::ClientKeys {
                    records: Some(records),
                    ..
                } if is_chat_path(request.uri().path()) => RequestLog::start(records).reject(error),
                _ => error.response(),
            };
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

    fn fixed(client: &[&str], admin: Option<&str>) -> Keys {
        let client: Vec<String> = client.iter().map(|k| k.to_string()).collect();
        Keys::Fixed(client.into(), admin.map(Arc::from))
    }

    fn status(guard: &Guard, request: &Request<()>) -> Option<u16> {
        guard.refusal(request).map(|e| e.status().as_u16())
    }

    #[test]
    fn only_a_configured_bearer_key_passes() {
        let keys = vec!["k-one".to_owned(), "k-two".to_owned()];
        let header = |v: &str| http::HeaderValue::from_str(v).unwrap();
        assert!(authorized(&keys, Some(&header("Bearer k-two"))));
        assert!(!authorized(&keys, Some(&header("Bearer k-three"))));
        assert!(!authorized(&keys, Some(&header("k-one"))));
        assert!(!authorized(&keys, None));
    }

    #[test]
    fn client_keys_guard_the_openai_routes_only() {
        let guard = Guard::client_keys(fixed(&["k-one"], None), None);
        let open = Guard::client_keys(fixed(&[], None), None);
        let chat = "/v1/chat/completions";
        assert_eq!(status(&guard, &request(chat, None, None)), Some(401));
        assert_eq!(status(&guard, &request("/models", None, None)), Some(401));
        assert_eq!(
            status(&guard, &request(chat, None, Some("Bearer k-one"))),
            None
        );
        assert_eq!(status(&guard, &request("/healthz", None, None)), None);
        assert_eq!(status(&guard, &request("/api/logs", None, None)), None);
        assert_eq!(status(&open, &request(chat, None, None)), None);
    }

    #[test]
    fn the_admin_key_guards_only_the_api() {
        let guard = Guard::admin_key(fixed(&[], Some("adm-1")));
        let remote = Some("10.0.0.5:4000");
        assert_eq!(
            status(&guard, &request("/api/logs", remote, None)),
            Some(401)
        );
        assert_eq!(
            status(&guard, &request("/api/logs", remote, Some("Bearer nope"))),
            Some(401)
        );
        assert_eq!(
            status(&guard, &request("/api/logs", remote, Some("Bearer adm-1"))),
            None
        );
        assert_eq!(status(&guard, &request("/v1/models", remote, None)), None);
        assert_eq!(status(&guard, &request("/apiary", remote, None)), None);
    }

    #[test]
    fn without_an_admin_key_only_loopback_peers_pass() {
        let guard = Guard::admin_key(fixed(&[], None));
        for peer in ["127.0.0.1:1", "[::1]:1", "[::ffff:127.0.0.1]:1"] {
            assert_eq!(
                status(&guard, &request("/api/logs", Some(peer), None)),
                None
            );
        }
        assert_eq!(
            status(&guard, &request("/api/logs", Some("192.168.1.9:1"), None)),
            Some(403)
        );
        assert_eq!(status(&guard, &request("/api/logs", None, None)), Some(403));
        assert_eq!(
            status(&guard, &request("/healthz", Some("192.168.1.9:1"), None)),
            None
        );
    }
}
