//! The load generator against the in-process mock provider, over real sockets.

use std::time::Duration;

use switchboard_loadtest::MockProvider;
use switchboard_loadtest::load::client::{RequestTemplate, Target};
use switchboard_loadtest::load::report::Mode;
use switchboard_loadtest::load::{LoadConfig, run};

fn config(base_url: &str, model: &str, stream: bool, mode: Mode) -> LoadConfig {
    let target = Target::parse(base_url, false).unwrap();
    LoadConfig {
        template: RequestTemplate::new(target, model, "hi", stream, &[]).unwrap(),
        mode,
        duration: Duration::from_millis(500),
        warmup: Duration::ZERO,
        ramp: Duration::ZERO,
        max_requests: Some(200),
        timeout: Duration::from_secs(5),
        label: Some("test".into()),
        setting: None,
        url: base_url.to_owned(),
        model: model.to_owned(),
    }
}

#[tokio::test]
async fn closed_loop_counts_ok_and_ttft() {
    let mock = MockProvider::new().journal(false).serve().await.unwrap();
    let cfg = config(
        &mock.base_url(),
        "gpt-4o-mini?chunks=3",
        true,
        Mode::Closed { concurrency: 4 },
    );
    let report = run(cfg).await;
    let v = report.to_json();
    assert!(v["ok"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["errors"], 0, "{v}");
    assert!(v["requests"].as_u64().unwrap() <= 200, "{v}");
    let max_inflight = v["max_inflight"].as_u64().unwrap();
    assert!((1..=4).contains(&max_inflight), "{v}");
    assert!(v["ttft_ms"]["p50"].as_f64().unwrap() <= v["lat_ms"]["p50"].as_f64().unwrap());
}

#[tokio::test]
async fn open_loop_counts_errors_by_kind() {
    let mock = MockProvider::new().journal(false).serve().await.unwrap();
    let cfg = config(
        &mock.base_url(),
        "gpt-4o-mini?fail=503&fail_rate=0.5",
        false,
        Mode::Open {
            rate: 200.0,
            connections: 8,
        },
    );
    let report = run(cfg).await;
    let v = report.to_json();
    let ok = v["ok"].as_u64().unwrap();
    let failed = v["error_kinds"]["status_503"].as_u64().unwrap();
    // 100 requests scheduled (200/s for 0.5 s), about half fail.
    assert_eq!(ok + failed, 100, "{v}");
    assert!(ok > 10 && failed > 10, "{v}");
    assert!(v["send_lag_ms"]["p50"].is_number(), "{v}");
    assert_eq!(v["mode"], "open");
}

#[tokio::test]
async fn stream_cut_and_timeout_are_errors() {
    let mock = MockProvider::new().journal(false).serve().await.unwrap();
    let mut cfg = config(
        &mock.base_url(),
        "gpt-4o-mini?stall_after=1",
        true,
        Mode::Closed { concurrency: 2 },
    );
    cfg.timeout = Duration::from_millis(100);
    cfg.max_requests = Some(4);
    let v = run(cfg).await.to_json();
    assert_eq!(v["ok"], 0, "{v}");
    assert_eq!(v["error_kinds"]["timeout"], 4, "{v}");
}

/// A server that answers one request per connection with `Connection: close`, then closes.
async fn closing_server() -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut seen = Vec::new();
                // Read the head and the (small) body: wait for the JSON's closing brace.
                while !seen.ends_with(b"}") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let body = r#"{"choices":[]}"#;
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(body.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_server_closing_connections_costs_no_errors() {
    let addr = closing_server().await;
    let url = format!("http://{addr}/v1");
    let mut cfg = config(&url, "m", false, Mode::Closed { concurrency: 2 });
    cfg.max_requests = Some(20);
    let v = run(cfg).await.to_json();
    assert_eq!(v["ok"], 20, "{v}");
    assert_eq!(v["errors"], 0, "{v}");
}
