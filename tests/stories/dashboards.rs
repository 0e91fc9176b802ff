//! The on-call engineer's artefacts work against the real thing: the alert rules shipped in
//! `deploy/prometheus/` pass their own `promtool` unit tests and load into a real Prometheus,
//! and every query of the Grafana dashboard in `deploy/grafana/` parses and returns series
//! from a real gateway that went through fallbacks, retries, stalls, invalid JSON, hedges, a
//! continued stream, an unreadable event, failed requests, an open circuit and a reload.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use switchboard_tests::binary::{Process, free_port, temp_dir};
use switchboard_tests::{Client, Prometheus, mock, promtool};

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

#[test]
fn the_alert_rules_are_valid_and_pass_their_unit_tests() {
    let dir = deploy().join("prometheus");
    let (ok, out) = promtool(&dir, &["check", "rules", "switchboard-rules.yml"]);
    assert!(ok, "{out}");
    let tests: Vec<String> = std::fs::read_dir(dir.join("tests"))
        .expect("deploy/prometheus/tests")
        .filter_map(|e| e.ok())
        .map(|e| format!("tests/{}", e.file_name().to_string_lossy()))
        .filter(|name| name.ends_with(".yml"))
        .collect();
    assert!(tests.len() >= 2, "{tests:?}");
    let mut args = vec!["test", "rules"];
    args.extend(tests.iter().map(String::as_str));
    let (ok, out) = promtool(&dir, &args);
    assert!(ok, "{out}");
    // Every alert the SPEC names has a rule, and a unit test that expects it to fire.
    let rules = std::fs::read_to_string(dir.join("switchboard-rules.yml")).unwrap();
    let tested: String = tests
        .iter()
        .map(|t| std::fs::read_to_string(dir.join(t)).unwrap())
        .collect();
    for alert in [
        "SwitchboardFallbackRateHigh",
        "SwitchboardRetryRateHigh",
        "SwitchboardStreamTimeouts",
        "SwitchboardInvalidJSON",
        "SwitchboardTTFTBurnRate",
        "SwitchboardErrorBurnRate",
        "SwitchboardLogsDropped",
        "SwitchboardLogSinkSpooling",
        "SwitchboardTargetDown",
    ] {
        assert!(
            rules.contains(&format!("alert: {alert}")),
            "no rule {alert}"
        );
        assert!(
            tested.contains(&format!(
                "alertname: {alert}\n        exp_alerts:\n          -"
            )),
            "no unit test expects {alert} to fire"
        );
    }
}

fn config(port: u16, mock_url: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:{port}"

[providers.openai]
kind = "openai"
base_url = "{mock_url}"

[providers.backup]
kind = "openai"
base_url = "{mock_url}"

[providers.selfhosted]
kind = "openai"
base_url = "{mock_url}"
prefill = true

[metrics]
metadata_labels = ["use_case"]

# A primary that fails a third of its calls: retried, then the backup serves.
[models."voice-fast"]
targets = [{{ provider = "openai", model = "flaky?fail=503&fail_rate=0.5" }}, {{ provider = "backup", model = "b" }}]
retries = 1
backoff_ms = 5

# A primary too slow to its first token, and one that stalls mid-stream.
[models."voice-stream"]
targets = [{{ provider = "openai", model = "slow?ttft_ms=400" }}, {{ provider = "backup", model = "b?chunks=3" }}]
first_token_timeout_ms = 100

[models."voice-stall"]
targets = [{{ provider = "backup", model = "s?stall_after=1&chunks=4" }}]
stall_timeout_ms = 100

# JSON that does not parse from the primary.
[models."intent-json"]
targets = [{{ provider = "openai", model = "j?json=invalid" }}, {{ provider = "backup", model = "k?json=valid" }}]

# A late primary is hedged; a stream that stalls mid-answer is finished by another target; a
# provider sends one event nobody can read.
[models."voice-hedge"]
targets = [{{ provider = "openai", model = "late?ttft_ms=400" }}, {{ provider = "backup", model = "b" }}]
hedge_after_ms = 50

[models."voice-continue"]
targets = [{{ provider = "openai", model = "c?chunks=4&stall_after=2" }}, {{ provider = "selfhosted", model = "d?chunks=4" }}]
mid_stream = "continue"
stall_timeout_ms = 100

[models."voice-garbage"]
targets = [{{ provider = "backup", model = "g?chunks=3&garbage_after=1" }}]

# Every target down: requests fail, and the circuit opens.
[models."broken"]
targets = [{{ provider = "openai", model = "down?fail=503" }}]
retries = 0
circuit_failures = 2
"#
    )
}

fn ask(model: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "hola"}]})
}

