//! The HTTP side of the load generator: one raw hyper HTTP/1.1 connection per worker (no pool,
//! no per-request allocation beyond the request head), and one request/response exchange with
//! its outcome classified.

use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpStream;

use crate::load::sse::SseScanner;

/// Where requests go: a socket address plus the `Host` header and request path.
#[derive(Debug, Clone)]
pub struct Target {
    /// Resolved address of the server.
    pub addr: SocketAddr,
    /// `host:port` as written, for the `Host` header.
    pub authority: String,
    /// Request path, ending in `/chat/completions`.
    pub path: String,
}

impl Target {
    /// Parses an `http://host:port/base` URL. `/chat/completions` is appended unless the path
    /// already ends with it (so an OpenAI base URL like `http://127.0.0.1:8080/v1` works).
    /// Only loopback addresses are accepted unless `allow_remote` is set.
    pub fn parse(url: &str, allow_remote: bool) -> Result<Target, String> {
        let uri: http::Uri = url.parse().map_err(|e| format!("bad --url {url:?}: {e}"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(other) => return Err(format!("--url: only http:// is supported, not {other}://")),
            None => return Err(format!("--url {url:?} needs a scheme (http://)")),
        }
        let authority = uri
            .authority()
            .ok_or_else(|| format!("--url {url:?} has no host"))?;
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let port = authority.port_u16().unwrap_or(80);
        let addr = (host, port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {host}: {e}"))?
            .next()
            .ok_or_else(|| format!("{host} resolves to no address"))?;
        if !allow_remote && !addr.ip().is_loopback() {
            return Err(format!(
                "--url resolves to {addr}, not a loopback address; pass --allow-remote to load a remote server"
            ));
        }
        let base = uri.path().trim_end_matches('/');
        let path = if base.ends_with("/chat/completions") {
            base.to_owned()
        } else {
            format!("{base}/chat/completions")
        };
        Ok(Target {
            addr,
            authority: authority.as_str().to_owned(),
            path,
        })
    }
}

/// The request every worker sends, prepared once.
#[derive(Debug, Clone)]
pub struct RequestTemplate {
    /// Where it goes.
    pub target: Target,
    /// Whether it asks for a stream.
    pub stream: bool,
    uri: http::Uri,
    headers: HeaderMap,
    body: Bytes,
}

impl RequestTemplate {
    /// A chat completion for `model` with one user message `prompt`, plus `extra` headers.
    pub fn new(
        target: Target,
        model: &str,
        prompt: &str,
        stream: bool,
        extra: &[(HeaderName, HeaderValue)],
    ) -> Result<RequestTemplate, String> {
        let body = json!({
            "model": model,
            "messages": [{"role": "user", "content": prompt}],
            "stream": stream,
        });
        let body = Bytes::from(body.to_string());
        let mut headers = HeaderMap::new();
        let host = HeaderValue::from_str(&target.authority)
            .map_err(|e| format!("bad host {:?}: {e}", target.authority))?;
        headers.insert(header::HOST, host);
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        if stream {
            headers.insert(
                header::ACCEPT,
                HeaderValue::from_static("text/event-stream"),
            );
        }
        for (name, value) in extra {
            headers.insert(name.clone(), value.clone());
        }
        let uri = target
            .path
            .parse()
            .map_err(|e| format!("bad path {:?}: {e}", target.path))?;
        Ok(RequestTemplate {
            target,
            stream,
            uri,
            headers,
            body,
        })
    }

    /// The request body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    fn request(&self) -> Request<Full<Bytes>> {
        let mut request = Request::new(Full::new(self.body.clone()));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = self.uri.clone();
        *request.headers_mut() = self.headers.clone();
        request
    }
}

/// Parses `name: value` (as given to `--header`).
pub fn parse_header(s: &str) -> Result<(HeaderName, HeaderValue), String> {
    let (name, value) = s
        .split_once(':')
        .ok_or_else(|| format!("--header {s:?}: expected `name: value`"))?;
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|e| format!("--header {s:?}: bad name: {e}"))?;
    let value = HeaderValue::from_str(value.trim())
        .map_err(|e| format!("--header {s:?}: bad value: {e}"))?;
    Ok((name, value))
}

/// Why a request did not count as OK.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorKind {
    /// The TCP connection (or HTTP handshake) could not be made.
    Connect,
    /// The request could not be sent or the response head never came (connection closed, reset).
    Io,
    /// `--timeout` passed before the response was complete.
    Timeout,
    /// A non-2xx status.
    Status(u16),
    /// The body broke off.
    Body,
    /// A stream carried an error event.
    StreamError,
    /// A stream ended without `data: [DONE]`.
    Incomplete,
    /// A stream ended without any content-bearing event.
    NoContent,
    /// Open loop: scheduled, but never sent before the run ended (the target fell behind).
    Unsent,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Connect => f.write_str("connect"),
            ErrorKind::Io => f.write_str("io"),
            ErrorKind::Timeout => f.write_str("timeout"),
            ErrorKind::Status(code) => write!(f, "status_{code}"),
            ErrorKind::Body => f.write_str("body"),
            ErrorKind::StreamError => f.write_str("stream_error"),
            ErrorKind::Incomplete => f.write_str("incomplete"),
            ErrorKind::NoContent => f.write_str("no_content"),
            ErrorKind::Unsent => f.write_str("unsent"),
        }
    }
}

