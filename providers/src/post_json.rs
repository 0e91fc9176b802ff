//! One upstream POST of a JSON body, shared by every adapter: send, and turn a non-success
//! status into a [`ProviderError`] carrying the provider's message and Retry-After.

use reqwest::header::{HeaderMap, HeaderName};
use serde::Serialize;

use crate::error::ProviderError;
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

/// POSTs `body` to `url` with `headers` (and the trace context, when given); resolves with the
/// response once its head is in and its status is a success.
pub async fn post_json(
    client: &reqwest::Client,
    url: impl reqwest::IntoUrl,
    headers: &HeaderMap,
    trace: Option<UpstreamTrace<'_>>,
    body: Vec<u8>,
    body_limit: usize,
) -> Result<reqwest::Response, ProviderError> {
    let mut request = client
        .post(url)
        .headers(headers.clone())
        .header(http::header::CONTENT_TYPE, "application/json");
    if let Some(trace) = trace {
        request = request.header(TRACEPARENT, trace.traceparent);
        if let Some(state) = trace.tracestate {
            request = request.header(TRACESTATE, state);
        }
    }
    let response = request
        .body(body)
        .send()
        .await
        .map_err(|e| ProviderError::Connect {
            message: crate::headers::describe(&e),
        })?;
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
