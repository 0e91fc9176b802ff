//! A team moving off a hosted platform points its Respan logging code (the official
//! `respan-api` SDK) at Switchboard by changing one base URL, and every call it makes works:
//! create, bulk create, retrieve, list with filters and pages, and the errors it expects.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use switchboard_tests::binary::{Process, free_port, temp_dir};

const ADMIN_KEY: &str = "sb-admin-respan-123";

#[tokio::test]
async fn the_official_respan_sdk_works_against_the_gateway_by_changing_its_base_url() {
    let dir = temp_dir("respan-sdk");
    let port = free_port();
    std::fs::write(
        dir.join("switchboard.toml"),
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\nadmin_key = \"{ADMIN_KEY}\"\n\n[logging]\nstore = \"sqlite://{}\"\nspool_dir = \"{}\"\n",
            dir.join("logs.db").display(),
            dir.join("spool").display()
        ),
    )
    .unwrap();
    let mut gateway = Process::spawn(&["serve"], &[], &dir);
    let url = format!("http://127.0.0.1:{port}");
    gateway.wait_healthy(&url).await;

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("sdk/respan_sdk_check.py");
    let run = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(&script)
            .arg(&url)
            .arg(ADMIN_KEY)
            .output()
    });
    let output = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the SDK check finished within 60 s")
        .expect("the SDK check thread")
        .unwrap_or_else(|e| panic!("cannot run python3 ({e}): run scripts/test.sh"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_ne!(
        output.status.code(),
        Some(3),
        "`import respan` failed: run scripts/test.sh, which installs respan-api\n{stderr}"
    );
    assert!(
        output.status.success(),
        "the Respan SDK check failed:\n{stdout}\n{stderr}"
    );
    for step in [
        "ok: create_span",
        "ok: bulk_create_spans",
        "ok: retrieve_span",
        "ok: list_spans filters",
        "ok: list_spans pages",
        "ok: BadRequestError",
        "ok: 401 for a wrong key",
    ] {
        assert!(
            stdout.contains(step),
            "missing {step:?}:\n{stdout}\n{stderr}"
        );
    }
    gateway.terminate();
}