/// One kept-alive HTTP/1.1 connection.
pub struct Conn {
    sender: http1::SendRequest<Full<Bytes>>,
}

impl Conn {
    /// Opens a connection (TCP_NODELAY on) and starts its driver task.
    pub async fn connect(addr: SocketAddr) -> io::Result<Conn> {
        let tcp = TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        let (sender, connection) = http1::handshake(TokioIo::new(tcp))
            .await
            .map_err(io::Error::other)?;
        tokio::spawn(async move {
            // Errors surface on the sender; nothing to add here.
            let _ = connection.await;
        });
        Ok(Conn { sender })
    }

    /// Waits until the connection can take a request; false when the server closed it (e.g.
    /// after `Connection: close`), so the worker opens a new one instead of counting an error
    /// for a request it never sent.
    pub async fn ready(&mut self) -> bool {
        self.sender.ready().await.is_ok()
    }
}

/// The result of one request.
#[derive(Debug, Clone, Copy)]
pub struct Exchange {
    /// `Ok` or why not.
    pub outcome: Result<(), ErrorKind>,
    /// When the first content-bearing SSE event arrived (streams).
    pub first_content: Option<Instant>,
    /// When the response was complete (or failed).
    pub end: Instant,
    /// Body bytes received.
    pub bytes: u64,
    /// Whether the connection can carry another request.
    pub reusable: bool,
}

impl Exchange {
    fn failed(kind: ErrorKind, bytes: u64, first_content: Option<Instant>) -> Exchange {
        Exchange {
            outcome: Err(kind),
            first_content,
            end: Instant::now(),
            bytes,
            reusable: false,
        }
    }
}

/// Sends the template's request on `conn` and reads the whole response, within `timeout`.
pub async fn exchange(conn: &mut Conn, template: &RequestTemplate, timeout: Duration) -> Exchange {
    match tokio::time::timeout(timeout, exchange_inner(conn, template)).await {
        Ok(exchange) => exchange,
        Err(_) => Exchange::failed(ErrorKind::Timeout, 0, None),
    }
}

async fn exchange_inner(conn: &mut Conn, template: &RequestTemplate) -> Exchange {
    if conn.sender.ready().await.is_err() {
        return Exchange::failed(ErrorKind::Io, 0, None);
    }
    let response = match conn.sender.send_request(template.request()).await {
        Ok(response) => response,
        Err(_) => return Exchange::failed(ErrorKind::Io, 0, None),
    };
    let status = response.status();
    let mut body = response.into_body();
    let mut scanner = (template.stream && status == StatusCode::OK).then(SseScanner::new);
    let mut bytes = 0u64;
    let mut first_content = None;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Exchange::failed(ErrorKind::Body, bytes, first_content);
        };
        if let Some(data) = frame.data_ref() {
            bytes += data.len() as u64;
            if let Some(scanner) = scanner.as_mut()
                && scanner.feed(data).first_content
            {
                first_content = Some(Instant::now());
            }
        }
    }
    let end = Instant::now();
    let outcome = if !status.is_success() {
        Err(ErrorKind::Status(status.as_u16()))
    } else {
        match &scanner {
            Some(s) if s.error() => Err(ErrorKind::StreamError),
            Some(s) if !s.done() => Err(ErrorKind::Incomplete),
            Some(s) if !s.content_seen() => Err(ErrorKind::NoContent),
            _ => Ok(()),
        }
    };
    Exchange {
        outcome,
        first_content,
        end,
        bytes,
        reusable: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_appends_path_and_refuses_remote() {
        let t = Target::parse("http://127.0.0.1:8080/v1", false).unwrap();
        assert_eq!(t.path, "/v1/chat/completions");
        assert_eq!(t.authority, "127.0.0.1:8080");
        assert_eq!(t.addr.port(), 8080);
        let t = Target::parse("http://localhost:9/v1/chat/completions/", false).unwrap();
        assert_eq!(t.path, "/v1/chat/completions");
        let t = Target::parse("http://127.0.0.1:9", false).unwrap();
        assert_eq!(t.path, "/chat/completions");
        assert!(Target::parse("https://127.0.0.1:9/v1", false).is_err());
        assert!(Target::parse("http://10.1.2.3:9/v1", false).is_err());
        assert!(Target::parse("http://10.1.2.3:9/v1", true).is_ok());
    }

    #[test]
    fn headers_parse() {
        let (n, v) = parse_header("x-portkey-provider: openai").unwrap();
        assert_eq!(n.as_str(), "x-portkey-provider");
        assert_eq!(v, "openai");
        assert!(parse_header("nocolon").is_err());
    }

    #[test]
    fn error_kind_names() {
        assert_eq!(ErrorKind::Status(503).to_string(), "status_503");
        assert_eq!(ErrorKind::NoContent.to_string(), "no_content");
    }
}
