//! The on-call engineer opens the console in a browser: the page comes from the gateway
//! itself, asks once for the admin key, filters by metadata, replays a phone call turn by turn
//! with its fallback marked, opens a record, exports the filter, reads a trace's span tree and
//! the live counters, and disables and re-enables a target. Driven in
//! Debian's Chromium by Playwright (tests/browser/console_check.py), against the real binary.

use std::process::Command;
use std::time::Duration;

use serde_json::json;
use switchboard_tests::binary::{Process, free_port, temp_dir};
use switchboard_tests::{Client, mock};

const ADMIN_KEY: &str = "sb-admin-console-key";
const THREAD: &str = "call_console_7";
/// The turn of the phone call whose first target fails (503) and falls back.
const FALLBACK_TURN: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_logs_a_thread_a_record_and_targets_in_chromium() {
    let mock = mock().await;
    let dir = temp_dir("console");
    let port = free_port();
    let config = dir.join("switchboard.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[server]
listen = "127.0.0.1:{port}"
admin_key = "{ADMIN_KEY}"

[logging]
store = "sqlite://{store}"

[providers.primary]
kind = "openai"
base_url = "{mock}"
api_key = "sk-provider-secret"

[providers.backup]
kind = "openai"
base_url = "{mock}"
api_key = "sk-provider-secret"

[models.voice]
targets = [{{ provider = "primary", model = "a" }}]

[models.flaky]
targets = [{{ provider = "primary", model = "a?fail=503" }}, {{ provider = "backup", model = "b" }}]
retries = 0
"#,
            store = dir.join("logs.db").display(),
            mock = mock.base_url(),
        ),
    )
    .unwrap();
    let mut gateway = Process::spawn(&["serve", "--config", config.to_str().unwrap()], &[], &dir);
    let url = format!("http://127.0.0.1:{port}");
    gateway.wait_healthy(&url).await;

    // A phone call of six turns (one falls back), then other calls in Spanish and English.
    let client = Client::new(&url);
    let use_cases = [
        "greeting",
        "intent",
        "scam_check",
        "response",
        "intent",
        "response",
    ];
    for (turn, use_case) in use_cases.iter().enumerate() {
        let model = if turn == FALLBACK_TURN {
            "flaky"
        } else {
            "voice"
        };
        let reply = client
            .chat(&json!({"model": model, "messages": [{"role": "user", "content": format!("turno {turn}")}],
                          "thread_identifier": THREAD,
                          "metadata": {"language": "es", "use_case": use_case, "agent_id": "clinic"}}))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for n in 0..8 {
        let language = if n % 2 == 0 { "en" } else { "es" };
        let reply = client
            .chat(
                &json!({"model": "voice", "messages": [{"role": "user", "content": "hi"}],
                          "thread_identifier": format!("call_other_{n}"),
                          "metadata": {"language": language, "use_case": "intent"}}),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    // An agent's steps as one trace: a root span and two children.
    for (span, parent) in [
        ("root", None),
        ("plan", Some("root")),
        ("answer", Some("root")),
    ] {
        let reply = client
            .chat(
                &json!({"model": "voice", "messages": [{"role": "user", "content": "plan"}],
                          "trace_unique_id": "trace-console", "span_unique_id": span,
                          "span_parent_id": parent, "span_name": format!("step {span}"),
                          "metadata": {"language": "en", "use_case": "agent"}}),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let admin = Client::new(&url).with_key(ADMIN_KEY);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let listed = admin.get("/api/logs?limit=50").await.json();
        if listed["data"].as_array().map_or(0, Vec::len) == 17 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "records not stored");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The page and its assets load without a key.
    let page = client.get("/console").await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(page.text.contains("/console/console.js"));
    assert_eq!(client.get("/console/console.js").await.status, 200);
    assert_eq!(client.get("/console/nothing-here").await.status, 404);

    let output = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/browser/console_check.py"
            ))
            .args([&url, ADMIN_KEY, THREAD, &FALLBACK_TURN.to_string()])
            .output()
            .expect("python3 runs (scripts/test.sh installs playwright and chromium)")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the browser check failed:\n{stdout}\n{stderr}"
    );
    let summary: serde_json::Value = serde_json::from_str(stdout.trim()).expect("a JSON summary");
    assert_eq!(summary["logs"], 17);
    assert_eq!(summary["spanish"], 10);
    assert_eq!(summary["turns"], use_cases.len());
}

/// A newcomer with no provider key runs `switchboard demo` and watches phone calls arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switchboard_demo_plays_phone_calls_that_the_console_shows() {
    let dir = temp_dir("demo");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut demo = Process::spawn(&["demo", "--listen", &listen, "--calls", "2"], &[], &dir);
    let url = format!("http://{listen}");
    demo.wait_healthy(&url).await;
    assert_eq!(Client::new(&url).get("/console").await.status, 200);
    // No admin key in the demo: the API answers on loopback.
    let client = Client::new(&url);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let thread = loop {
        let reply = client.get("/api/threads/call_00001").await;
        if reply.status == 200 && reply.json()["turns"].as_u64() >= Some(13) {
            break reply.json();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the demo's second call is not complete: {}",
            reply.text
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let turns = thread["data"].as_array().expect("turns");
    let use_cases: Vec<&str> = turns
        .iter()
        .filter_map(|t| t["metadata"]["use_case"].as_str())
        .collect();
    for expected in ["greeting", "intent", "response", "scam_check"] {
        assert!(use_cases.contains(&expected), "{use_cases:?}");
    }
    assert!(
        turns
            .iter()
            .all(|t| t["metadata"]["agent_id"].is_string() && t["metadata"]["language"] == "en"),
        "every turn carries its call's metadata"
    );
    let stats = client.get("/api/stats?window=15m").await.json();
    assert!(stats["requests"].as_u64() >= Some(26), "{stats}");
}
