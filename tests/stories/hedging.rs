//! A voice agent cannot wait for a provider that is late today: with `hedge_after_ms`, a call
//! with no first token after the delay starts the next target beside it, the first to speak
//! is relayed, and the other is hung up on at once. With `"auto"` the delay is each target's
//! own recent p95, so a healthy provider is never hedged.

use std::time::Duration;

use serde_json::{Value, json};
use switchboard_tests::{Gateway, SseStream, metric_value, mock, sdk_reads};

fn ask(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "¿Cuál es mi saldo?"}]})
}

fn chain(mock_url: &str, model: &str, primary: &str, backup: &str, policy: &str) -> String {
    format!(
        r#"
[providers.primary]
kind = "openai"
base_url = "{mock_url}"

[providers.backup]
kind = "openai"
base_url = "{mock_url}"

[models."{model}"]
targets = [{{ provider = "primary", model = "{primary}" }}, {{ provider = "backup", model = "{backup}" }}]
{policy}
"#
    )
}

fn request_id(stream: &SseStream) -> String {
    stream
        .header("x-switchboard-request-id")
        .expect("x-switchboard-request-id")
        .to_owned()
}

fn attempts(record: &Value) -> Vec<Value> {
    record["attempts"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_late_stream_is_hedged_the_backup_speaks_first_and_the_primary_is_hung_up_on() {
    let mock = mock().await;
    let model = "hedge-fixed-stream";
    let gateway = Gateway::start(&chain(
        &mock.base_url(),
        model,
        "late?ttft_ms=5000",
        "quick?chunks=4",
        "hedge_after_ms = 100\nfirst_token_timeout_ms = 8000",
    ))
    .await;
    let stream = gateway.client().stream(&ask(model)).await;
    assert_eq!(stream.status, 200);
    assert_eq!(stream.header("x-switchboard-hedged"), Some("true"));
    assert_eq!(stream.header("x-switchboard-provider"), Some("backup"));
    let id = request_id(&stream);
    let end = stream.finish().await;
    assert!(end.done(), "{}", end.raw);
    assert_eq!(
        end.content(),
        "Hello from mock",
        "the caller heard one answer"
    );

    // The primary, 5 s from its first token, saw its connection closed right away.
    assert!(
        mock.wait_cancelled(1, Duration::from_millis(1500)).await,
        "the primary's upstream stream was not closed"
    );
    let record = gateway.records.by_id(&id).await;
    assert_eq!(record["provider_id"], "backup", "{record:#}");
    let attempts = attempts(&record);
    assert_eq!(attempts.len(), 2, "{record:#}");
    assert_eq!(attempts[0]["provider_id"], "primary");
    assert_eq!(attempts[0]["cancelled"], true);
    assert!(attempts[0].get("hedge").is_none());
    assert_eq!(attempts[1]["provider_id"], "backup");
    assert_eq!(attempts[1]["hedge"], true);
    assert!(attempts[1].get("cancelled").is_none());
    assert_eq!(attempts[1]["error_kind"], Value::Null);
    assert!(
        record["time_to_first_token"].as_f64().unwrap() < 5.0,
        "the caller did not wait for the primary: {record:#}"
    );

    let metrics = gateway.client().get("/metrics").await.text;
    assert_eq!(
        metric_value(
            &metrics,
            "switchboard_hedges_total",
            &[("model", model), ("provider", "backup"), ("outcome", "won")]
        ),
        Some(1.0),
        "{metrics}"
    );

    // Read by the official OpenAI SDK, a hedged call is one answer, whole, once.
    let read = sdk_reads(&gateway.url(), model).await;
    assert_eq!(read["error"], Value::Null, "{read}");
    assert_eq!(read["text"], "Hello from mock", "{read}");
    assert_eq!(read["roles"], 1, "{read}");
    assert_eq!(read["finish_reasons"], json!(["stop"]), "{read}");
}

#[tokio::test]
async fn when_the_primary_speaks_first_the_hedge_is_the_one_hung_up_on() {
    let mock = mock().await;
    let model = "hedge-primary-wins";
    let gateway = Gateway::start(&chain(
        &mock.base_url(),
        model,
        "a-bit-late?ttft_ms=300",
        "later?ttft_ms=5000",
        "hedge_after_ms = 50",
    ))
    .await;
    let stream = gateway.client().stream(&ask(model)).await;
    assert_eq!(stream.header("x-switchboard-hedged"), Some("true"));
    assert_eq!(stream.header("x-switchboard-provider"), Some("primary"));
    assert_eq!(stream.header("x-switchboard-fallback-index"), Some("0"));
    let id = request_id(&stream);
    assert!(stream.finish().await.done());
    assert!(
        mock.wait_cancelled(1, Duration::from_millis(1500)).await,
        "the hedge's upstream stream was not closed"
    );
    let record = gateway.records.by_id(&id).await;
    let attempts = attempts(&record);
    assert_eq!(attempts[0]["provider_id"], "backup", "{record:#}");
    assert_eq!(attempts[0]["hedge"], true);
    assert_eq!(attempts[0]["cancelled"], true);
    assert_eq!(attempts[1]["provider_id"], "primary");
    assert_eq!(record["fallback_used"], false, "{record:#}");
    let metrics = gateway.client().get("/metrics").await.text;
    assert_eq!(
        metric_value(
            &metrics,
            "switchboard_hedges_total",
            &[
                ("model", model),
                ("provider", "backup"),
                ("outcome", "lost")
            ]
        ),
        Some(1.0),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_late_whole_answer_is_hedged_too() {
    let mock = mock().await;
    let model = "hedge-non-stream";
    let gateway = Gateway::start(&chain(
        &mock.base_url(),
        model,
        "late?ttft_ms=3000",
        "quick",
        "hedge_after_ms = 100",
    ))
    .await;
    let reply = gateway.client().chat(&ask(model)).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.header("x-switchboard-hedged"), Some("true"));
    assert_eq!(reply.header("x-switchboard-provider"), Some("backup"));
    assert_eq!(
        reply.json()["choices"][0]["message"]["content"],
        "Hello from mock"
    );
    let record = gateway.records.wait_for(1).await.remove(0);
    let attempts = attempts(&record);
    assert_eq!(attempts[0]["cancelled"], true, "{record:#}");
    assert_eq!(attempts[1]["hedge"], true);
    assert!(record["latency"].as_f64().unwrap() < 3.0, "{record:#}");
}

#[tokio::test]
async fn a_primary_that_fails_during_the_race_leaves_the_hedge_to_serve() {
    let mock = mock().await;
    let model = "hedge-primary-fails";
    let gateway = Gateway::start(&chain(
        &mock.base_url(),
        model,
        "late-then-silent?stall_after=0",
        "slowish?ttft_ms=250",
        // The hedge starts at 200 ms and speaks at 450; the primary gives up at 300.
        "hedge_after_ms = 200\nfirst_token_timeout_ms = 300",
    ))
    .await;
    let stream = gateway.client().stream(&ask(model)).await;
    assert_eq!(stream.status, 200);
    assert_eq!(stream.header("x-switchboard-provider"), Some("backup"));
    let id = request_id(&stream);
    assert!(stream.finish().await.done());
    let record = gateway.records.by_id(&id).await;
    let attempts = attempts(&record);
    assert_eq!(attempts.len(), 2, "{record:#}");
    assert_eq!(attempts[0]["provider_id"], "primary");
    assert_eq!(attempts[0]["error_kind"], "first_token_timeout");
    assert!(attempts[0].get("cancelled").is_none());
    assert_eq!(attempts[1]["hedge"], true);
    assert_eq!(attempts[1]["error_kind"], Value::Null);
}

#[tokio::test]
async fn a_healthy_primary_is_never_hedged_and_auto_waits_for_twenty_first_tokens() {
    let mock = mock().await;
    // Healthy: 20 ms to the first token, every call. "auto" settles on the 50 ms floor.
    let model = "hedge-auto-healthy";
    let gateway = Gateway::start(&chain(
        &mock.base_url(),
        model,
        "steady?ttft_ms=20",
        "b",
        "hedge_after_ms = \"auto\"\nhedge_min_ms = 50",
    ))
    .await;
    let client = gateway.client();
    for _ in 0..40 {
        let stream = client.stream(&ask(model)).await;
        assert_eq!(stream.header("x-switchboard-hedged"), None);
        assert_eq!(stream.header("x-switchboard-provider"), Some("primary"));
        assert!(stream.finish().await.done());
    }
    assert!(
        mock.requests_for("b").is_empty(),
        "the backup was never called"
    );
}

#[tokio::test]
async fn auto_hedges_the_calls_that_are_late_for_that_target() {
    let mock = mock().await;
    let model = "hedge-auto-stalls";
    // A third of the primary's calls never start; the others speak after 20 ms.
    let gateway = Gateway::start(&chain(
        &mock.base_url(),
        model,
        "flaky?ttft_ms=20&stall_after=0&stall_rate=0.33",
        "b",
        "hedge_after_ms = \"auto\"\nhedge_min_ms = 60\nfirst_token_timeout_ms = 400",
    ))
    .await;
    let client = gateway.client();
    let mut primary_first_tokens = 0;
    let mut hedged = 0;
    let mut timed_out_after_window = 0;
    for _ in 0..70 {
        let stream = client.stream(&ask(model)).await;
        assert_eq!(stream.status, 200);
        let was_hedged = stream.header("x-switchboard-hedged") == Some("true");
        let provider = stream.header("x-switchboard-provider").unwrap().to_owned();
        let id = request_id(&stream);
        assert!(stream.finish().await.done());
        let record = gateway.records.by_id(&id).await;
        let attempts = attempts(&record);
        if was_hedged {
            hedged += 1;
            assert!(
                primary_first_tokens >= 20,
                "hedged before the primary had 20 first tokens: {record:#}"
            );
            // The stalled primary was hung up on, not waited out.
            assert_eq!(provider, "backup", "{record:#}");
            assert_eq!(attempts[0]["cancelled"], true, "{record:#}");
        } else if provider == "backup" {
            // A stall the gateway could only time out.
            assert_eq!(attempts[0]["error_kind"], "first_token_timeout");
            if primary_first_tokens >= 20 {
                timed_out_after_window += 1;
            }
        }
        if provider == "primary" {
            primary_first_tokens += 1;
        }
    }
    assert!(hedged >= 3, "only {hedged} hedges in 70 calls");
    assert_eq!(
        timed_out_after_window, 0,
        "once the window was full, every stall was hedged"
    );
}
