//! Reading a failed upstream response into a [`ProviderError`]: status, message, Retry-After.

use std::time::{Duration, SystemTime};

use http::HeaderMap;
use serde_json::Value;

use switchboard_config::ErrorKind;

use crate::error::ProviderError;

/// The longest provider message kept in an error (the rest is cut).
const MAX_MESSAGE_CHARS: usize = 300;

/// Builds the error for a non-success `status` with `body`.
pub fn from_response(status: u16, headers: &HeaderMap, body: &[u8]) -> ProviderError {
    ProviderError::Status {
        status,
        message: message_of(body),
        retry_after: retry_after(headers),
        kind: classify(status, body),
    }
}

/// The error kinds a status alone does not tell, read from the provider's error code and
/// message: a prompt over the model's context, a content filter. OpenAI and Azure put a
/// `code` in `error`; Anthropic says it in `error.message`.
pub fn classify(status: u16, body: &[u8]) -> Option<ErrorKind> {
    if !(400..500).contains(&status) || status == 429 {
        return None;
    }
    let json: Value = serde_json::from_slice(body).ok()?;
    let error = json.get("error").unwrap_or(&json);
    let field = |name: &str| error.get(name).and_then(Value::as_str).unwrap_or("");
    let code = field("code");
    let inner = error
        .pointer("/innererror/code")
        .and_then(Value::as_str)
        .unwrap_or("");
    let message = field("message").to_ascii_lowercase();
    if matches!(code, "context_length_exceeded" | "string_above_max_length")
        || message.contains("maximum context length")
        || message.contains("prompt is too long")
        || message.contains("context window")
    {
        return Some(ErrorKind::ContextLength);
    }
    if matches!(code, "content_filter" | "content_policy_violation")
        || inner == "ResponsibleAIPolicyViolation"
        || message.contains("content management policy")
    {
        return Some(ErrorKind::ContentFilter);
    }
    None
}

/// The provider's own error message: `error.message` (OpenAI and Anthropic shapes), else the
/// body text, trimmed to a sane length.
pub fn message_of(body: &[u8]) -> String {
    let from_json = serde_json::from_slice::<Value>(body).ok().and_then(|v| {
        v.pointer("/error/message")
            .or_else(|| v.get("message"))
            .or_else(|| v.get("error"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    let text = from_json.unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    truncate(text.trim())
}

fn truncate(text: &str) -> String {
    match text.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None if text.is_empty() => "(empty body)".to_owned(),
        None => text.to_owned(),
    }
}

/// `retry-after-ms`, else `Retry-After` as seconds or an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(ms) = header("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        return (ms.is_finite() && ms >= 0.0).then(|| Duration::from_secs_f64(ms / 1000.0));
    }
    let value = header("retry-after")?;
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_too_long_and_content_filters_are_told_apart_from_other_4xx() {
        let openai = br#"{"error":{"message":"This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens.","type":"invalid_request_error","code":"context_length_exceeded"}}"#;
        assert_eq!(classify(400, openai), Some(ErrorKind::ContextLength));
        let anthropic = br#"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"}}"#;
        assert_eq!(classify(400, anthropic), Some(ErrorKind::ContextLength));
        let azure = br#"{"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI's content management policy.","type":null,"param":"prompt","code":"content_filter","status":400,"innererror":{"code":"ResponsibleAIPolicyViolation"}}}"#;
        assert_eq!(classify(400, azure), Some(ErrorKind::ContentFilter));
        let openai_policy = br#"{"error":{"message":"Your request was rejected as a result of our safety system.","type":"invalid_request_error","code":"content_policy_violation"}}"#;
        assert_eq!(classify(400, openai_policy), Some(ErrorKind::ContentFilter));
        let plain =
            br#"{"error":{"message":"Invalid value for 'temperature'","code":"invalid_value"}}"#;
        assert_eq!(classify(400, plain), None);
        assert_eq!(classify(500, openai), None, "a 5xx stays a 5xx");
        let err = from_response(400, &HeaderMap::new(), openai);
        assert_eq!(err.kind(), ErrorKind::ContextLength);
    }

    #[test]
    fn reads_openai_error_messages_and_retry_after() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "2".parse().unwrap());
        let err = from_response(
            429,
            &headers,
            br#"{"error":{"message":"slow down","type":"rate_limit_error"}}"#,
        );
        assert_eq!(err.status(), Some(429));
        assert_eq!(err.retry_after(), Some(Duration::from_secs(2)));
        assert!(err.to_string().contains("slow down"));
    }

    #[test]
    fn long_or_empty_bodies_are_tamed() {
        assert_eq!(message_of(b""), "(empty body)");
        let long = "x".repeat(1000);
        assert!(message_of(long.as_bytes()).chars().count() <= MAX_MESSAGE_CHARS + 1);
    }
}
