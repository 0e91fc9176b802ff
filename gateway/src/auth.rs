//! A tower layer that checks `Authorization: Bearer <key>` against `server.api_keys` on the
//! OpenAI routes. Health, readiness and metrics stay open; `/api/*` has its own admin key.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use subtle::ConstantTimeEq;
use tower::{Layer, Service};

use crate::body::ResponseBody;
use crate::error::GatewayError;

/// Requires a client key on `/v1/*` (and the unprefixed OpenAI paths) when keys are configured.
#[derive(Clone)]
pub struct ApiKeyLayer {
    keys: Arc<Vec<String>>,
}

impl ApiKeyLayer {
    /// Accepts any of `keys`; with none, every request passes.
    pub fn new(keys: Vec<String>) -> ApiKeyLayer {
        ApiKeyLayer {
            keys: Arc::new(keys),
        }
    }
}

impl<S> Layer<S> for ApiKeyLayer {
    type Service = ApiKey<S>;

    fn layer(&self, inner: S) -> ApiKey<S> {
        ApiKey {
            inner,
            keys: self.keys.clone(),
        }
    }
}

/// The service made by [`ApiKeyLayer`].
#[derive(Clone)]
pub struct ApiKey<S> {
    inner: S,
    keys: Arc<Vec<String>>,
}

fn guarded(path: &str) -> bool {
    path.starts_with("/v1/") || path == "/chat/completions" || path == "/models"
}

/// The token of an `Authorization: Bearer <token>` header.
pub(crate) fn bearer_token(header: Option<&http::HeaderValue>) -> Option<&str> {
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
pub(crate) fn authorized<K: AsRef<str>>(keys: &[K], header: Option<&http::HeaderValue>) -> bool {
    let Some(token) = bearer_token(header) else {
        return false;
    };
    keys.iter().fold(false, |ok, key| {
        ok | bool::from(key.as_ref().as_bytes().ct_eq(token.as_bytes()))
    })
}

impl<S, B> Service<Request<B>> for ApiKey<S>
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
        if !self.keys.is_empty()
            && guarded(request.uri().path())
            && !authorized(
                &self.keys,
                request.headers().get(http::header::AUTHORIZATION),
            )
        {
            let response = GatewayError::Unauthorized.response();
            return Box::pin(async move { Ok(response) });
        }
        Box::pin(self.inner.call(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_configured_bearer_key_passes() {
        let keys = vec!["k-one".to_owned(), "k-two".to_owned()];
        let header = |v: &str| http::HeaderValue::from_str(v).unwrap();
        assert!(authorized(&keys, Some(&header("Bearer k-two"))));
        assert!(!authorized(&keys, Some(&header("Bearer k-three"))));
        assert!(!authorized(&keys, Some(&header("k-one"))));
        assert!(!authorized(&keys, None));
    }
}
