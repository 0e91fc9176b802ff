//! `server.max_upstream_body_bytes`: bounds on what an upstream may make the gateway hold in
//! memory: a whole answer, an error body, or one SSE event (the SSE decoder buffers an event
//! until its blank line, so an endless event would otherwise grow without bound).

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};

use crate::error::ProviderError;

/// Why a bounded upstream body stopped.
#[derive(Debug)]
pub enum BodyError {
    /// The connection failed while the body was being read.
    Transport(reqwest::Error),
    /// The body (or one event of it) passed the limit.
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
}

impl From<BodyError> for ProviderError {
    fn from(error: BodyError) -> ProviderError {
        match error {
            BodyError::Transport(e) => ProviderError::stream_broke(crate::headers::describe(&e)),
            BodyError::TooLarge { limit } => ProviderError::TooLarge { limit },
        }
    }
}

/// The whole body of `response`, or [`ProviderError::TooLarge`] past `limit` bytes (checked
/// against `Content-Length` first, then as the bytes arrive).
pub async fn read_body(response: reqwest::Response, limit: usize) -> Result<Bytes, ProviderError> {
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Err(ProviderError::TooLarge { limit });
    }
    let mut body = BytesMut::new();
    let mut chunks = response.bytes_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| ProviderError::StreamCut {
            message: format!("response body broke off: {}", crate::headers::describe(&e)),
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ProviderError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// `body`, failing with [`BodyError::TooLarge`] once the bytes since the last blank line (one
/// SSE event in the making) pass `limit`.
pub fn limit_events<S>(body: S, limit: usize) -> impl Stream<Item = Result<Bytes, BodyError>>
where
    S: Stream<Item = reqwest::Result<Bytes>>,
{
    let mut event = EventLength::default();
    let mut failed = false;
    body.map(move |chunk| {
        if failed {
            return Err(BodyError::TooLarge { limit });
        }
        let chunk = chunk.map_err(BodyError::Transport)?;
        if event.feed(&chunk) > limit {
            failed = true;
            return Err(BodyError::TooLarge { limit });
        }
        Ok(chunk)
    })
}

/// Counts the bytes of the SSE event being received: reset by each blank line (`\n\n`,
/// `\r\n\r\n`, or a line holding only `\r`).
#[derive(Debug, Default)]
pub(crate) struct EventLength {
    /// Bytes since the last blank line.
    event: usize,
    /// Bytes of the current line so far (not counting its `\n`).
    line: usize,
    /// The current line is a lone `\r` so far.
    line_is_cr: bool,
}

impl EventLength {
    /// Takes the next bytes; returns the length of the longest event seen in them (a whole
    /// event may arrive, and end, within one chunk).
    pub(crate) fn feed(&mut self, bytes: &[u8]) -> usize {
        let mut longest = 0;
        let mut start = 0;
        for newline in memchr::memchr_iter(b'\n', bytes) {
            let segment = &bytes[start..newline];
            let blank = (self.line == 0 && (segment.is_empty() || segment == b"\r"))
                || (self.line == 1 && self.line_is_cr && segment.is_empty());
            if blank {
                self.event = 0;
            } else {
                self.event += segment.len() + 1;
                longest = longest.max(self.event);
            }
            self.line = 0;
            self.line_is_cr = false;
            start = newline + 1;
        }
        let rest = &bytes[start..];
        if !rest.is_empty() {
            self.line_is_cr = self.line == 0 && rest == b"\r";
            self.line += rest.len();
            self.event += rest.len();
        }
        longest.max(self.event)
    }
}

#[cfg(test)]
mod tests {
    use super::EventLength;

    #[test]
    fn blank_lines_end_events_whatever_the_line_endings_and_chunking() {
        let mut length = EventLength::default();
        assert_eq!(length.feed(b"data: 12345\n\n"), 12);
        assert_eq!(length.feed(b"data: ab"), 8);
        assert_eq!(length.feed(b"c\n"), 10);
        assert_eq!(length.feed(b"\n"), 0);
        assert_eq!(length.feed(b"data: x\r\n\r\n"), 9);
        assert_eq!(length.feed(b"data: w"), 7);
        assert_eq!(length.feed(b"\r\n\r\ndata: x\r\n\r"), 10);
        assert_eq!(length.feed(b"\n"), 0);
        assert_eq!(length.feed(b"data: y\n"), 8);
        assert_eq!(length.feed(b"data: z\n"), 16);
    }
}
