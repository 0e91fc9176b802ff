//! Reading a request body into memory, never more than a limit.

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use crate::http::error::GatewayError;

/// The whole body, or `BodyTooLarge` past `limit` bytes (`server.max_body_bytes`).
pub async fn read_limited(body: Incoming, limit: usize) -> Result<Bytes, GatewayError> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            Err(GatewayError::BodyTooLarge { limit })
        }
        Err(e) => Err(GatewayError::BodyRead(e.to_string())),
    }
}
