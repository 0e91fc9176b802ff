//! Fuzz targets: each takes arbitrary bytes and feeds them to one parser that reads what a
//! client, an upstream or an operator sends. A target passes when the parser answers (with a
//! value or an error) without panicking, hanging or growing without bound. `cargo fuzz` runs
//! them under libFuzzer (`scripts/fuzz.sh`); `tests/smoke.rs` replays the seed corpus and
//! mutations of it on stable, in CI.

use std::sync::OnceLock;

use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use switchboard_providers::ChunkStream;

/// Splits `data` into a header block and a body at the first blank line: each header line is
/// `name: value`. Lines that are not valid headers are skipped.
fn headers_and_body(data: &[u8]) -> (HeaderMap, &[u8]) {
    let split = data.windows(2).position(|w| w == b"\n\n");
    let (head, body) = match split {
        Some(at) => (&data[..at], &data[at + 2..]),
        None => (&data[..0], data),
    };
    let mut headers = HeaderMap::new();
    for line in head.split(|b| *b == b'\n') {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name),
            HeaderValue::from_bytes(value.trim_ascii()),
        ) {
            headers.append(name, value);
        }
    }
    (headers, body)
}

/// `POST /v1/chat/completions`: the body parser, with identity and metadata from headers.
pub fn chat_request(data: &[u8]) {
    let (headers, body) = headers_and_body(data);
    let _ = switchboard_gateway::request::chat_request::ChatRequest::parse(body, &headers);
}

/// Identity and metadata: every Switchboard header and body field at once.
pub fn identity(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut headers = HeaderMap::new();
    let names = [
        "x-switchboard-customer-id",
        "x-switchboard-thread-id",
        "x-switchboard-metadata",
        "traceparent",
        "x-switchboard-forward-metadata",
    ];
    for (name, part) in names.iter().zip(text.split('\u{1}')) {
        if let Ok(value) = HeaderValue::from_str(part) {
            headers.insert(*name, value);
        }
    }
    let mut body = match serde_json::from_slice::<Value>(data) {
        Ok(Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    let _ = switchboard_gateway::request::identity::Identity::take(&mut body, &headers);
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime")
    })
}

/// `data` as an upstream body, cut into pieces at places its first byte picks.
fn chunked(data: &[u8]) -> Vec<Result<Bytes, std::io::Error>> {
    let Some((&seed, rest)) = data.split_first() else {
        return Vec::new();
    };
    let step = usize::from(seed % 64) + 1;
    rest.chunks(step)
        .map(|piece| Ok(Bytes::copy_from_slice(piece)))
        .collect()
}

fn drain(stream: ChunkStream) {
    runtime().block_on(async {
        let mut stream = stream;
        // A decoder ends after its first error; the bound guards against one that would not.
        let mut items = 0usize;
        while stream.next().await.is_some() {
            items += 1;
            assert!(items < 1_000_000, "a decoder that never ends");
        }
    });
}

/// Small enough that generated bodies reach it: the event limit is fuzzed too.
const FUZZ_EVENT_LIMIT: usize = 4096;

/// The OpenAI SSE decoder.
pub fn openai_sse(data: &[u8]) {
    let body = futures_util::stream::iter(chunked(data));
    drain(switchboard_providers::openai::openai_sse(
        body,
        FUZZ_EVENT_LIMIT,
    ));
}

/// The Anthropic event stream, translated to OpenAI chunks.
pub fn anthropic_sse(data: &[u8]) {
    let body = futures_util::stream::iter(chunked(data));
    drain(switchboard_providers::anthropic::anthropic_sse(
        body,
        FUZZ_EVENT_LIMIT,
    ));
}

/// OpenAI request -> Anthropic Messages request, and an Anthropic answer -> OpenAI completion.
pub fn anthropic_translate(data: &[u8]) {
    use switchboard_providers::anthropic;
    if let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(data) {
        let stream = data.len().is_multiple_of(2);
        let _ = anthropic::to_messages_request(&body, "claude-fuzz", stream, Some(1024));
        let _ = anthropic::dropped_fields(&body);
    }
    let _ = anthropic::to_chat_completion(data);
}

/// The config loader: TOML, `${ENV}` interpolation and validation.
pub fn config(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let env = |name: &str| {
        name.len()
            .is_multiple_of(2)
            .then(|| format!("value-of-{name}"))
    };
    let _ = switchboard_config::Config::from_toml_str(&text, "fuzz.toml", &env);
}

/// `POST /api/logs`: records in Respan's create-log shape.
pub fn ingest(data: &[u8]) {
    if let Ok(value) = serde_json::from_slice::<Value>(data) {
        let now = time::OffsetDateTime::UNIX_EPOCH;
        let _ = switchboard_logs_api::respan_log::records_from_json(value, now);
    }
}

/// `GET /api/logs?...`: the query string's filters and cursor, run against an in-memory store.
pub fn logs_query(data: &[u8]) {
    thread_local! {
        static STORE: std::cell::RefCell<Option<switchboard_store::Store>> =
            std::cell::RefCell::new(switchboard_store::open("sqlite::memory:").ok());
    }
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(data).into_owned().collect();
    let Ok(filter) =
        switchboard_store::Filter::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    else {
        return;
    };
    let cursor = pairs
        .iter()
        .find(|(k, _)| k == "cursor")
        .map(|(_, v)| v.as_str());
    STORE.with(|store| {
        if let Some(store) = store.borrow_mut().as_mut() {
            let _ = store.list(&filter, 10, cursor);
        }
    });
}

/// A fuzz target: bytes in, no panic out.
pub type Target = fn(&[u8]);

/// Every target, by name (for the smoke test and the corpus layout).
pub const TARGETS: [(&str, Target); 8] = [
    ("chat_request", chat_request),
    ("identity", identity),
    ("openai_sse", openai_sse),
    ("anthropic_sse", anthropic_sse),
    ("anthropic_translate", anthropic_translate),
    ("config", config),
    ("ingest", ingest),
    ("logs_query", logs_query),
];
