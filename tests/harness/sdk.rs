//! The official OpenAI Python SDK reading one stream, as a voice agent's code would (needs
//! `python3` with the `openai` package; scripts/test.sh installs it).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

/// What the official OpenAI Python SDK read from one stream of `model` at `url`: `text`,
/// `ids`, `roles` (chunks carrying a role), `finish_reasons`, and `error` when the stream
/// ended with one.
pub async fn sdk_reads(url: &str, model: &str) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("sdk/openai_stream_read.py");
    let (url, model) = (url.to_owned(), model.to_owned());
    let run = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(&script)
            .arg(&url)
            .arg(&model)
            .output()
    });
    let output = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("the SDK finished within 30 s")
        .expect("the SDK thread")
        .unwrap_or_else(|e| panic!("cannot run python3 ({e}): run scripts/test.sh"));
    assert_ne!(
        output.status.code(),
        Some(3),
        "`import openai` failed: run scripts/test.sh, which installs it"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!(
            "the SDK script printed no result:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}
