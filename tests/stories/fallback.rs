//! A provider errors, rate-limits or is unreachable: the call is retried and then served by the
//! next target in the chain, and the response, the record and the counters say what happened.
//! A silent provider is left at once, a prompt too long for one model goes to the next, and a
//! content filter's refusal goes back to the caller with the provider's reason.

use std::time::{Duration, Instant};

use serde_json::json;
use switchboard_tests::{Gateway, mock};

fn ask(model: &str) -> serde_json::Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hello"}]})
}

fn two_providers(mock_url: &str, models: &str) -> String {
    format!(
        r#"
[providers.primary]
kind = "openai"
base_url = "{mock_url}"
api_key = "sk-primary-secret"

[providers.backup]
kind = "openai"
base_url = "{mock_url}"
api_key = "sk-backup-secret"

{models}
"#
    )
}

#[tokio::test]
async fn a_failing_primary_is_retried_then_the_backup_serves() {
    let mock = mock().await;
    let gateway = Gateway::start(&two_providers(
        &mock.base_url(),
        r#"[models.fb-503]
targets = [{ provider = "primary", model = "a?fail=503" }, { provider = "backup", model = "b" }]
retries = 1
backoff_ms = 10"#,
    ))
    .await;
    let reply = gateway.client().chat(&ask("fb-503")).await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.header("x-switchboard-provider"), Some("backup"));
    assert_eq!(reply.header("x-switchboard-attempts"), Some("3"));
    assert_eq!(reply.header("x-switchboard-fallback-index"), Some("1"));
    assert_eq!(
        mock.requests_for("a").len(),
        2,
        "one try and one retry on the primary"
    );

    let record = gateway.records.wait_for(1).await.remove(0);
    assert_eq!(record["retries"], 2);
    assert_eq!(record["fallback_used"], true);
    assert_eq!(record["provider_id"], "backup");
    let kinds: Vec<_> = record["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["error_kind"].clone())
        .collect();
    assert_eq!(kinds, vec![json!("5xx"), json!("5xx"), json!(null)]);
    assert_eq!(record["attempts"][0]["status_code"], 503);

    let metrics = gateway.client().get("/metrics").await.text;
    assert!(
        metrics.contains(
            r#"switchboard_retries_total{model="fb-503",provider="primary",reason="5xx"} 1"#
        ),
        "{metrics}"
    );
    assert!(metrics.contains(r#"switchboard_fallbacks_total{model="fb-503",from_provider="primary",to_provider="backup",reason="5xx"} 1"#), "{metrics}");
}

#[tokio::test]
async fn a_passing_hiccup_is_absorbed_by_a_retry_on_the_same_target() {
    let mock = mock().await;
    let gateway = Gateway::start(&two_providers(
        &mock.base_url(),
        r#"[models.fb-hiccup]
targets = [{ provider = "primary", model = "a?fail=500&times=1" }, { provider = "backup", model = "b" }]
retries = 1
backoff_ms = 5"#,
    ))
    .await;
    let reply = gateway.client().chat(&ask("fb-hiccup")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("x-switchboard-provider"), Some("primary"));
    assert_eq!(reply.header("x-switchboard-attempts"), Some("2"));
    assert_eq!(reply.header("x-switchboard-fallback-index"), Some("0"));
    let record = gateway.records.wait_for(1).await.remove(0);
    assert_eq!(record["fallback_used"], false);
    assert_eq!(record["retries"], 1);
}

#[tokio::test]
async fn retry_after_is_waited_when_it_fits_the_budget() {
    let mock = mock().await;
    let gateway = Gateway::start(&two_providers(
        &mock.base_url(),
        r#"[models.fb-429]
targets = [{ provider = "primary", model = "a?fail=429&times=1&retry_after=1" }, { provider = "backup", model = "b" }]
retries = 1
budget_ms = 5000"#,
    ))
    .await;
    let started = Instant::now();
    let reply = gateway.client().chat(&ask("fb-429")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("x-switchboard-provider"),
        Some("primary"),
        "the retry after the wait served it"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "waited {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn retry_after_longer_than_the_budget_moves_on_at_once() {
    let mock = mock().await;
    let gateway = Gateway::start(&two_providers(
        &mock.base_url(),
        r#"[models.fb-429-tight]
targets = [{ provider = "primary", model = "a?fail=429&retry_after=30" }, { provider = "backup", model = "b" }]
retries = 3
budget_ms = 2000"#,
    ))
    .await;
    let started = Instant::now();
    let reply = gateway.client().chat(&ask("fb-429-tight")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("x-switchboard-provider"), Some("backup"));
    assert_eq!(reply.header("x-switchboard-attempts"), Some("2"));
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_unreachable_provider_is_a_connect_error_and_falls_back() {
    let mock = mock().await;
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let gateway = Gateway::start(&format!(
        r#"
[providers.down]
kind = "openai"
base_url = "http://127.0.0.1:{closed_port}/v1"

[providers.backup]
kind = "openai"
base_url = "{}"

[models.fb-connect]
targets = [{{ provider = "down", model = "x" }}, {{ provider = "backup", model = "b" }}]
retries = 0
"#,
        mock.base_url()
    ))
    .await;
    let reply = gateway.client().chat(&ask("fb-connect")).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.header("x-switchboard-provider"), Some("backup"));
    let record = gateway.records.wait_for(1).await.remove(0);
    assert_eq!(record["attempts"][0]["error_kind"], "connect");
    assert_eq!(record["attempts"][0]["status_code"], json!(null));
}

#[tokio::test]
async fn when_every_target_fails_the_client_gets_the_last_status_and_each_reason() {
    let mock = mock().await;
    let gateway = Gateway::start(&two_providers(
        &mock.base_url(),
        r#"[models.fb-all]
targets = [{ provider = "primary", model = "a?fail=503" }, { provider = "backup", model = "b?fail=502" }]
retries = 0"#,
    ))
    .await;
    let reply = gateway.client().chat(&ask("fb-all")).await;
    assert_eq!(reply.status, 502);
    let error = &reply.json()["error"];
    assert_eq!(error["type"], "upstream_error");
    assert_eq!(error["code"], "5xx");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("primary/a?fail=503") && message.contains("HTTP 503"),
        "{message}"
    );
    assert!(
        message.contains("backup/b?fail=502") && message.contains("HTTP 502"),
        "{message}"
    );
    assert!(!reply.text.contains("sk-primary-secret") && !reply.text.contains("sk-backup-secret"));

    let record = gateway.records.wait_for(1).await.remove(0);
    assert_eq!(record["status"], "error");
    assert_eq!(record["status_code"], 502);
    assert_eq!(record["provider_id"], "backup", "the last target tried");
}

#[tokio::test]
async fn timeouts_end_in_504_and_the_budget_bounds_the_whole_request() {
    let mock = mock().await;
    let gateway = Gateway::start(&two_providers(
        &mock.base_url(),
        r#"[models.fb-slow]
targets = [{ provider = "primary", model = "a?ttft_ms=5000" }, { provider = "backup", model = "b?ttft_ms=5000" }]
retries = 0
timeout_ms = 400
budget_ms = 600"#,
    ))
    .await;
    let started = Instant::now();
    let reply = gateway.client().chat(&ask("fb-slow")).await;
    let took = started.elapsed();
    assert_eq!(reply.status, 504, "{}", reply.text);
    assert_eq!(reply.json()["error"]["code"], "timeout");
    assert!(
        took >= Duration::from_millis(550) && took < Duration::from_millis(1500),
        "took {took:?}"
    );
    assert!(
        reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("budget_ms")
    );
}

#[tokio::test]
async fn kinds_outside_retry_on_end_the_request_without_fallback() {
    let mock = mock().await;
    let gateway = Gateway::start(&two_providers(
        &mock.base_url(),
        r#"[models.fb-no-5xx]
targets = [{ provider = "primary", model = "a?fail=503" }, { provider = "backup", model = "b" }]
retry_on = ["429", "timeout"]"#,
    ))
    .await;
    let reply = gateway.client().chat(&ask("fb-no-5xx")).await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.header("x-switchboard-attempts"), Some("1"));
    assert!(mock.requests_for("b").is_empty());
}

#[tokio::test]
async fn a_silent_provider_is_left_at_once_even_with_retries() {
    let mock = mock().await;
    let gateway = Gateway::start(&two_providers(
        &mock.base_url(),
        r#"[models.fb-silent]
targets = [{ provider = "primary", model = "a?stall_after=0" }, { provider = "backup", model = "b" }]
retries = 2
first_token_timeout_ms = 200"#,
    ))
    .await;
    let stream = gateway
        .client()
        .stream(&serde_json::json!({"model": "fb-silent", "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(stream.status, 200);
    assert_eq!(stream.header("x-switchboard-provider"), Some("backup"));
    assert_eq!(stream.header("x-switchboard-attempts"), Some("2"));
    assert!(stream.finish().await.done());
    assert_eq!(
        mock.requests_for("a").len(),
        1,
        "the first-token timeout was paid once, not three times"
    );
}

#[tokio::test]
async fn a_config_that_sets_only_retry_on_keeps_retrying_what_it_lists() {
    let mock = mock().await;
    let gateway = Gateway::start(&two_providers(
        &mock.base_url(),
        r#"[models.fb-legacy]
targets = [{ provider = "primary", model = "a?stall_after=0" }, { provider = "backup", model = "b" }]
retries = 1
backoff_ms = 1
first_token_timeout_ms = 150
retry_on = ["5xx", "first_token_timeout"]"#,
    ))
    .await;
    let stream = gateway
        .client()
        .stream(&serde_json::json!({"model": "fb-legacy", "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(stream.header("x-switchboard-provider"), Some("backup"));
    assert_eq!(stream.header("x-switchboard-attempts"), Some("3"));
    assert!(stream.finish().await.done());
    assert_eq!(
        mock.requests_for("a").len(),
        2,
        "retried as its retry_on says"
    );
}

#[tokio::test]
async fn a_prompt_too_long_for_one_model_goes_to_the_larger_one_next() {
    let mock = mock().await;
    let gateway = Gateway::start(&two_providers(
        &mock.base_url(),
        r#"[models.fb-context]
targets = [{ provider = "primary", model = "small?fail=400&error_code=context_length_exceeded" }, { provider = "backup", model = "large-context" }]
retries = 2"#,
    ))
    .await;
    let reply = gateway.client().chat(&ask("fb-context")).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.header("x-switchboard-provider"), Some("backup"));
    assert_eq!(mock.requests_for("small").len(), 1, "never retried");
    let record = gateway.records.wait_for(1).await.remove(0);
    assert_eq!(record["attempts"][0]["error_kind"], "context_length");
}

#[tokio::test]
async fn a_content_filter_refusal_goes_back_to_the_caller_with_the_providers_reason() {
    let mock = mock().await;
    let gateway = Gateway::start(&two_providers(
        &mock.base_url(),
        r#"[models.fb-filter]
targets = [{ provider = "primary", model = "guarded?fail=400&error_code=content_filter" }, { provider = "backup", model = "b" }]
retries = 2"#,
    ))
    .await;
    let reply = gateway.client().chat(&ask("fb-filter")).await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    let error = &reply.json()["error"];
    assert_eq!(error["code"], "content_filter");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("content management policy"),
        "{error}"
    );
    assert_eq!(mock.requests_for("guarded").len(), 1);
    assert!(mock.requests_for("b").is_empty(), "not fallen back from");
}
