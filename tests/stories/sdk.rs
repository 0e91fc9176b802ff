//! A team points the official OpenAI Python SDK at Switchboard and changes nothing else: plain
//! calls, streams, streamed tool calls and errors all read as the SDK expects them.
//! Needs `python3` with the `openai` package (scripts/test.sh installs it); the last story
//! drives the mock provider with the official Anthropic SDK (the `anthropic` package).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use switchboard_tests::{Gateway, mock};

#[tokio::test]
async fn the_official_openai_python_sdk_works_unchanged() {
    let mock = mock().await;
    let gateway = Gateway::start(&format!(
        r#"
[providers.openai]
kind = "openai"
base_url = "{}"

[models."voice-fast"]
targets = [{{ provider = "openai", model = "gpt-4o-mini?chunks=4" }}]

[models.agent]
targets = [{{ provider = "openai", model = "gpt-4o?tool_call=lookup&args=%7B%22city%22%3A%22Paris%22%7D&chunks=3" }}]
"#,
        mock.base_url()
    ))
    .await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("sdk/openai_sdk_check.py");
    let url = gateway.url();

    // The gateway runs on this runtime; the SDK runs on a blocking thread beside it.
    let run = tokio::task::spawn_blocking(move || {
        Command::new("python3").arg(&script).arg(&url).output()
    });
    let output = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("the SDK check finished within 30 s")
        .expect("the SDK check thread")
        .unwrap_or_else(|e| {
            panic!("cannot run python3 ({e}): install Python 3, then run scripts/test.sh")
        });

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.code() == Some(3) {
        panic!("`import openai` failed: run scripts/test.sh, which installs it\n{stderr}");
    }
    assert!(
        output.status.success(),
        "the OpenAI SDK check failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    for step in [
        "ok: non-stream",
        "ok: stream",
        "ok: streamed tool call",
        "ok: NotFoundError",
    ] {
        assert!(stdout.contains(step), "missing {step:?}:\n{stdout}");
    }
    // Every call went through the gateway, and the error never reached the provider.
    assert_eq!(mock.requests().len(), 3);
    let records = gateway.records.wait_for(4).await;
    let statuses: Vec<_> = records
        .iter()
        .map(|r| r["status"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(statuses, ["success", "success", "success", "error"]);
}

/// The Anthropic adapter is tested against the loadtest mock's Messages API; this proves that
/// mock faithful: the official Anthropic Python SDK reads its answers, streams (with pings),
/// tool use and errors as it reads Anthropic's own.
/// Needs `python3` with the `anthropic` package (scripts/test.sh installs it).
#[tokio::test]
async fn the_official_anthropic_python_sdk_reads_the_mock_as_anthropic() {
    let mock = mock().await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("sdk/anthropic_mock_check.py");
    let url = mock.anthropic_base_url();

    let run = tokio::task::spawn_blocking(move || {
        Command::new("python3").arg(&script).arg(&url).output()
    });
    let output = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the SDK check finished within 60 s")
        .expect("the SDK check thread")
        .unwrap_or_else(|e| {
            panic!("cannot run python3 ({e}): install Python 3, then run scripts/test.sh")
        });

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.code() == Some(3) {
        panic!("`import anthropic` failed: run scripts/test.sh, which installs it\n{stderr}");
    }
    assert!(
        output.status.success(),
        "the Anthropic SDK check against the mock failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    for step in [
        "ok: messages.create",
        "ok: messages.stream",
        "ok: tool use",
        "ok: errors",
    ] {
        assert!(stdout.contains(step), "missing {step:?}:\n{stdout}");
    }
    let requests = mock.requests();
    assert_eq!(requests.len(), 9, "one request per SDK call");
    for request in &requests {
        assert_eq!(request.path, "/v1/messages");
        let header = |name: &str| request.headers.get(name).and_then(|v| v.to_str().ok());
        // Older SDKs send the key as `x-api-key` (as the adapter does), newer ones (2.x) as
        // `Authorization: Bearer`; the mock takes either.
        assert!(
            header("x-api-key") == Some("sk-ant-sdk")
                || header("authorization") == Some("Bearer sk-ant-sdk"),
            "no API key: {:?}",
            request.headers
        );
        assert!(
            header("anthropic-version").is_some(),
            "{:?}",
            request.headers
        );
    }
}
