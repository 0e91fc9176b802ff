//! An operator configures provider keys, client keys and an admin key, turns on debug logging
//! and PII redaction, and runs real traffic through Redis, the spool and the store. Every byte
//! the gateway and its consumer emit is searched for every configured secret: none is found,
//! and the email address a caller said in a prompt reaches no log either.

use std::path::Path;
use std::time::Duration;

use serde_json::json;
use switchboard_store::Filter;
use switchboard_tests::binary::{Process, free_port, temp_dir};
use switchboard_tests::{Client, OtlpReceiver, RedisServer, mock};

const PROVIDER_KEY: &str = "sk-prov-SECRET-a1b2c3";
const ECHOED_KEY: &str = "sk-echo-SECRET-d4e5f6";
const HEADER_SECRET: &str = "hdr-SECRET-g7h8i9";
const CLIENT_KEY: &str = "sk-client-SECRET-j1k2";
const ADMIN_KEY: &str = "adm-SECRET-l3m4n5";
const OTEL_SECRET: &str = "otel-SECRET-o6p7q8";
const SECRETS: [&str; 6] = [
    PROVIDER_KEY,
    ECHOED_KEY,
    HEADER_SECRET,
    CLIENT_KEY,
    ADMIN_KEY,
    OTEL_SECRET,
];
const EMAIL: &str = "maria.lopez@example.com";

/// Every file under `dir`, read as bytes.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push((path.display().to_string(), bytes));
        }
    }
    out
}

fn assert_clean(what: &str, bytes: &[u8], needles: &[&str]) {
    for needle in needles {
        let found = bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
        assert!(!found, "{needle} found in {what}");
    }
}

