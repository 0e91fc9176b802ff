//! The pooled HTTP client every adapter posts with: hyper-util's client over hyper-rustls
//! (rustls with the platform's verifier, HTTP/2 where the server offers it by ALPN, HTTP/1.1
//! otherwise), Nagle off, TCP keepalive, idle connections kept warm.
//!
//! The adapters used reqwest until [perf]; under callgrind its layers around this same hyper
//! client (the redirect layer re-parsing the URL of every request into a `url::Url`, twice,
//! even with redirects off; the request and response wrappers) cost ~25,000 instructions per
//! call, an eighth of a whole proxied request. An adapter builds its `Uri` and header map once
//! and this client sends them as they are. reqwest stays where a request's cost does not
//! matter (the OTLP exporter, the demo).

use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use http::{Method, Request, Response, Uri};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::error::ProviderError;

/// An upstream response whose head is in; its body is read as it arrives.
pub type UpstreamResponse = Response<Incoming>;

/// One pooled client for every upstream (cheap to clone: the pool is shared).
#[derive(Clone, Debug)]
pub struct HttpClient {
    inner: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl HttpClient {
    /// The gateway's client. Timeouts are the engine's, per attempt; only connecting has its
    /// own bound here.
    pub fn new() -> Result<HttpClient, ProviderError> {
        // Built without a default crypto provider (ring compiles faster and smaller than
        // aws-lc); install ring once per process. A second install is a no-op error, ignored.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(Some(Duration::from_secs(10)));
        tcp.set_keepalive(Some(Duration::from_secs(30)));
        let connector = HttpsConnectorBuilder::new()
            .try_with_platform_verifier()
            .map_err(|e| ProviderError::Connect {
                message: format!("cannot load the platform's TLS roots: {e}"),
            })?
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(tcp);
        let inner = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(1024)
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(connector);
        Ok(HttpClient { inner })
    }

    /// POSTs `body` as JSON to `uri` with `headers`; resolves once the response head is in.
    /// A redirect is returned as it came (a gateway must not re-send a completion, and its
    /// credentials, wherever a 3xx points).
    pub async fn post_json(
        &self,
        uri: Uri,
        mut headers: HeaderMap,
        body: Vec<u8>,
    ) -> Result<UpstreamResponse, ProviderError> {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let mut request = Request::new(Full::new(Bytes::from(body)));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = uri;
        *request.headers_mut() = headers;
        self.inner
            .request(request)
            .await
            .map_err(|e| ProviderError::Connect {
                message: describe(&e, e.is_connect()),
            })
    }
}

/// An HTTP error's text without the URL (a URL may carry a key): what failed, plus its root
/// cause.
pub fn describe(error: &(dyn std::error::Error + 'static), connecting: bool) -> String {
    let what = if connecting {
        "cannot connect"
    } else {
        "request failed"
    };
    format!("{what}: {}", root_cause(error))
}

/// The text of a body that broke off mid-read.
pub fn describe_body(error: &hyper::Error) -> String {
    let what = if error.is_timeout() {
        "timed out"
    } else {
        "body error"
    };
    format!("{what}: {}", root_cause(error))
}

/// The innermost error's text (the outer ones only wrap it), or the error's own.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut root = error;
    while let Some(cause) = root.source() {
        root = cause;
    }
    root.to_string()
}
