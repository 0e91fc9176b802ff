//! One upstream POST of a JSON body, shared by every adapter: send, and turn a non-success
//! status into a [`ProviderError`] carrying the provider's message and Retry-After.

use http::Uri;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Serialize;

use crate::error::ProviderError;
use crate::http_client::{HttpClient, UpstreamResponse};
use crate::provider::UpstreamTrace;
use crate::upstream_error;

/// W3C trace context headers, named once (a `&str` name is parsed and checked per request).
const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// Encodes `body` as JSON.
pub fn encode(body: &impl Serialize) -> Result<Vec<u8>, ProviderError> {
    serde_json::to_vec(body).map_err(|e| ProviderError::Translate {
        message: format!("cannot encode the request: {e}"),
    })
}

/// `url` as a request URI, or what is wrong with it (without the URL: a URL may carry a key).
pub fn parse_uri(url: &str) -> Result<Uri, ProviderError> {
    url.parse::<Uri>().map_err(|e| ProviderError::Connect {
        message: format!("the provider's URL is not valid: {e}"),
    })
}

/// POSTs `body` to `uri` with `headers` (and the trace context, when given); resolves with the
/// response once its head is in and its status is a success.
pub async fn post_json(
    client: &HttpClient,
    uri: Uri,
    headers: &HeaderMap,
    trace: Option<UpstreamTrace<'_>>,
    body: Vec<u8>,
    body_limit: usize,
) -> Result<UpstreamResponse, ProviderError> {
    let mut headers = headers.clone();
    if let Some(trace) = trace {
        // Both are ours or checked header text (the caller's tracestate passed the server's
        // header parser); a value that would not be a header is left out, not sent broken.
        if let Ok(value) = HeaderValue::from_str(trace.traceparent) {
            headers.insert(TRACEPARENT, value);
        }
        if let Some(value) = trace.tracestate.and_then(|s| HeaderValue::from_str(s).ok()) {
            headers.insert(TRACESTATE, value);
        }
    }
    let response = client.post_json(uri, headers, body).await?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let headers = response.headers().clone();
    let body = match crate::body_limit::read_body(response, body_limit).await {
        Ok(body) => body,
        Err(e @ ProviderError::TooLarge { .. }) => return Err(e),
        // The status says enough when its body broke off.
        Err(_) => bytes::Bytes::new(),
    };
    Err(upstream_error::from_response(
        status.as_u16(),
        &headers,
        &body,
    ))
}
