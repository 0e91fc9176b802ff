//! Incremental scan of an OpenAI chat-completions SSE body: when the first event with a
//! non-empty `delta.content` arrives, whether `data: [DONE]` came, and whether an error event
//! (`data: {"error": ...}`) was sent.

use memchr::memmem;
use serde_json::Value;

/// What a body frame brought.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Seen {
    /// The first content-bearing event was in this frame.
    pub first_content: bool,
}

/// Scans SSE bytes as they arrive, one frame at a time.
#[derive(Debug, Default)]
pub struct SseScanner {
    /// Bytes of an event not yet terminated by a blank line.
    pending: Vec<u8>,
    content_seen: bool,
    done: bool,
    error: bool,
    events: u64,
}

impl SseScanner {
    /// A scanner at the start of a body.
    pub fn new() -> Self {
        SseScanner::default()
    }

    /// Feeds the next frame of the body.
    pub fn feed(&mut self, frame: &[u8]) -> Seen {
        let mut seen = Seen::default();
        if self.pending.is_empty() {
            let rest = self.scan_events(frame, &mut seen);
            self.pending.extend_from_slice(rest);
        } else {
            let mut buf = std::mem::take(&mut self.pending);
            buf.extend_from_slice(frame);
            let consumed = buf.len() - self.scan_events(&buf, &mut seen).len();
            buf.drain(..consumed);
            self.pending = buf;
        }
        seen
    }

    /// Processes every complete event in `bytes`; returns the unterminated tail.
    fn scan_events<'a>(&mut self, mut bytes: &'a [u8], seen: &mut Seen) -> &'a [u8] {
        loop {
            let Some((end, sep)) = event_end(bytes) else {
                return bytes;
            };
            self.event(&bytes[..end], seen);
            bytes = &bytes[end + sep..];
        }
    }

    fn event(&mut self, event: &[u8], seen: &mut Seen) {
        self.events += 1;
        for line in event.split(|b| *b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let Some(data) = line.strip_prefix(b"data:") else {
                continue; // comments (`: keep-alive`), `event:`, `id:`
            };
            let data = data.strip_prefix(b" ").unwrap_or(data);
            if data == b"[DONE]" {
                self.done = true;
                continue;
            }
            // Parse only what can matter: events before the first content, and error events.
            let maybe_error = memmem::find(data, b"\"error\"").is_some();
            if self.content_seen && !maybe_error {
                continue;
            }
            let Ok(value) = serde_json::from_slice::<Value>(data) else {
                continue;
            };
            if value.get("error").is_some_and(|e| !e.is_null()) {
                self.error = true;
            }
            if !self.content_seen && has_content(&value) {
                self.content_seen = true;
                seen.first_content = true;
            }
        }
    }

    /// Whether a content-bearing event was seen.
    pub fn content_seen(&self) -> bool {
        self.content_seen
    }

    /// Whether `data: [DONE]` was seen.
    pub fn done(&self) -> bool {
        self.done
    }

    /// Whether an error event was seen.
    pub fn error(&self) -> bool {
        self.error
    }

    /// Complete events seen so far.
    pub fn events(&self) -> u64 {
        self.events
    }
}

/// Offset and length of the first event separator (`\n\n` or `\r\n\r\n`).
fn event_end(bytes: &[u8]) -> Option<(usize, usize)> {
    let lf = memmem::find(bytes, b"\n\n").map(|i| (i, 2));
    let crlf = memmem::find(bytes, b"\r\n\r\n").map(|i| (i, 4));
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(if b.0 < a.0 { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// Whether any choice carries a non-empty `delta.content`.
fn has_content(value: &Value) -> bool {
    value
        .get("choices")
        .and_then(Value::as_array)
        .is_some_and(|choices| {
            choices.iter().any(|c| {
                c.pointer("/delta/content")
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.is_empty())
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLE: &str = "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n";
    const CONTENT: &str = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n";

    #[test]
    fn first_content_across_split_frames() {
        let mut s = SseScanner::new();
        assert!(!s.feed(b": keep-alive\n\n").first_content);
        assert!(!s.feed(ROLE.as_bytes()).first_content);
        let (a, b) = CONTENT.split_at(20);
        assert!(!s.feed(a.as_bytes()).first_content);
        assert!(s.feed(b.as_bytes()).first_content);
        assert!(s.content_seen());
        // Later content is not "first" again.
        assert!(!s.feed(CONTENT.as_bytes()).first_content);
        assert!(!s.done());
        s.feed(b"data: [DONE]\n\n");
        assert!(s.done());
        assert!(!s.error());
        assert_eq!(s.events(), 5);
    }

    #[test]
    fn several_events_in_one_frame_and_crlf() {
        let mut s = SseScanner::new();
        let body = format!("{ROLE}{CONTENT}data: [DONE]\r\n\r\n");
        assert!(s.feed(body.as_bytes()).first_content);
        assert!(s.done());
    }

    #[test]
    fn error_event_after_content() {
        let mut s = SseScanner::new();
        s.feed(CONTENT.as_bytes());
        s.feed(b"data: {\"choices\":[{\"delta\":{\"content\":\"\\\"error\\\"\"}}]}\n\n");
        assert!(!s.error(), "content mentioning error is not an error event");
        s.feed(b"data: {\"error\": {\"message\": \"x\", \"code\": \"stall\"}}\n\n");
        assert!(s.error());
        assert!(!s.done());
    }
}
