//! An OpenTelemetry collector for the stories: it takes OTLP/HTTP protobuf exports on a free
//! port (`POST /v1/traces`), decodes them with the `opentelemetry-proto` definitions and keeps
//! every span, plus each export's raw body and headers. It can be told to fail (any status),
//! to hang, or to stop listening.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use prost::Message;
use serde_json::{Map, Value, json};
use tokio::sync::oneshot;

/// One span as received, with its ids as lowercase hex (the parent empty for a root).
#[derive(Debug, Clone)]
pub struct ReceivedSpan {
    /// The span's name.
    pub name: String,
    /// 32 hex digits.
    pub trace_id: String,
    /// 16 hex digits.
    pub span_id: String,
    /// 16 hex digits, or empty.
    pub parent_span_id: String,
    /// `server`, `client`, `internal`, ...
    pub kind: &'static str,
    /// Attributes, values as JSON (arrays for array values).
    pub attributes: Map<String, Value>,
    /// Events: name and attributes.
    pub events: Vec<(String, Map<String, Value>)>,
    /// `unset`, `ok` or `error`.
    pub status: &'static str,
    /// The status message.
    pub status_message: String,
    /// The resource's `service.name`.
    pub service_name: String,
    /// Start and end, in Unix nanoseconds.
    pub start_ns: u64,
    /// End, in Unix nanoseconds.
    pub end_ns: u64,
}

impl ReceivedSpan {
    /// An attribute's value (`Null` when absent).
    pub fn attr(&self, key: &str) -> &Value {
        self.attributes.get(key).unwrap_or(&Value::Null)
    }
}

/// One export request as received.
#[derive(Debug, Clone)]
pub struct Export {
    /// The request headers.
    pub headers: http::HeaderMap,
    /// The raw protobuf body.
    pub body: Bytes,
}

#[derive(Default)]
struct Received {
    spans: Vec<ReceivedSpan>,
    exports: Vec<Export>,
}

/// A running collector.
pub struct OtlpReceiver {
    addr: SocketAddr,
    received: Arc<Mutex<Received>>,
    answer: Arc<AtomicU16>,
    stop: Option<oneshot::Sender<()>>,
}

impl OtlpReceiver {
    /// Listens on a free loopback port.
    pub async fn start() -> OtlpReceiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a free port for the collector");
        let addr = listener.local_addr().expect("collector address");
        let received = Arc::new(Mutex::new(Received::default()));
        let answer = Arc::new(AtomicU16::new(200));
        let (stop, mut stopped) = oneshot::channel::<()>();
        let (shared, status) = (received.clone(), answer.clone());
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = &mut stopped => return,
                    accepted = listener.accept() => accepted,
                };
                let Ok((socket, _)) = accepted else { continue };
                let (shared, status) = (shared.clone(), status.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        handle(request, shared.clone(), status.clone())
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(socket), service)
                        .await;
                });
            }
        });
        OtlpReceiver {
            addr,
            received,
            answer,
            stop: Some(stop),
        }
    }

    /// The base endpoint for `[otel] endpoint`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Answers every later export with `status` (200 to accept again; 0 never answers).
    pub fn answer_with(&self, status: u16) {
        self.answer.store(status, Ordering::SeqCst);
    }

    /// Stops listening: later exports find no collector.
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        lock(&self.received).spans.clone()
    }

    /// Every export received so far (including refused ones).
    pub fn exports(&self) -> Vec<Export> {
        lock(&self.received).exports.clone()
    }

    /// Waits until at least `n` spans arrived (panics after 10 s); returns all of them.
    pub async fn wait_for_spans(&self, n: usize) -> Vec<ReceivedSpan> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let spans = self.spans();
            if spans.len() >= n {
                return spans;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "expected {n} spans at the collector, got {}: {:#?}",
                spans.len(),
                spans.iter().map(|s| &s.name).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The spans of the trace `trace_id`.
    pub fn trace(&self, trace_id: &str) -> Vec<ReceivedSpan> {
        self.spans()
            .into_iter()
            .filter(|s| s.trace_id == trace_id)
            .collect()
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        self.stop();
    }
}

fn lock(received: &Mutex<Received>) -> std::sync::MutexGuard<'_, Received> {
    received.lock().unwrap_or_else(|p| p.into_inner())
}

async fn handle(
    request: Request<Incoming>,
    received: Arc<Mutex<Received>>,
    answer: Arc<AtomicU16>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await?.to_bytes();
    let status = answer.load(Ordering::SeqCst);
    let decoded = (parts.uri.path() == "/v1/traces")
        .then(|| ExportTraceServiceRequest::decode(body.clone()).ok())
        .flatten();
    {
        let mut received = lock(&received);
        received.exports.push(Export {
            headers: parts.headers.clone(),
            body,
        });
        if let (200, Some(request)) = (status, &decoded) {
            received.spans.extend(flatten(request));
        }
    }
    if status == 0 {
        // A collector that read the export and went quiet.
        std::future::pending::<()>().await;
    }
    let (status, body) = match (status, decoded) {
        (200, Some(_)) => (200, ExportTraceServiceResponse::default().encode_to_vec()),
        (200, None) => (400, b"not an OTLP trace export".to_vec()),
        (other, _) => (other, Vec::new()),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = http::StatusCode::from_u16(status).unwrap_or_default();
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/x-protobuf"),
    );
    Ok(response)
}

fn flatten(request: &ExportTraceServiceRequest) -> Vec<ReceivedSpan> {
    let mut out = Vec::new();
    for resource_spans in &request.resource_spans {
        let resource: Map<String, Value> = resource_spans
            .resource
            .as_ref()
            .map(|r| attributes(&r.attributes))
            .unwrap_or_default();
        let service_name = resource
            .get("service.name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        for scope_spans in &resource_spans.scope_spans {
            for span in &scope_spans.spans {
                let kind = match span.kind {
                    1 => "internal",
                    2 => "server",
                    3 => "client",
                    4 => "producer",
                    5 => "consumer",
                    _ => "unspecified",
                };
                let (status, status_message) = match &span.status {
                    Some(s) if s.code == 1 => ("ok", s.message.clone()),
                    Some(s) if s.code == 2 => ("error", s.message.clone()),
                    Some(s) => ("unset", s.message.clone()),
                    None => ("unset", String::new()),
                };
                out.push(ReceivedSpan {
                    name: span.name.clone(),
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                    kind,
                    attributes: attributes(&span.attributes),
                    events: span
                        .events
                        .iter()
                        .map(|e| (e.name.clone(), attributes(&e.attributes)))
                        .collect(),
                    status,
                    status_message,
                    service_name: service_name.clone(),
                    start_ns: span.start_time_unix_nano,
                    end_ns: span.end_time_unix_nano,
                });
            }
        }
    }
    out
}

fn attributes(list: &[KeyValue]) -> Map<String, Value> {
    list.iter()
        .map(|kv| (kv.key.clone(), kv.value.as_ref().map_or(Value::Null, value)))
        .collect()
}

fn value(v: &AnyValue) -> Value {
    match &v.value {
        Some(any_value::Value::StringValue(s)) => json!(s),
        Some(any_value::Value::BoolValue(b)) => json!(b),
        Some(any_value::Value::IntValue(i)) => json!(i),
        Some(any_value::Value::DoubleValue(d)) => json!(d),
        Some(any_value::Value::ArrayValue(a)) => Value::Array(a.values.iter().map(value).collect()),
        Some(any_value::Value::KvlistValue(kv)) => Value::Object(attributes(&kv.values)),
        Some(any_value::Value::BytesValue(b)) => json!(hex(b)),
        _ => Value::Null,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
