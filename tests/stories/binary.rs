//! An operator runs the real `switchboard` binary: checks a config before deploying it, starts
//! it with no config at all to try it out, and restarts it under an orchestrator that sends
//! SIGTERM, without cutting off a call that is mid-answer.

use std::process::Command;
use std::time::Duration;

use serde_json::json;
use switchboard_tests::binary::{self, Process, free_port, temp_dir};
use switchboard_tests::{Client, mock};

fn check(dir: &std::path::Path, file: &str) -> std::process::Output {
    Command::new(binary::path())
        .args(["check", "--config", file])
        .env_remove("SWITCHBOARD_CONFIG")
        .current_dir(dir)
        .output()
        .expect("switchboard check runs")
}

#[test]
fn check_names_every_problem_with_file_key_and_fix_and_exits_2() {
    let dir = temp_dir("check-bad");
    std::fs::write(
        dir.join("bad.toml"),
        r#"
[server]
listen = "localhost-8080"

[providers.openai]
kind = "openai"
base_url = "ftp://api.openai.com/v1"

[models."voice-fast"]
targets = [{ provider = "opnai", model = "gpt-4o-mini" }]
"#,
    )
    .unwrap();

    let out = check(&dir, "bad.toml");

    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    for key in [
        "server.listen",
        "providers.openai.base_url",
        "models.voice-fast.targets[0].provider",
    ] {
        let line = stderr
            .lines()
            .find(|l| l.contains(key))
            .unwrap_or_else(|| panic!("no line names {key}:\n{stderr}"));
        assert!(line.starts_with("bad.toml: "), "names the file: {line}");
        assert!(line.contains("fix: "), "says how to fix it: {line}");
    }
    assert!(
        stderr.contains("opnai") && stderr.contains("openai"),
        "suggests the provider that exists:\n{stderr}"
    );
    assert!(
        out.stdout.is_empty(),
        "problems go to stderr: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn check_rejects_an_unknown_key_naming_it_and_the_keys_that_exist() {
    let dir = temp_dir("check-unknown");
    std::fs::write(
        dir.join("typo.toml"),
        "[server]\nlisten = \"127.0.0.1:8080\"\nmax_body_byte = 10\n",
    )
    .unwrap();

    let out = check(&dir, "typo.toml");

    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("typo.toml"), "{stderr}");
    assert!(stderr.contains("max_body_byte"), "{stderr}");
    assert!(
        stderr.contains("max_body_bytes"),
        "names the key meant: {stderr}"
    );
}

#[test]
fn check_accepts_a_good_config_and_exits_0() {
    let dir = temp_dir("check-good");
    std::fs::write(
        dir.join("good.toml"),
        r#"
[server]
listen = "127.0.0.1:8080"

[providers.openai]
kind = "openai"
base_url = "https://api.openai.com/v1"
api_key = "${OPENAI_API_KEY:-}"

[models."voice-fast"]
targets = [{ provider = "openai", model = "gpt-4o-mini" }]
retries = 1
stream_json = "buffer"
"#,
    )
    .unwrap();

    let out = check(&dir, "good.toml");

    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("ok"),
        "{out:?}"
    );
}