/// One wave of the scripted traffic, across three use cases; how many requests it sent.
async fn traffic(client: &Client) -> usize {
    let mut sent = 0;
    for (i, use_case) in ["greeting", "intent", "scam_detector"].iter().enumerate() {
        let meta = format!(r#"{{"use_case": "{use_case}", "call_id": "call-{i}"}}"#);
        let headers = [("x-switchboard-metadata", meta.as_str())];
        for _ in 0..4 {
            client.chat_with(&ask("voice-fast", false), &headers).await;
            sent += 1;
        }
        let streams = [
            ("voice-stream", 2),
            ("voice-fast", 2),
            ("voice-stall", 1),
            ("voice-hedge", 1),
            ("voice-continue", 1),
            ("voice-garbage", 1),
        ];
        for (model, n) in streams {
            for _ in 0..n {
                let mut body = ask(model, true);
                body["stream_options"] = json!({"include_usage": true});
                client.stream_with(&body, &headers).await.finish().await;
                sent += 1;
            }
        }
        let mut json_ask = ask("intent-json", false);
        json_ask["response_format"] = json!({"type": "json_object"});
        client.chat_with(&json_ask, &headers).await;
        for _ in 0..3 {
            client.chat_with(&ask("broken", false), &headers).await;
        }
        sent += 4;
    }
    sent
}

/// The dashboard's queries with Grafana's variables filled in as a person would leave them.
fn dashboard_queries() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(deploy().join("grafana/switchboard.json")).unwrap();
    let dashboard: Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    let variables: BTreeSet<&str> = dashboard["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    assert_eq!(
        variables,
        BTreeSet::from(["datasource", "instance", "metadata_label", "model"]),
        "a datasource variable, and the filters the queries use"
    );
    let mut queries = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        if panel["type"] == "row" {
            continue;
        }
        assert_eq!(
            panel["datasource"]["uid"], "${datasource}",
            "panel {} follows the datasource variable",
            panel["title"]
        );
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"]
                .as_str()
                .unwrap()
                .replace("$__rate_interval", "1m")
                .replace("$model", ".*")
                .replace("$instance", ".*")
                .replace("$metadata_label", "use_case");
            assert!(!expr.contains('$'), "a variable left in {expr}");
            queries.push((panel["title"].as_str().unwrap().to_owned(), expr));
        }
    }
    queries
}

#[tokio::test]
async fn every_dashboard_query_returns_series_from_a_real_gateway_scraped_by_prometheus() {
    let mock = mock().await;
    let dir = temp_dir("dashboards");
    let port = free_port();
    std::fs::write(dir.join("switchboard.toml"), config(port, &mock.base_url())).unwrap();
    let mut gateway = Process::spawn(&["serve"], &[], &dir);
    let url = format!("http://127.0.0.1:{port}");
    gateway.wait_healthy(&url).await;
    let client = Client::new(&url);

    let rules = deploy().join("prometheus/switchboard-rules.yml");
    let prometheus = Prometheus::start(&format!("127.0.0.1:{port}"), &[&rules]).await;

    // Two waves with scrapes between them, so rates have something to compare; a reload.
    let mut sent = traffic(&client).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(client.post_raw("/api/admin/reload", "").await.status, 200);
    sent += traffic(&client).await;

    // Wait until Prometheus has scraped the second wave and evaluated the rules on it.
    let mut scraped = false;
    for _ in 0..100 {
        let up = prometheus.query("sum(switchboard_requests_total)").await;
        let total = up["data"]["result"][0]["value"][1]
            .as_str()
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0);
        if total >= sent as f64 {
            scraped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(scraped, "Prometheus never saw the {sent} requests");
    tokio::time::sleep(Duration::from_secs(3)).await;

    // The rules load and evaluate in a real Prometheus, without errors.
    let groups = prometheus.api("rules", &[]).await;
    let rules: Vec<&Value> = groups["data"]["groups"]
        .as_array()
        .expect("rule groups")
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap())
        .collect();
    assert!(rules.len() >= 27, "{groups}");
    for rule in &rules {
        assert_eq!(rule["health"], "ok", "{rule}");
    }

    // The model filter of the dashboard lists the models clients used.
    let models = prometheus
        .api(
            "label/model/values",
            &[("match[]", "switchboard_requests_total")],
        )
        .await;
    for model in ["voice-fast", "voice-stream", "intent-json", "broken"] {
        assert!(models["data"].to_string().contains(model), "{models}");
    }

    // Every query parses; every panel shows data.
    let mut empty_panels = BTreeSet::new();
    let mut panels = BTreeSet::new();
    let mut with_data = BTreeSet::new();
    for (title, expr) in dashboard_queries() {
        let answer = prometheus.query(&expr).await;
        assert_eq!(answer["status"], "success", "{title}: {expr}\n{answer}");
        panels.insert(title.clone());
        if answer["data"]["result"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
        {
            with_data.insert(title);
        }
    }
    for title in &panels {
        if !with_data.contains(title) {
            empty_panels.insert(title.clone());
        }
    }
    assert!(panels.len() >= 25, "{panels:?}");
    assert!(
        empty_panels.is_empty(),
        "panels with no series: {empty_panels:?}"
    );

    // The per-use-case breakdown shows each use case the calls sent.
    let by_use_case = prometheus
        .query("sum by (use_case) (switchboard_requests_total)")
        .await;
    let use_cases: BTreeSet<String> = by_use_case["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["metric"]["use_case"].as_str().map(str::to_owned))
        .collect();
    for use_case in ["greeting", "intent", "scam_detector"] {
        assert!(use_cases.contains(use_case), "{by_use_case}");
    }
    gateway.terminate();
}
