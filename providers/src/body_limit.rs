//! `server.max_upstream_body_bytes`: a bound on what an upstream may make the gateway hold in
//! memory for a whole answer or an error body (one SSE event is bounded by
//! [`crate::sse_decode::sse_events`]).

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use http_body_util::BodyExt;

use crate::error::ProviderError;
use crate::http_client::{UpstreamResponse, describe_body};

/// The whole body of `response`, or [`ProviderError::TooLarge`] past `limit` bytes (checked
/// against `Content-Length` first, then as the bytes arrive).
pub async fn read_body(response: UpstreamResponse, limit: usize) -> Result<Bytes, ProviderError> {
    let length = response
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if length.is_some_and(|length| length > limit as u64) {
        return Err(ProviderError::TooLarge { limit });
    }
    let mut body = response.into_body();
    // One frame is the whole body of most answers: kept as it came, without a copy.
    let mut first: Option<Bytes> = None;
    let mut rest = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ProviderError::StreamCut {
            message: format!("response body broke off: {}", describe_body(&e)),
        })?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        let held = first.as_ref().map_or(0, Bytes::len) + rest.len();
        if held + data.len() > limit {
            return Err(ProviderError::TooLarge { limit });
        }
        if first.is_none() && rest.is_empty() {
            first = Some(data);
            continue;
        }
        if let Some(earlier) = first.take() {
            rest.extend_from_slice(&earlier);
        }
        rest.extend_from_slice(&data);
    }
    Ok(first.unwrap_or_else(|| rest.freeze()))
}

/// The body of a streamed `response`, its transport failures read as a broken stream.
pub(crate) fn body_stream(
    response: UpstreamResponse,
) -> impl Stream<Item = Result<Bytes, ProviderError>> + Send + 'static {
    response
        .into_body()
        .into_data_stream()
        .map(|chunk| chunk.map_err(|e| ProviderError::stream_broke(describe_body(&e))))
}