#[tokio::test]
async fn serve_with_no_config_file_runs_the_embedded_default() {
    let mock = mock().await;
    let dir = temp_dir("serve-default");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut process = Process::spawn(
        &["serve"],
        &[
            ("SWITCHBOARD_LISTEN", &listen),
            ("OPENAI_BASE_URL", &mock.base_url()),
            ("OPENAI_API_KEY", "sk-x"),
        ],
        &dir,
    );
    let url = format!("http://{listen}");
    process.wait_healthy(&url).await;

    let reply = Client::new(&url)
        .chat(&json!({"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}))
        .await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json()["choices"][0]["message"]["content"],
        "Hello from mock"
    );
    assert_eq!(reply.header("x-switchboard-provider"), Some("openai"));
    let upstream = mock.requests();
    assert_eq!(upstream.len(), 1);
    assert_eq!(upstream[0].body["model"], "gpt-4o-mini");
    assert_eq!(
        upstream[0]
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer sk-x")
    );
}

#[tokio::test]
async fn sigterm_lets_the_stream_in_flight_finish_and_refuses_new_connections() {
    let mock = mock().await;
    let dir = temp_dir("sigterm");
    let port = free_port();
    std::fs::write(
        dir.join("switchboard.toml"),
        format!(
            r#"
[server]
listen = "127.0.0.1:{port}"
shutdown_grace_ms = 5000

[providers.openai]
kind = "openai"
base_url = "{}"

[models."voice-fast"]
targets = [{{ provider = "openai", model = "gpt-4o-mini?chunk_ms=100&chunks=10" }}]
"#,
            mock.base_url()
        ),
    )
    .unwrap();
    let mut process = Process::spawn(&["serve"], &[], &dir);
    let url = format!("http://127.0.0.1:{port}");
    process.wait_healthy(&url).await;

    let mut stream = Client::new(&url)
        .stream(&json!({"model": "voice-fast", "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(stream.status, 200);
    let mut events = Vec::new();
    while !events.iter().any(|e: &String| e.contains("\"content\"")) {
        events.push(stream.next_event().await.expect("first content"));
    }

    process.terminate();

    // New connections are refused soon after the signal, while the stream is still going.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    loop {
        match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            Err(_) => break,
            Ok(_) if tokio::time::Instant::now() >= deadline => {
                panic!("still accepting connections 2 s after SIGTERM")
            }
            Ok(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
    assert!(
        process.child.try_wait().unwrap().is_none(),
        "the process must wait for the stream in flight"
    );

    // The stream in flight runs to its clean end.
    while let Some(event) = stream.next_event().await {
        events.push(event);
    }
    assert_eq!(
        events.last().map(String::as_str),
        Some("[DONE]"),
        "{}",
        stream.raw
    );
    let content: String = events
        .iter()
        .filter(|e| *e != "[DONE]")
        .filter_map(|e| {
            let chunk: serde_json::Value = serde_json::from_str(e).unwrap();
            chunk["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(content, "Hello from mock");

    let status = process.wait_exit(Duration::from_secs(5)).await;
    assert_eq!(status.code(), Some(0), "stderr:\n{}", process.stderr());
}

#[tokio::test]
async fn sigterm_turns_readyz_503_at_once_and_serves_through_the_drain_delay() {
    let mock = mock().await;
    let dir = temp_dir("drain");
    let port = free_port();
    std::fs::write(
        dir.join("switchboard.toml"),
        format!(
            r#"
[server]
listen = "127.0.0.1:{port}"
shutdown_grace_ms = 10000
drain_delay_ms = 1500

[providers.openai]
kind = "openai"
base_url = "{}"

[models."voice-fast"]
targets = [{{ provider = "openai", model = "gpt-4o-mini?chunk_ms=150&chunks=20" }}]
"#,
            mock.base_url()
        ),
    )
    .unwrap();
    let mut process = Process::spawn(&["serve"], &[], &dir);
    let url = format!("http://127.0.0.1:{port}");
    process.wait_healthy(&url).await;
    let client = Client::new(&url);
    assert_eq!(client.get("/readyz").await.status, 200);
    let mut stream = client
        .stream(&json!({"model": "voice-fast", "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert!(stream.next_event().await.is_some());

    process.terminate();

    // At once: not ready, and saying why, so a load balancer moves new calls away...
    let mut ready = client.get("/readyz").await;
    for _ in 0..50 {
        if ready.status == 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        ready = client.get("/readyz").await;
    }
    assert_eq!(ready.status, 503, "{}", ready.text);
    assert_eq!(ready.json()["draining"], true, "{}", ready.text);
    // ...while calls that still arrive during the drain delay are served.
    let late = client
        .chat(&json!({"model": "voice-fast", "messages": [{"role": "user", "content": "late"}]}))
        .await;
    assert_eq!(late.status, 200, "{}", late.text);

    // Then the listener closes; the stream in flight runs to its end and the process exits 0.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_ok()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "still accepting 5 s after SIGTERM with a 1.5 s drain delay"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let end = stream.finish().await;
    assert!(end.done(), "{}", end.raw);
    let status = process.wait_exit(Duration::from_secs(10)).await;
    assert_eq!(status.code(), Some(0), "stderr:\n{}", process.stderr());
}

#[tokio::test]
async fn its_own_log_has_no_colour_codes_off_a_terminal_json_on_request_and_warns_of_a_missing_key()
{
    let dir = temp_dir("own-log");
    for format in ["text", "json"] {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let mut process = Process::spawn(
            &["serve", "--log-format", format],
            &[("SWITCHBOARD_LISTEN", &listen), ("OPENAI_API_KEY", "")],
            &dir,
        );
        let url = format!("http://{listen}");
        process.wait_healthy(&url).await;
        process.terminate();
        process.wait_exit(Duration::from_secs(10)).await;
        let log = process.stderr();
        assert!(
            !log.contains('\u{1b}'),
            "no ANSI escapes in a piped log: {log}"
        );
        assert!(
            log.contains("provider openai has no api_key"),
            "the empty key is named at start: {log}"
        );
        if format == "json" {
            for line in log.lines().filter(|l| !l.trim().is_empty()) {
                let parsed: serde_json::Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
                assert!(parsed["level"].is_string(), "{line}");
            }
        }
    }
}
