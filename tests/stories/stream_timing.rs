//! A live phone call streams its answer: a provider that is slow to start is left for the next
//! target before the caller notices, a stream that stalls mid-way ends with an error event
//! rather than a clean-looking end, and every stream is timed.

use std::time::{Duration, Instant};

use serde_json::json;
use switchboard_tests::{Gateway, mock};

fn ask(model: &str) -> serde_json::Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hello"}]})
}

fn chain(mock_url: &str, model: &str, primary: &str, policy: &str) -> String {
    format!(
        r#"
[providers.primary]
kind = "openai"
base_url = "{mock_url}"

[providers.backup]
kind = "openai"
base_url = "{mock_url}"

[models.{model}]
targets = [{{ provider = "primary", model = "{primary}" }}, {{ provider = "backup", model = "b?content=from%20backup" }}]
retries = 0
{policy}
"#
    )
}

#[tokio::test]
async fn a_slow_first_token_falls_back_invisibly() {
    let mock = mock().await;
    let gateway = Gateway::start(&chain(
        &mock.base_url(),
        "st-ftt",
        "a?ttft_ms=3000",
        "first_token_timeout_ms = 200",
    ))
    .await;
    let started = Instant::now();
    let stream = gateway.client().stream(&ask("st-ftt")).await;
    assert_eq!(stream.status, 200);
    assert_eq!(stream.header("x-switchboard-fallback-index"), Some("1"));
    assert_eq!(stream.header("x-switchboard-provider"), Some("backup"));
    let end = stream.finish().await;
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "took {:?}",
        started.elapsed()
    );
    assert!(end.done());
    assert_eq!(
        end.content(),
        "from backup",
        "nothing of the slow attempt reached the client"
    );
    assert_eq!(
        end.chunks()
            .iter()
            .filter(|c| c["choices"][0]["delta"]["role"] == "assistant")
            .count(),
        1,
        "one role chunk: the abandoned attempt's was never sent"
    );

    let record = gateway.records.wait_for(1).await.remove(0);
    assert_eq!(record["attempts"][0]["error_kind"], "first_token_timeout");
    assert_eq!(record["fallback_used"], true);
    let ttft = record["time_to_first_token"].as_f64().unwrap();
    assert!(
        ttft >= 0.2,
        "client-visible ttft includes the abandoned attempt: {ttft}"
    );
    let metrics = gateway.client().get("/metrics").await.text;
    assert!(metrics.contains(r#"switchboard_stream_timeouts_total{model="st-ftt",provider="primary",kind="first_token"} 1"#), "{metrics}");
}

#[tokio::test]
async fn keep_alives_and_the_role_chunk_are_not_a_first_token() {
    let mock = mock().await;
    let gateway = Gateway::start(&chain(
        &mock.base_url(),
        "st-keepalive",
        "a?ttft_ms=2000&keepalive_ms=50",
        "first_token_timeout_ms = 300",
    ))
    .await;
    let stream = gateway.client().stream(&ask("st-keepalive")).await;
    assert_eq!(stream.header("x-switchboard-provider"), Some("backup"));
    assert_eq!(stream.finish().await.content(), "from backup");
}

#[tokio::test]
async fn a_stall_after_the_first_token_ends_with_an_error_event_not_done() {
    let mock = mock().await;
    let gateway = Gateway::start(&chain(
        &mock.base_url(),
        "st-stall",
        "a?stall_after=1&chunks=4",
        "stall_timeout_ms = 300",
    ))
    .await;
    let started = Instant::now();
    let stream = gateway.client().stream(&ask("st-stall")).await;
    assert_eq!(stream.status, 200);
    assert_eq!(stream.header("x-switchboard-provider"), Some("primary"));
    let end = stream.finish().await;
    assert!(
        started.elapsed() < Duration::from_millis(2000),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        !end.done(),
        "a stalled stream must not look complete: {}",
        end.raw
    );
    let last = end.chunks().pop().unwrap();
    assert_eq!(last["error"]["code"], "stall");
    assert_eq!(last["error"]["type"], "upstream_error");
    assert!(
        !end.content().is_empty(),
        "the first content chunk was delivered"
    );
    assert!(
        mock.wait_cancelled(1, Duration::from_secs(3)).await,
        "the stalled upstream was closed"
    );

    let record = gateway.records.wait_for(1).await.remove(0);
    assert_eq!(record["status"], "error");
    assert_eq!(record["attempts"][0]["error_kind"], "stall");
    let metrics = gateway.client().get("/metrics").await.text;
    assert!(metrics.contains(r#"switchboard_stream_timeouts_total{model="st-stall",provider="primary",kind="stall"} 1"#), "{metrics}");
}

#[tokio::test]
async fn a_stream_cut_after_the_first_token_ends_with_an_error_event() {
    let mock = mock().await;
    let gateway = Gateway::start(&chain(
        &mock.base_url(),
        "st-cut",
        "a?drop_after=1&chunks=4",
        "",
    ))
    .await;
    let end = gateway.client().stream(&ask("st-cut")).await.finish().await;
    assert!(!end.done());
    assert_eq!(end.chunks().pop().unwrap()["error"]["code"], "connect");
    let record = gateway.records.wait_for(1).await.remove(0);
    assert_eq!(record["status"], "error");
}

#[tokio::test]
async fn a_cut_before_the_first_token_falls_back() {
    let mock = mock().await;
    let gateway = Gateway::start(&chain(
        &mock.base_url(),
        "st-early-cut",
        "a?drop_after=0",
        "",
    ))
    .await;
    let stream = gateway.client().stream(&ask("st-early-cut")).await;
    assert_eq!(stream.header("x-switchboard-provider"), Some("backup"));
    assert!(stream.finish().await.done());
}

#[tokio::test]
async fn when_no_target_starts_in_time_the_client_gets_a_504_not_a_stream() {
    let mock = mock().await;
    let gateway = Gateway::start(&format!(
        r#"
[providers.primary]
kind = "openai"
base_url = "{}"

[models.st-none]
targets = [{{ provider = "primary", model = "a?ttft_ms=3000" }}]
retries = 1
backoff_ms = 1
first_token_timeout_ms = 150
"#,
        mock.base_url()
    ))
    .await;
    let reply = gateway
        .client()
        .chat(&json!({"model": "st-none", "stream": true, "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(reply.status, 504);
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(reply.json()["error"]["code"], "first_token_timeout");
    // A silent target is not waited out twice: first_token_timeout is not in the default
    // retry_on (SPEC 10.1), whatever `retries` says.
    assert_eq!(reply.header("x-switchboard-attempts"), Some("1"));
}

#[tokio::test]
async fn a_steady_but_endless_stream_is_cut_at_timeout_ms() {
    let mock = mock().await;
    let gateway = Gateway::start(&chain(
        &mock.base_url(),
        "st-total",
        "a?chunks=40&chunk_ms=50",
        "timeout_ms = 500\nstall_timeout_ms = 400",
    ))
    .await;
    let end = gateway
        .client()
        .stream(&ask("st-total"))
        .await
        .finish()
        .await;
    assert!(!end.done());
    assert_eq!(end.chunks().pop().unwrap()["error"]["code"], "timeout");
    let metrics = gateway.client().get("/metrics").await.text;
    assert!(metrics.contains(r#"switchboard_stream_timeouts_total{model="st-total",provider="primary",kind="total"} 1"#), "{metrics}");
}

#[tokio::test]
async fn pauses_shorter_than_the_stall_timeout_are_left_alone_and_measured() {
    let mock = mock().await;
    let gateway = Gateway::start(&chain(
        &mock.base_url(),
        "st-pauses",
        "a?chunks=4&chunk_ms=150&ttft_ms=100",
        "stall_timeout_ms = 600\nfirst_token_timeout_ms = 1000",
    ))
    .await;
    let end = gateway
        .client()
        .stream(&ask("st-pauses"))
        .await
        .finish()
        .await;
    assert!(end.done());
    assert_eq!(end.content(), "Hello from mock");
    let record = gateway.records.wait_for(1).await.remove(0);
    let ttft = record["time_to_first_token"].as_f64().unwrap();
    let max_stall = record["max_stall"].as_f64().unwrap();
    let latency = record["latency"].as_f64().unwrap();
    assert!((0.1..0.5).contains(&ttft), "ttft {ttft}");
    assert!((0.13..0.5).contains(&max_stall), "max_stall {max_stall}");
    assert!(latency >= ttft + 2.0 * 0.14, "latency {latency}");
    assert!(
        record["attempts"][0]["time_to_first_token"]
            .as_f64()
            .is_some()
    );
}

#[tokio::test]
async fn one_unreadable_event_is_skipped_and_the_stream_goes_on() {
    let mock = mock().await;
    let gateway = Gateway::start(&format!(
        r#"
[providers.primary]
kind = "openai"
base_url = "{url}"

[providers.claude]
kind = "anthropic"
base_url = "{url}"
api_key = "sk-ant-test"

[models.st-garbage]
targets = [{{ provider = "primary", model = "a?chunks=4&garbage_after=2" }}]

[models.st-garbage-anthropic]
targets = [{{ provider = "claude", model = "claude-haiku?chunks=4&garbage_after=2" }}]
"#,
        url = mock.base_url()
    ))
    .await;
    for model in ["st-garbage", "st-garbage-anthropic"] {
        let stream = gateway.client().stream(&ask(model)).await;
        let id = stream
            .header("x-switchboard-request-id")
            .unwrap()
            .to_owned();
        let end = stream.finish().await;
        assert!(end.done(), "{model}: {}", end.raw);
        assert_eq!(end.content(), "Hello from mock", "{model}");
        let record = gateway.records.by_id(&id).await;
        assert_eq!(record["status"], "success", "{record:#}");
        let warnings = record["warnings"].to_string();
        assert!(
            warnings.contains("1 stream event(s) could not be read and were skipped"),
            "{model}: {warnings}"
        );
    }
    let metrics = gateway.client().get("/metrics").await.text;
    assert_eq!(
        switchboard_tests::metric_value(
            &metrics,
            "switchboard_stream_events_skipped_total",
            &[("model", "st-garbage"), ("provider", "primary")]
        ),
        Some(1.0),
        "{metrics}"
    );
}
