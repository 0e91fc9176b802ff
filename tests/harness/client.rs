//! A small HTTP client for the stories: JSON in, status/headers/JSON out, and SSE read event by
//! event exactly as framed on the wire (`data: ...\n\n`).

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::header::HeaderMap;
use serde_json::Value;

/// Talks to one gateway.
#[derive(Clone)]
pub struct Client {
    base: String,
    http: reqwest::Client,
    key: Option<String>,
}

/// A whole response.
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// The body as text.
    pub text: String,
}

impl Reply {
    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text))
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Client {
    /// A client for `base` (`http://host:port`).
    pub fn new(base: &str) -> Client {
        crate::install_crypto();
        Client {
            base: base.to_owned(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("http client"),
            key: None,
        }
    }

    /// Sends `Authorization: Bearer <key>` from now on.
    pub fn with_key(mut self, key: &str) -> Client {
        self.key = Some(key.to_owned());
        self
    }

    fn post(&self, path: &str) -> reqwest::RequestBuilder {
        let request = self.http.post(format!("{}{path}", self.base));
        match &self.key {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
    }

    /// `POST /v1/chat/completions` with `body`.
    pub async fn chat(&self, body: &Value) -> Reply {
        self.chat_with(body, &[]).await
    }

    /// `POST /v1/chat/completions` with `body` and extra headers.
    pub async fn chat_with(&self, body: &Value, headers: &[(&str, &str)]) -> Reply {
        let mut request = self
            .post("/v1/chat/completions")
            .header("content-type", "application/json")
            .body(body.to_string());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        reply(request.send().await.expect("request sent")).await
    }

    /// `POST path` with a raw body.
    pub async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> Reply {
        let request = self
            .post(path)
            .header("content-type", "application/json")
            .body(body);
        reply(request.send().await.expect("request sent")).await
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Reply {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(key) = &self.key {
            request = request.bearer_auth(key);
        }
        reply(request.send().await.expect("request sent")).await
    }

    /// `POST /v1/chat/completions` with `stream: true` set; resolves when the head arrives.
    pub async fn stream(&self, body: &Value) -> SseStream {
        self.stream_with(body, &[]).await
    }

    /// As [`Client::stream`], with extra headers.
    pub async fn stream_with(&self, body: &Value, headers: &[(&str, &str)]) -> SseStream {
        let mut body = body.clone();
        body["stream"] = Value::Bool(true);
        let mut request = self
            .post("/v1/chat/completions")
            .header("content-type", "application/json")
            .body(body.to_string());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("request sent");
        SseStream {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: Box::pin(response.bytes_stream()),
            buffer: Vec::new(),
            raw: String::new(),
        }
    }
}

async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    Reply {
        status,
        headers,
        text,
    }
}

type ByteStream =
    std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>;

/// A streamed response read one SSE event at a time.
pub struct SseStream {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    body: ByteStream,
    buffer: Vec<u8>,
    /// Everything read so far, as received.
    pub raw: String,
}

/// How a stream read to its end looked.
#[derive(Debug)]
pub struct StreamEnd {
    /// Each event's `data:` payload, in order (`[DONE]` included).
    pub events: Vec<String>,
    /// The raw body.
    pub raw: String,
    /// True when the body broke off with a transport error.
    pub broken: bool,
}

impl StreamEnd {
    /// True when the last event is `[DONE]`.
    pub fn done(&self) -> bool {
        self.events.last().is_some_and(|e| e == "[DONE]")
    }

    /// The events as JSON, `[DONE]` left out.
    pub fn chunks(&self) -> Vec<Value> {
        self.events
            .iter()
            .filter(|e| *e != "[DONE]")
            .map(|e| serde_json::from_str(e).unwrap_or_else(|_| panic!("event is not JSON: {e}")))
            .collect()
    }

    /// The content deltas of choice 0 joined.
    pub fn content(&self) -> String {
        self.chunks()
            .iter()
            .filter_map(|c| {
                c.pointer("/choices/0/delta/content")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .collect()
    }
}

impl SseStream {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The next event's `data:` payload; `None` at the end of the body (or on a broken body).
    pub async fn next_event(&mut self) -> Option<String> {
        loop {
            if let Some(end) = find(&self.buffer, b"\n\n") {
                let event: Vec<u8> = self.buffer.drain(..end + 2).collect();
                let text = String::from_utf8_lossy(&event).into_owned();
                let data: Vec<&str> = text
                    .lines()
                    .filter_map(|l| l.strip_prefix("data: ").or_else(|| l.strip_prefix("data:")))
                    .collect();
                if data.is_empty() {
                    continue; // a comment or keep-alive
                }
                return Some(data.join("\n"));
            }
            match self.body.next().await {
                Some(Ok(bytes)) => {
                    self.raw.push_str(&String::from_utf8_lossy(&bytes));
                    self.buffer.extend_from_slice(&bytes);
                }
                _ => return None,
            }
        }
    }

    /// Reads to the end.
    pub async fn finish(mut self) -> StreamEnd {
        let mut events = Vec::new();
        while let Some(event) = self.next_event().await {
            events.push(event);
        }
        let broken = !self.buffer.is_empty();
        StreamEnd {
            events,
            raw: self.raw,
            broken,
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