#[tokio::test]
async fn no_configured_secret_reaches_any_byte_the_gateway_emits() {
    let mock = mock().await;
    let mut redis = RedisServer::start().await;
    let collector = OtlpReceiver::start().await;
    let dir = temp_dir("secrets");
    let port = free_port();
    let data = dir.join("data");
    std::fs::write(
        dir.join("switchboard.toml"),
        format!(
            r#"
[server]
listen = "127.0.0.1:{port}"
api_keys = ["{CLIENT_KEY}"]
admin_key = "{ADMIN_KEY}"

[logging]
redis_url = "{redis}"
spool_dir = "{data}/spool"
store = "sqlite://{data}/store.db"
redact = ["email"]

[otel]
endpoint = "{collector}"
capture_bodies = true
export_interval_ms = 50
headers = {{ authorization = "Bearer {OTEL_SECRET}" }}

[providers.openai]
kind = "openai"
base_url = "{mock}"
api_key = "{PROVIDER_KEY}"
headers = {{ "x-extra-auth" = "{HEADER_SECRET}" }}

[providers.echo]
kind = "openai"
base_url = "{mock}"
api_key = "{ECHOED_KEY}"
headers = {{ "x-mock-script" = "fail={ECHOED_KEY}" }}

[models."voice-fast"]
targets = [{{ provider = "echo", model = "gpt-4o-mini" }}, {{ provider = "openai", model = "gpt-4o-mini" }}]
retry_on = ["4xx", "5xx"]
retries = 0
"#,
            redis = redis.url(),
            data = data.display(),
            mock = mock.base_url(),
            collector = collector.endpoint(),
        ),
    )
    .unwrap();
    let mut gateway = Process::spawn(&["serve"], &[("RUST_LOG", "debug")], &dir);
    let url = format!("http://127.0.0.1:{port}");
    gateway.wait_healthy(&url).await;
    let client = Client::new(&url).with_key(CLIENT_KEY);
    let mut emitted: Vec<(String, Vec<u8>)> = Vec::new();
    let prompt = json!({"model": "voice-fast", "messages": [{"role": "user", "content": format!("write to {EMAIL}")}]});

    // Served after the echoing provider failed, stream and not; a refused key; the API.
    for _ in 0..3 {
        let reply = client.chat(&prompt).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        emitted.push((
            "a response".into(),
            format!("{:?}{}", reply.headers, reply.text).into(),
        ));
    }
    let stream = client.stream(&prompt).await;
    emitted.push((
        "stream headers".into(),
        format!("{:?}", stream.headers).into(),
    ));
    let end = stream.finish().await;
    assert!(end.done());
    emitted.push(("a stream".into(), end.raw.into_bytes()));
    let refused = Client::new(&url).with_key("sk-wrong").chat(&prompt).await;
    assert_eq!(refused.status, 401);
    emitted.push(("a 401".into(), refused.text.into_bytes()));
    let metrics = client.get("/metrics").await;
    emitted.push(("/metrics".into(), metrics.text.into_bytes()));

    // Redis goes away: the next records wait in the spool.
    redis.stop();
    for _ in 0..2 {
        assert_eq!(client.chat(&prompt).await.status, 200);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let spooled = files(&data.join("spool"));
    assert!(
        spooled.iter().any(|(_, bytes)| !bytes.is_empty()),
        "records were spooled while Redis was down"
    );
    emitted.extend(spooled);
    redis.restart().await;

    // Everything reaches the stream, then the store through a consumer.
    let total = 6;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while redis.xlen("switchboard:logs") < total {
        assert!(
            tokio::time::Instant::now() < deadline,
            "records reach Redis"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let records = redis.stream_records("switchboard:logs");
    let stream_text = serde_json::to_string(&records).unwrap();
    assert!(stream_text.contains("[redacted:email]"), "{stream_text}");
    emitted.push(("the Redis stream".into(), stream_text.into_bytes()));
    emitted.push((
        "redis dump".into(),
        redis
            .cli(&["XRANGE", "switchboard:logs", "-", "+"])
            .into_bytes(),
    ));

    let mut consumer = Process::spawn(&["consume"], &[("RUST_LOG", "debug")], &dir);
    let store_url = format!("sqlite://{}/store.db", data.display());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let stored = switchboard_store::open(&store_url)
            .and_then(|mut s| s.count(&Filter::default()))
            .unwrap_or(0);
        if stored >= total as u64 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "records reach the store"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let api = Client::new(&url)
        .with_key(ADMIN_KEY)
        .get("/api/logs?limit=100")
        .await;
    assert_eq!(api.status, 200, "{}", api.text);
    emitted.push(("/api/logs".into(), api.text.into_bytes()));
    consumer.terminate();
    consumer.wait_exit(Duration::from_secs(10)).await;
    emitted.push(("the consumer's log".into(), consumer.stderr().into_bytes()));
    gateway.terminate();
    gateway.wait_exit(Duration::from_secs(10)).await;
    let log = gateway.stderr();
    assert!(log.contains("DEBUG"), "the gateway logged at debug level");
    emitted.push(("the gateway's debug log".into(), log.into_bytes()));
    emitted.extend(
        files(&data)
            .into_iter()
            .filter(|(p, _)| p.contains("store.db")),
    );

    // The spans: their bodies are redacted as records are; the collector's key went only
    // where it belongs, in the export's authorization header.
    let spans = collector.wait_for_spans(2).await;
    assert!(
        spans.iter().any(|s| !s.events.is_empty()),
        "bodies were captured on spans"
    );
    let exports = collector.exports();
    assert!(exports.iter().all(|e| {
        e.headers.get("authorization").and_then(|v| v.to_str().ok())
            == Some(format!("Bearer {OTEL_SECRET}").as_str())
    }));
    for export in exports {
        emitted.push(("an OTLP export".into(), export.body.to_vec()));
    }
    emitted.push(("the spans".into(), format!("{spans:?}").into_bytes()));

    for (what, bytes) in &emitted {
        assert_clean(what, bytes, &SECRETS);
    }
    for (what, bytes) in emitted
        .iter()
        .filter(|(w, _)| !w.starts_with("a ") && !w.contains("stream headers"))
    {
        assert_clean(what, bytes, &[EMAIL]);
    }
}
