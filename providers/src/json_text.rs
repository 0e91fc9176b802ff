//! JSON bytes as text for `serde_json::from_str`: one UTF-8 check of the whole is cheaper than
//! `from_slice`'s check of every string in it (~90 instructions a string, ~900 per stream
//! chunk under callgrind). Used for chunks, whole answers and the gateway's request bodies.

/// `data` as text, or serde_json's error for bytes that are not UTF-8.
pub fn json_text(data: &[u8]) -> Result<&str, serde_json::Error> {
    std::str::from_utf8(data).map_err(<serde_json::Error as serde::de::Error>::custom)
}
