//! The on-call engineer flips a slow target off and on (SPEC section 9.2), a stalling primary
//! opens its circuit so only the first calls pay its timeout (9.3), and a weighted chain
//! spreads first tries by weight.

use std::time::Duration;

use serde_json::{Value, json};
use switchboard_tests::{Gateway, metric_value, mock};

fn ask(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hello"}]})
}

fn config(mock_url: &str, models: &str) -> String {
    format!(
        r#"
[providers.primary]
kind = "openai"
base_url = "{mock_url}"

[providers.backup]
kind = "openai"
base_url = "{mock_url}"

{models}
"#
    )
}

/// Which provider served one call of `voice-fast`.
async fn served_by(client: &switchboard_tests::Client) -> Option<String> {
    client
        .chat(&ask("voice-fast"))
        .await
        .header("x-switchboard-provider")
        .map(str::to_owned)
}

fn target<'a>(list: &'a Value, provider: &str, model: &str) -> &'a Value {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["provider"] == provider && t["model"] == model)
        .unwrap_or_else(|| panic!("no {provider}/{model} in {list}"))
}

#[tokio::test]
async fn a_disabled_target_is_skipped_until_enabled_or_its_time_runs_out() {
    let mock = mock().await;
    let gateway = Gateway::start(&config(
        &mock.base_url(),
        r#"[models."voice-fast"]
targets = [{ provider = "primary", model = "p" }, { provider = "backup", model = "b" }]"#,
    ))
    .await;
    let client = gateway.client();
    let off = client
        .post_raw(
            "/api/admin/targets/disable",
            json!({"provider": "primary", "model": "p", "for_s": 1, "reason": "slow streams"})
                .to_string(),
        )
        .await;
    assert_eq!(off.status, 200, "{}", off.text);
    let listed = target(&off.json(), "primary", "p").clone();
    assert_eq!(listed["state"], "disabled");
    assert_eq!(listed["reason"], "slow streams");
    assert!(listed["until"].is_string(), "{listed}");

    // The backup serves as if it were first: one attempt, nothing paid on the primary.
    let reply = client.chat(&ask("voice-fast")).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.header("x-switchboard-provider"), Some("backup"));
    assert_eq!(reply.header("x-switchboard-attempts"), Some("1"));
    assert!(mock.requests_for("p").is_empty());
    let record = gateway
        .records
        .by_id(reply.header("x-switchboard-request-id").unwrap())
        .await;
    assert_eq!(
        record["skipped_targets"],
        json!([{"provider_id": "primary", "provider_model": "p", "reason": "disabled"}])
    );
    let metrics = client.get("/metrics").await.text;
    assert_eq!(
        metric_value(
            &metrics,
            "switchboard_target_up",
            &[("provider", "primary"), ("model", "p")]
        ),
        Some(0.0),
        "{metrics}"
    );

    // for_s runs out: the primary is back.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let back = client.chat(&ask("voice-fast")).await;
    assert_eq!(back.header("x-switchboard-provider"), Some("primary"));

    // Disabled for the whole provider until enabled by hand.
    client
        .post_raw(
            "/api/admin/targets/disable",
            json!({"provider": "primary"}).to_string(),
        )
        .await;
    assert_eq!(served_by(&client).await.as_deref(), Some("backup"));
    let on = client
        .post_raw(
            "/api/admin/targets/enable",
            json!({"provider": "primary"}).to_string(),
        )
        .await;
    assert_eq!(target(&on.json(), "primary", "p")["state"], "up");
    assert_eq!(served_by(&client).await.as_deref(), Some("primary"));
    let bad = client
        .post_raw(
            "/api/admin/targets/disable",
            json!({"provider": "opneai"}).to_string(),
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.text);
}

#[tokio::test]
async fn a_chain_with_every_target_disabled_fails_open_and_says_so() {
    let mock = mock().await;
    let gateway = Gateway::start(&config(
        &mock.base_url(),
        r#"[models."voice-fast"]
targets = [{ provider = "primary", model = "p" }, { provider = "backup", model = "b" }]"#,
    ))
    .await;
    let client = gateway.client();
    for provider in ["primary", "backup"] {
        client
            .post_raw(
                "/api/admin/targets/disable",
                json!({"provider": provider}).to_string(),
            )
            .await;
    }
    let reply = client.chat(&ask("voice-fast")).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.header("x-switchboard-provider"), Some("primary"));
    let record = gateway
        .records
        .by_id(reply.header("x-switchboard-request-id").unwrap())
        .await;
    let warnings = record["warnings"].to_string();
    assert!(warnings.contains("all were tried anyway"), "{record}");
}

