//! Server-sent events as OpenAI's SDKs read them: `data: <json>\n\n`, ending `data: [DONE]\n\n`.

use bytes::{BufMut, Bytes, BytesMut};
use serde_json::json;
use switchboard_config::ErrorKind;

/// The closing event of a clean stream.
pub const DONE: &[u8] = b"data: [DONE]\n\n";

/// One `data:` event around `json` (one allocation, the JSON bytes copied once).
pub fn event(json: &[u8]) -> Bytes {
    let mut frame = BytesMut::with_capacity(json.len() + 8);
    frame.put_slice(b"data: ");
    frame.put_slice(json);
    frame.put_slice(b"\n\n");
    frame.freeze()
}

/// The error event that ends a stream which failed after its first content.
pub fn error_event(kind: ErrorKind, message: &str) -> Bytes {
    let body =
        json!({"error": {"message": message, "type": "upstream_error", "code": kind.as_str()}});
    event(body.to_string().as_bytes())
}
