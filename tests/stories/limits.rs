//! A hostile or overloaded world meets the gateway (SPEC section 8): a burst past the
//! concurrency limit is shed with a clear 503, a client without a key still leaves a record,
//! sockets that send nothing or dribble a head are closed, a connection flood is cut at the
//! door, an upstream that answers gigabytes fails over, and clients inventing model names or
//! metadata values cannot grow the metrics without bound.

use std::time::Duration;

use serde_json::json;
use switchboard_tests::{Gateway, metric_value, mock};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn ask(model: &str) -> serde_json::Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hello"}]})
}

fn config(mock_url: &str, server: &str, extra: &str) -> String {
    format!(
        r#"
[server]
{server}

[providers.openai]
kind = "openai"
base_url = "{mock_url}"
api_key = "sk-limits-provider-key"

[providers.backup]
kind = "openai"
base_url = "{mock_url}"

[models."voice-fast"]
targets = [{{ provider = "openai", model = "gpt-4o-mini" }}]

{extra}
"#
    )
}

/// Reads until the peer closes (true) or `within` passes (false).
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let read_to_end = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(within, read_to_end).await.is_ok()
}

#[tokio::test]
async fn a_burst_past_max_concurrent_requests_is_shed_with_a_503_and_recorded() {
    let mock = mock().await;
    let gateway = Gateway::start(&config(
        &mock.base_url(),
        "max_concurrent_requests = 2",
        r#"[models.slow]
targets = [{ provider = "openai", model = "m?ttft_ms=1500" }]"#,
    ))
    .await;
    let client = gateway.client();
    // Two slow streams hold both places...
    let streams = client.clone();
    let held = tokio::spawn(async move {
        let slow = json!({"model": "slow", "messages": [{"role": "user", "content": "a"}]});
        let (a, b) = tokio::join!(streams.stream(&slow), streams.stream(&slow));
        (a.finish().await, b.finish().await)
    });
    // ...so the next call is turned away at once, in OpenAI's shape, with Retry-After.
    let mut shed = None;
    for _ in 0..50 {
        let reply = client.chat(&ask("voice-fast")).await;
        if reply.status == 503 {
            shed = Some(reply);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let shed = shed.expect("a request past the limit gets 503");
    assert_eq!(shed.header("retry-after"), Some("1"));
    let body = shed.json();
    assert_eq!(body["error"]["type"], "overloaded_error", "{body}");
    assert_eq!(body["error"]["code"], "overloaded", "{body}");
    let id = shed
        .header("x-switchboard-request-id")
        .expect("a shed request is named")
        .to_owned();
    let record = gateway.records.by_id(&id).await;
    assert_eq!(record["status_code"], 503);
    assert_eq!(record["status"], "error");

    // The held streams were not disturbed, and once they end there is room again.
    let (a, b) = held.await.unwrap();
    assert!(a.done() && b.done(), "{a:?} {b:?}");
    assert_eq!(client.chat(&ask("voice-fast")).await.status, 200);
    let metrics = client.get("/metrics").await.text;
    assert!(
        metric_value(&metrics, "switchboard_overload_rejections_total", &[]).unwrap_or(0.0) >= 1.0,
        "{metrics}"
    );
}

#[tokio::test]
async fn a_request_without_a_key_gets_a_401_with_a_record_and_a_request_id() {
    let mock = mock().await;
    let gateway = Gateway::start(&config(
        &mock.base_url(),
        r#"api_keys = ["sk-client-key-123"]"#,
        "",
    ))
    .await;
    let reply = gateway.client().chat(&ask("voice-fast")).await;
    assert_eq!(reply.status, 401, "{}", reply.text);
    let id = reply
        .header("x-switchboard-request-id")
        .expect("the 401 names its record")
        .to_owned();
    let record = gateway.records.by_id(&id).await;
    assert_eq!(record["status_code"], 401);
    assert_eq!(record["status"], "error");
    assert!(
        record["input"].is_null() && record["output"].is_null(),
        "{record}"
    );
    assert!(mock.requests().is_empty(), "nothing reached the provider");

    let metrics = gateway.client().get("/metrics").await.text;
    assert!(
        metric_value(
            &metrics,
            "switchboard_requests_total",
            &[("model", "unknown"), ("status", "error")]
        )
        .unwrap_or(0.0)
            >= 1.0,
        "{metrics}"
    );
    // With the key the same call goes through.
    let ok = gateway
        .client()
        .with_key("sk-client-key-123")
        .chat(&ask("voice-fast"))
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
}

#[tokio::test]
async fn invented_provider_model_names_cannot_grow_the_metric_labels() {
    let mock = mock().await;
    let gateway = Gateway::start(&config(
        &mock.base_url(),
        "",
        "[metrics]\nmax_passthrough_models = 3",
    ))
    .await;
    let client = gateway.client();
    for i in 0..8 {
        let reply = client.chat(&ask(&format!("openai/model-{i}"))).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    let metrics = client.get("/metrics").await.text;
    let labels: std::collections::BTreeSet<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("switchboard_requests_total{"))
        .filter_map(|l| l.split("model=\"").nth(1)?.split('"').next())
        // Other stories of this binary share the process's recorder.
        .filter(|model| model.starts_with("openai/"))
        .collect();
    assert_eq!(
        labels.into_iter().collect::<Vec<_>>(),
        [
            "openai/model-0",
            "openai/model-1",
            "openai/model-2",
            "openai/other"
        ],
        "{metrics}"
    );
    assert_eq!(
        metric_value(
            &metrics,
            "switchboard_requests_total",
            &[
                ("model", "openai/other"),
                ("provider", "openai"),
                ("status", "success")
            ]
        ),
        Some(5.0),
        "{metrics}"
    );
}

#[tokio::test]
async fn metadata_labels_break_the_series_down_by_use_case_with_the_values_capped() {
    let mock = mock().await;
    let gateway = Gateway::start(&config(
        &mock.base_url(),
        "",
        r#"[models."labelled-voice"]
targets = [{ provider = "openai", model = "flaky?fail=503" }, { provider = "backup", model = "b" }]
retries = 0

[metrics]
metadata_labels = ["use_case", "language"]
max_label_values = 2"#,
    ))
    .await;
    let client = gateway.client();
    let calls = [
        r#"{"use_case": "intent", "language": "es"}"#,
        r#"{"use_case": "intent", "language": "es"}"#,
        r#"{"use_case": "scam", "language": "en"}"#,
        // A third and a fourth use case are past the cap of two.
        r#"{"use_case": "turn_taking", "language": "es"}"#,
        r#"{"use_case": "call-9f2c", "language": "en"}"#,
        // No language at all.
        r#"{"use_case": "intent"}"#,
    ];
    for metadata in calls {
        let reply = client
            .chat_with(
                &ask("labelled-voice"),
                &[("x-switchboard-metadata", metadata)],
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    let metrics = client.get("/metrics").await.text;
    let served = |use_case: &str, language: &str| {
        metric_value(
            &metrics,
            "switchboard_requests_total",
            &[
                ("model", "labelled-voice"),
                ("provider", "backup"),
                ("status", "success"),
                ("use_case", use_case),
                ("language", language),
            ],
        )
    };
    assert_eq!(served("intent", "es"), Some(2.0), "{metrics}");
    assert_eq!(served("scam", "en"), Some(1.0), "{metrics}");
    assert_eq!(served("other", "es"), Some(1.0), "{metrics}");
    assert_eq!(served("other", "en"), Some(1.0), "{metrics}");
    assert_eq!(served("intent", ""), Some(1.0), "{metrics}");
    let use_cases: std::collections::BTreeSet<&str> = metrics
        .lines()
        .filter(|l| l.contains("model=\"labelled-voice\""))
        .filter_map(|l| l.split("use_case=\"").nth(1)?.split('"').next())
        .collect();
    assert_eq!(
        use_cases.into_iter().collect::<Vec<_>>(),
        ["intent", "other", "scam"],
        "{metrics}"
    );
    // The fallback off the failing primary and the latency histogram carry the labels too.
    assert_eq!(
        metric_value(
            &metrics,
            "switchboard_fallbacks_total",
            &[
                ("model", "labelled-voice"),
                ("from_provider", "openai"),
                ("to_provider", "backup"),
                ("use_case", "scam"),
                ("language", "en"),
            ],
        ),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        metric_value(
            &metrics,
            "switchboard_request_duration_seconds_count",
            &[
                ("model", "labelled-voice"),
                ("provider", "backup"),
                ("use_case", "intent"),
                ("language", "es"),
            ],
        ),
        Some(2.0),
        "{metrics}"
    );
}

#[tokio::test]
async fn sockets_that_send_nothing_or_dribble_a_head_or_idle_are_closed() {
    let mock = mock().await;
    let gateway = Gateway::start(&config(
        &mock.base_url(),
        "header_timeout_ms = 300\nidle_timeout_ms = 800",
        "",
    ))
    .await;
    let addr = gateway.url().trim_start_matches("http://").to_owned();

    // A socket that never sends a byte.
    let mut silent = TcpStream::connect(&addr).await.unwrap();
    assert!(closed_within(&mut silent, Duration::from_secs(10)).await);

    // Slowloris: a head a few bytes at a time, never finished.
    let mut slow = TcpStream::connect(&addr).await.unwrap();
    let dribble = async {
        for byte in b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n".iter() {
            if slow.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(10), dribble).await;
    assert!(closed_within(&mut slow, Duration::from_secs(10)).await);

    // A kept-alive connection is served, then closed once idle.
    let mut kept = TcpStream::connect(&addr).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0u8; 64];
    let n = kept.read(&mut head).await.unwrap();
    assert!(head[..n].starts_with(b"HTTP/1.1 200"), "{:?}", &head[..n]);
    assert!(closed_within(&mut kept, Duration::from_secs(10)).await);

    // A stream whose upstream pauses longer than the idle timeout is not cut: it is in flight.
    let mock_url = mock.base_url();
    let patient = Gateway::start(&config(
        &mock_url,
        "header_timeout_ms = 300\nidle_timeout_ms = 300",
        r#"[models.pausing]
targets = [{ provider = "openai", model = "m?chunks=2&chunk_ms=900" }]
stall_timeout_ms = 5000"#,
    ))
    .await;
    let end = patient
        .client()
        .stream(&json!({"model": "pausing", "stream": true, "messages": [{"role": "user", "content": "hi"}]}))
        .await
        .finish()
        .await;
    assert!(end.done(), "{end:?}");
}

#[tokio::test]
async fn connections_past_max_connections_are_closed_at_the_door() {
    let mock = mock().await;
    let gateway = Gateway::start(&config(
        &mock.base_url(),
        "max_connections = 2\nheader_timeout_ms = 30000",
        "",
    ))
    .await;
    let addr = gateway.url().trim_start_matches("http://").to_owned();
    let _one = TcpStream::connect(&addr).await.unwrap();
    let _two = TcpStream::connect(&addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut third = TcpStream::connect(&addr).await.unwrap();
    let _ = third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), third.read_to_end(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(_)) | Ok(Err(_))),
        "the third connection is closed"
    );
    assert!(buf.is_empty(), "closed without an answer: {buf:?}");

    drop((_one, _two));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let metrics = gateway.client().get("/metrics").await.text;
    assert!(
        metric_value(&metrics, "switchboard_connections_rejected_total", &[]).unwrap_or(0.0) >= 1.0,
        "{metrics}"
    );
}

#[tokio::test]
async fn an_upstream_answer_past_max_upstream_body_bytes_fails_over_to_the_next_target() {
    let mock = mock().await;
    let huge = "x".repeat(6000);
    let gateway = Gateway::start(&config(
        &mock.base_url(),
        "max_upstream_body_bytes = 4096",
        &format!(
            r#"[models.bloated]
targets = [{{ provider = "openai", model = "big?chunks=1&content={huge}" }}, {{ provider = "backup", model = "small" }}]
retries = 0"#
        ),
    ))
    .await;
    let client = gateway.client();
    for stream in [false, true] {
        let body = json!({"model": "bloated", "stream": stream, "messages": [{"role": "user", "content": "hi"}]});
        let (status, provider, id) = if stream {
            let s = client.stream(&body).await;
            let meta = (
                s.status,
                s.header("x-switchboard-provider").map(str::to_owned),
                s.header("x-switchboard-request-id").map(str::to_owned),
            );
            assert!(s.finish().await.done());
            meta
        } else {
            let r = client.chat(&body).await;
            (
                r.status,
                r.header("x-switchboard-provider").map(str::to_owned),
                r.header("x-switchboard-request-id").map(str::to_owned),
            )
        };
        assert_eq!(status, 200, "stream={stream}");
        assert_eq!(provider.as_deref(), Some("backup"), "stream={stream}");
        let record = gateway.records.by_id(&id.unwrap()).await;
        let first = &record["attempts"][0];
        assert_eq!(first["error_kind"], "5xx", "stream={stream}: {record}");
        assert!(
            first["error_message"]
                .as_str()
                .is_some_and(|m| m.contains("max_upstream_body_bytes")),
            "stream={stream}: {record}"
        );
    }
}
