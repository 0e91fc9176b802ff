//! The on-call engineer changes the config of a running gateway (SPEC section 9.1): by
//! `POST /api/admin/reload` or SIGHUP, a good file takes effect for new requests at once, a
//! broken one is refused whole with every problem named, calls in flight finish on the config
//! they started with, and what needs a restart is said, not half-applied.

use std::path::Path;
use std::time::Duration;

use serde_json::json;
use switchboard_tests::binary::{Process, free_port, temp_dir};
use switchboard_tests::{Client, metric_value, mock};

fn write(dir: &Path, port: u16, mock_url: &str, extra_server: &str, models: &str) {
    std::fs::write(
        dir.join("switchboard.toml"),
        format!(
            r#"
[server]
listen = "127.0.0.1:{port}"
{extra_server}

[providers.openai]
kind = "openai"
base_url = "{mock_url}"

{models}
"#
        ),
    )
    .unwrap();
}

fn ask(model: &str) -> serde_json::Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}]})
}

async fn version(client: &Client) -> u64 {
    client.get("/readyz").await.json()["config_version"]
        .as_u64()
        .expect("config_version in /readyz")
}

#[tokio::test]
async fn a_reload_by_api_applies_a_good_file_and_refuses_a_broken_one_whole() {
    let mock = mock().await;
    let dir = temp_dir("reload-api");
    let port = free_port();
    let one = r#"[models."voice-fast"]
targets = [{ provider = "openai", model = "first" }]"#;
    write(&dir, port, &mock.base_url(), "", one);
    let mut process = Process::spawn(&["serve"], &[], &dir);
    let url = format!("http://127.0.0.1:{port}");
    process.wait_healthy(&url).await;
    let client = Client::new(&url);
    assert_eq!(version(&client).await, 1);
    assert_eq!(client.chat(&ask("voice-new")).await.status, 404);
    assert_eq!(client.chat(&ask("voice-fast")).await.status, 200);
    let warm = mock.connections();

    let two = format!(
        "{one}\n[models.\"voice-new\"]\ntargets = [{{ provider = \"openai\", model = \"second\" }}]"
    );
    write(&dir, port, &mock.base_url(), "", &two);
    let reply = client.post_raw("/api/admin/reload", "").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["reloaded"], true);
    assert_eq!(reply.json()["config_version"], 2);
    assert_eq!(version(&client).await, 2);
    let served = client.chat(&ask("voice-new")).await;
    assert_eq!(served.status, 200, "{}", served.text);
    assert_eq!(served.header("x-switchboard-model"), Some("second"));
    assert_eq!(
        mock.connections(),
        warm,
        "the new generation kept using the open upstream connection"
    );

    // A broken file: every problem in the answer, and nothing of it applied.
    std::fs::write(
        dir.join("switchboard.toml"),
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\nmax_body_byte = 1\n[models.x]\ntargets = [{{ provider = \"nope\", model = \"m\" }}]\n"
        ),
    )
    .unwrap();
    let refused = client.post_raw("/api/admin/reload", "").await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    let body = refused.json();
    assert_eq!(body["error"]["code"], "invalid_config", "{body}");
    let problems: Vec<String> = body["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_owned())
        .collect();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("server.max_body_byte") && p.contains("max_body_bytes")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("models.x.targets[0].provider")),
        "{problems:?}"
    );
    assert_eq!(version(&client).await, 2, "the running config stays");
    assert_eq!(client.chat(&ask("voice-new")).await.status, 200);

    let metrics = client.get("/metrics").await.text;
    for (result, n) in [("ok", 1.0), ("error", 1.0)] {
        assert_eq!(
            metric_value(
                &metrics,
                "switchboard_config_reloads_total",
                &[("result", result)]
            ),
            Some(n),
            "{metrics}"
        );
    }
    process.terminate();
    assert_eq!(
        process.wait_exit(Duration::from_secs(10)).await.code(),
        Some(0)
    );
}

