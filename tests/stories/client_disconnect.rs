//! A caller hangs up mid-answer (or before the first word). Switchboard stops paying for
//! tokens nobody will hear: it closes the upstream stream at once, and the log says the
//! client went away rather than calling it a success or an error.

use std::time::Duration;

use serde_json::json;
use switchboard_tests::{Gateway, mock};

fn config(mock_url: &str, model: &str, first: &str) -> String {
    format!(
        r#"
[providers.openai]
kind = "openai"
base_url = "{mock_url}"

[models."{model}"]
targets = [{{ provider = "openai", model = "{first}" }}, {{ provider = "openai", model = "gpt-4o-mini" }}]
first_token_timeout_ms = 10000
"#
    )
}

#[tokio::test]
async fn a_client_that_hangs_up_mid_stream_cancels_the_upstream_stream() {
    let mock = mock().await;
    let model = "disconnect-mid-stream";
    let gateway = Gateway::start(&config(
        &mock.base_url(),
        model,
        "gpt-4o?chunk_ms=200&chunks=10",
    ))
    .await;

    let mut stream = gateway
        .client()
        .stream(
            &json!({"model": model, "messages": [{"role": "user", "content": "tell me a story"}]}),
        )
        .await;
    assert_eq!(stream.status, 200);
    let id = stream
        .header("x-switchboard-request-id")
        .unwrap()
        .to_owned();
    // Read up to the first piece of content, then hang up.
    loop {
        let event = stream.next_event().await.expect("the stream has content");
        let chunk: serde_json::Value = serde_json::from_str(&event).unwrap();
        if chunk["choices"][0]["delta"]["content"]
            .as_str()
            .is_some_and(|c| !c.is_empty())
        {
            break;
        }
    }
    drop(stream);

    // 10 chunks 200 ms apart would take ~2 s; the upstream is closed long before that.
    assert!(
        mock.wait_cancelled(1, Duration::from_millis(1500)).await,
        "the upstream stream was not cancelled"
    );
    let record = gateway.records.by_id(&id).await;
    assert_eq!(record["status"], "client_disconnected", "{record:#}");
    assert_eq!(record["status_code"], 200, "the head had gone out");
    assert_eq!(record["provider_id"], "openai");
    assert!(record["time_to_first_token"].as_f64().is_some());
    let output = record["output"]["content"].as_str().unwrap_or("");
    assert!(
        !output.is_empty() && output.len() < "Hello from mock".len(),
        "partial output kept: {output:?}"
    );
    assert_eq!(
        mock.requests().len(),
        1,
        "no fallback for a client that left"
    );
}

#[tokio::test]
async fn a_client_that_gives_up_before_the_first_token_closes_the_upstream_connection() {
    let mock = mock().await;
    let model = "disconnect-before-first-token";
    let gateway = Gateway::start(&config(&mock.base_url(), model, "gpt-4o?ttft_ms=3000")).await;
    let client = gateway.client();

    let body = json!({"model": model, "messages": [{"role": "user", "content": "hello?"}]});
    let gave_up = tokio::time::timeout(Duration::from_millis(200), client.stream(&body)).await;
    assert!(
        gave_up.is_err(),
        "the head must wait for the first token (3 s away)"
    );

    // The upstream attempt is abandoned well before its first token would have come.
    assert!(
        mock.wait_cancelled(1, Duration::from_millis(1500)).await,
        "the upstream stream was not cancelled after the client left"
    );
    let record = gateway.records.wait_for(1).await[0].clone();
    assert_eq!(record["status"], "client_disconnected", "{record:#}");
    assert_eq!(record["model"], model);
    assert_eq!(record["stream"], true);
    assert!(record["latency"].as_f64().unwrap() < 2.0, "{record:#}");
    assert_eq!(
        mock.requests().len(),
        1,
        "no fallback for a client that left"
    );
}
