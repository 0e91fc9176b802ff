//! Message content as Anthropic content blocks: text and refusal parts as text blocks, images
//! as image blocks, and system content as plain text.

use serde_json::{Value, json};

use super::translate;
use crate::error::ProviderError;

/// The text of a system message: a string, or text parts joined with newlines.
pub(super) fn plain_text(content: &Value, at: &str) -> Result<String, ProviderError> {
    match content {
        Value::String(text) => Ok(text.clone()),
        Value::Array(parts) => {
            let mut texts = Vec::with_capacity(parts.len());
            for (j, part) in parts.iter().enumerate() {
                match part_type(part) {
                    Some("text") => texts.push(part_text(part, &format!("{at}.content[{j}]"))?),
                    other => {
                        let kind = other.unwrap_or("(none)");
                        return Err(translate(format!(
                            "{at}.content[{j}]: a system part of type {kind} has no Anthropic form"
                        )));
                    }
                }
            }
            Ok(texts.join("\n"))
        }
        _ => Err(translate(format!(
            "{at}.content must be a string or an array"
        ))),
    }
}

fn part_type(part: &Value) -> Option<&str> {
    part.get("type").and_then(Value::as_str)
}

fn part_text(part: &Value, at: &str) -> Result<String, ProviderError> {
    part.get("text")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| translate(format!("{at}.text must be a string")))
}

/// Content blocks of a user or assistant message. Empty text is left out (the Messages API
/// refuses empty text blocks).
pub(super) fn content_blocks(
    content: Option<&Value>,
    at: &str,
) -> Result<Vec<Value>, ProviderError> {
    match content {
        None => Ok(Vec::new()),
        Some(Value::String(text)) if text.is_empty() => Ok(Vec::new()),
        Some(Value::String(text)) => Ok(vec![json!({"type": "text", "text": text})]),
        Some(Value::Array(parts)) => {
            let mut blocks = Vec::with_capacity(parts.len());
            for (j, part) in parts.iter().enumerate() {
                let at = format!("{at}.content[{j}]");
                match part_type(part) {
                    Some("text") | Some("refusal") => {
                        let key = if part_type(part) == Some("refusal") {
                            "refusal"
                        } else {
                            "text"
                        };
                        let text = part
                            .get(key)
                            .and_then(Value::as_str)
                            .ok_or_else(|| translate(format!("{at}.{key} must be a string")))?;
                        if !text.is_empty() {
                            blocks.push(json!({"type": "text", "text": text}));
                        }
                    }
                    Some("image_url") => {
                        let url = part
                            .get("image_url")
                            .and_then(|i| i.get("url").or(Some(i)))
                            .and_then(Value::as_str)
                            .ok_or_else(|| {
                                translate(format!("{at}.image_url.url must be a string"))
                            })?;
                        blocks.push(image_block(url, &at)?);
                    }
                    other => {
                        return Err(translate(format!(
                            "{at}: a content part of type {} has no Anthropic equivalent",
                            other.unwrap_or("(none)")
                        )));
                    }
                }
            }
            Ok(blocks)
        }
        Some(_) => Err(translate(format!(
            "{at}.content must be a string or an array"
        ))),
    }
}

/// An image block from a `data:` URL (base64 source) or an http(s) URL (url source).
fn image_block(url: &str, at: &str) -> Result<Value, ProviderError> {
    if let Some(rest) = url.strip_prefix("data:") {
        let (meta, data) = rest
            .split_once(',')
            .ok_or_else(|| translate(format!("{at}: the image data URL has no data")))?;
        let media_type = meta
            .strip_suffix(";base64")
            .filter(|m| !m.is_empty())
            .ok_or_else(|| {
                translate(format!(
                    "{at}: an image data URL must be data:<media type>;base64,<data>"
                ))
            })?;
        return Ok(json!({
            "type": "image",
            "source": {"type": "base64", "media_type": media_type, "data": data},
        }));
    }
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        return Ok(json!({"type": "image", "source": {"type": "url", "url": url}}));
    }
    Err(translate(format!(
        "{at}: an image URL must be a data: URL or an http(s) URL"
    )))
}

#[cfg(test)]
mod tests {
    use super::super::tests::translate_ok;
    use super::*;

    #[test]
    fn images_become_image_blocks() {
        let out = translate_ok(json!({"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "low"}},
        ]}]}));
        assert_eq!(
            out["messages"][0]["content"],
            json!([
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
            ])
        );
        assert!(image_block("ftp://x/y.png", "at").is_err());
        assert!(image_block("data:image/png,rawbytes", "at").is_err());
    }
}