#[tokio::test]
async fn sighup_reloads_while_a_stream_in_flight_finishes_on_its_old_target() {
    let mock = mock().await;
    let dir = temp_dir("reload-hup");
    let port = free_port();
    write(
        &dir,
        port,
        &mock.base_url(),
        "",
        r#"[models."voice-fast"]
targets = [{ provider = "openai", model = "old?chunks=10&chunk_ms=100" }]"#,
    );
    let mut process = Process::spawn(&["serve"], &[], &dir);
    let url = format!("http://127.0.0.1:{port}");
    process.wait_healthy(&url).await;
    let client = Client::new(&url);
    let mut stream = client.stream(&ask("voice-fast")).await;
    assert!(stream.next_event().await.is_some());

    write(
        &dir,
        port,
        &mock.base_url(),
        "",
        r#"[models."voice-fast"]
targets = [{ provider = "openai", model = "new" }]"#,
    );
    let status = std::process::Command::new("kill")
        .args(["-HUP", &process.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while version(&client).await < 2 {
        assert!(tokio::time::Instant::now() < deadline, "SIGHUP reloads");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let fresh = client.chat(&ask("voice-fast")).await;
    assert_eq!(fresh.header("x-switchboard-model"), Some("new"));

    assert_eq!(
        stream.header("x-switchboard-model"),
        Some("old?chunks=10&chunk_ms=100")
    );
    let end = stream.finish().await;
    assert!(
        end.done(),
        "the stream in flight ran to its end: {}",
        end.raw
    );
    assert_eq!(end.content(), "Hello from mock");
    process.terminate();
    assert_eq!(
        process.wait_exit(Duration::from_secs(10)).await.code(),
        Some(0)
    );
}

#[tokio::test]
async fn a_change_that_needs_a_restart_is_named_and_key_rotation_applies_at_once() {
    let mock = mock().await;
    let dir = temp_dir("reload-restart");
    let port = free_port();
    let models = r#"[models."voice-fast"]
targets = [{ provider = "openai", model = "m" }]"#;
    write(
        &dir,
        port,
        &mock.base_url(),
        r#"api_keys = ["sk-old-key"]"#,
        models,
    );
    let mut process = Process::spawn(&["serve"], &[], &dir);
    let url = format!("http://127.0.0.1:{port}");
    process.wait_healthy(&url).await;
    let old = Client::new(&url).with_key("sk-old-key");
    let new = Client::new(&url).with_key("sk-new-key");
    assert_eq!(old.chat(&ask("voice-fast")).await.status, 200);

    // Rotate the client key and (by mistake) change the port, the metric labels and [otel].
    std::fs::write(
        dir.join("switchboard.toml"),
        std::fs::read_to_string(dir.join("switchboard.toml"))
            .unwrap()
            .replace("sk-old-key", "sk-new-key")
            .replace(&format!(":{port}\""), &format!(":{}\"", free_port()))
            + "\n[metrics]\nmetadata_labels = [\"use_case\"]\n"
            + "\n[otel]\nendpoint = \"http://127.0.0.1:4318\"\n",
    )
    .unwrap();
    let reply = Client::new(&url).post_raw("/api/admin/reload", "").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let warnings = reply.json()["warnings"].to_string();
    assert!(warnings.contains("server.listen"), "{warnings}");
    assert!(warnings.contains("[metrics]"), "{warnings}");
    assert!(warnings.contains("[otel]"), "{warnings}");
    assert!(!warnings.contains("api_keys"), "{warnings}");

    assert_eq!(
        new.chat(&ask("voice-fast")).await.status,
        200,
        "still on the old port, with the new key"
    );
    assert_eq!(
        old.chat(&ask("voice-fast")).await.status,
        401,
        "the old key is gone"
    );
    process.terminate();
    assert_eq!(
        process.wait_exit(Duration::from_secs(10)).await.code(),
        Some(0)
    );
}