#[tokio::test]
async fn a_stalling_primary_opens_its_circuit_so_only_the_first_calls_pay_its_timeout() {
    let mock = mock().await;
    let gateway = Gateway::start(&config(
        &mock.base_url(),
        r#"[models."voice-fast"]
targets = [{ provider = "primary", model = "p?ttft_ms=2000&slow_times=3" }, { provider = "backup", model = "b" }]
retries = 0
first_token_timeout_ms = 150
circuit_failures = 3
circuit_open_ms = 600"#,
    ))
    .await;
    let client = gateway.client();
    let stream = |client: switchboard_tests::Client| async move {
        let s = client.stream(&ask("voice-fast")).await;
        let provider = s.header("x-switchboard-provider").map(str::to_owned);
        let attempts = s.header("x-switchboard-attempts").map(str::to_owned);
        let id = s.header("x-switchboard-request-id").map(str::to_owned);
        assert!(s.finish().await.done());
        (provider.unwrap(), attempts.unwrap(), id.unwrap())
    };
    // Three calls pay the first-token timeout, then the circuit opens...
    for _ in 0..3 {
        let (provider, attempts, _) = stream(client.clone()).await;
        assert_eq!((provider.as_str(), attempts.as_str()), ("backup", "2"));
    }
    // ...and the next ones go straight to the backup.
    for _ in 0..3 {
        let (provider, attempts, id) = stream(client.clone()).await;
        assert_eq!((provider.as_str(), attempts.as_str()), ("backup", "1"));
        let record = gateway.records.by_id(&id).await;
        assert_eq!(
            record["skipped_targets"][0]["reason"], "circuit_open",
            "{record}"
        );
    }
    assert_eq!(
        mock.requests_for("p").len(),
        3,
        "the open circuit spared the primary"
    );
    let listed = client.get("/api/admin/targets").await.json();
    assert_eq!(
        target(&listed, "primary", "p?ttft_ms=2000&slow_times=3")["state"],
        "circuit_open"
    );

    // After circuit_open_ms one probe goes through; the primary is healthy again, so it closes.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let (provider, _, _) = stream(client.clone()).await;
    assert_eq!(provider, "primary");
    let (provider, _, _) = stream(client.clone()).await;
    assert_eq!(provider, "primary");
    let metrics = client.get("/metrics").await.text;
    for to in ["open", "half_open", "closed"] {
        assert_eq!(
            metric_value(
                &metrics,
                "switchboard_circuit_transitions_total",
                &[("provider", "primary"), ("to", to)]
            ),
            Some(1.0),
            "{to}: {metrics}"
        );
    }
}

#[tokio::test]
async fn a_weighted_chain_spreads_first_tries_by_weight() {
    let mock = mock().await;
    let gateway = Gateway::start(&config(
        &mock.base_url(),
        r#"[models."voice-fast"]
targets = [{ provider = "primary", model = "p", weight = 3 }, { provider = "backup", model = "b", weight = 1 }]
load_balance = "weighted""#,
    ))
    .await;
    let client = gateway.client();
    let calls = (0..400).map(|_| {
        let client = client.clone();
        async move { client.chat(&ask("voice-fast")).await }
    });
    let replies = futures_util::future::join_all(calls).await;
    let primary = replies
        .iter()
        .filter(|r| r.header("x-switchboard-provider") == Some("primary"))
        .count();
    assert!(replies.iter().all(|r| r.status == 200));
    assert!(
        (250..=350).contains(&primary),
        "about 3 in 4 first tries go to the weight-3 target: {primary} of 400"
    );
    assert!(
        replies
            .iter()
            .all(|r| r.header("x-switchboard-fallback-index") == Some("0"))
    );
}

#[tokio::test]
async fn a_flip_on_one_gateway_reaches_every_gateway_on_its_redis_and_outlives_a_restart() {
    let mock = mock().await;
    let redis = switchboard_tests::RedisServer::start().await;
    let fleet_config = config(
        &mock.base_url(),
        &format!(
            r#"[models."voice-fast"]
targets = [{{ provider = "primary", model = "p" }}, {{ provider = "backup", model = "b" }}]

[logging]
redis_url = "{}""#,
            redis.url()
        ),
    );
    let one = Gateway::start(&fleet_config).await;
    let two = Gateway::start(&fleet_config).await;
    let within_a_second = |gateway: &Gateway, provider: &'static str| {
        let gateway_url = gateway.url();
        async move {
            let client = switchboard_tests::Client::new(&gateway_url);
            let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
            loop {
                let now = served_by(&client).await;
                if now.as_deref() == Some(provider) {
                    return;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "{gateway_url} still served by {now:?} a second after the flip"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    assert_eq!(served_by(&two.client()).await.as_deref(), Some("primary"));

    let off = one
        .client()
        .post_raw(
            "/api/admin/targets/disable",
            json!({"provider": "primary", "model": "p", "reason": "slow streams"}).to_string(),
        )
        .await;
    assert_eq!(off.status, 200, "{}", off.text);
    within_a_second(&two, "backup").await;
    assert!(
        redis
            .cli(&["HGETALL", "switchboard:logs:overrides"])
            .contains("slow streams"),
        "the order lives in Redis"
    );

    // A gateway started later begins with the fleet's overrides.
    let three = Gateway::start(&fleet_config).await;
    within_a_second(&three, "backup").await;

    two.client()
        .post_raw(
            "/api/admin/targets/enable",
            json!({"provider": "primary", "model": "p"}).to_string(),
        )
        .await;
    within_a_second(&one, "primary").await;
    within_a_second(&three, "primary").await;
}
