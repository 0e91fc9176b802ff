//! A client with a bug sends Switchboard broken requests. Each gets a clear error in OpenAI's
//! shape (so SDKs raise the right exception), is logged, never reaches a provider, and the
//! gateway goes on serving the next request as if nothing happened. A provider that rejects a
//! request is not retried, and its key never shows up in what the client or the log sees.

use serde_json::{Value, json};
use switchboard_tests::{Client, Gateway, Reply, mock};

const PROVIDER_KEY: &str = "sk-secret-should-not-leak";
const MAX_BODY: usize = 2048;

fn config(mock_url: &str) -> String {
    format!(
        r#"
[server]
max_body_bytes = {MAX_BODY}

[providers.openai]
kind = "openai"
base_url = "{mock_url}"
api_key = "{PROVIDER_KEY}"

[models."voice-fast"]
targets = [{{ provider = "openai", model = "gpt-4o-mini" }}]
"#
    )
}

fn good_request() -> Value {
    json!({"model": "voice-fast", "messages": [{"role": "user", "content": "hi"}]})
}

/// Asserts `reply` is `{"error": {"message", "type", "code"}}` with `status` and `type`, and
/// returns the error object.
fn assert_openai_error(reply: &Reply, status: u16, error_type: &str, what: &str) -> Value {
    assert_eq!(reply.status, status, "{what}: {}", reply.text);
    assert!(
        reply
            .header("content-type")
            .unwrap_or("")
            .starts_with("application/json"),
        "{what}: {:?}",
        reply.headers
    );
    let body = reply.json();
    let error = body["error"]
        .as_object()
        .unwrap_or_else(|| panic!("{what}: no error object: {body}"));
    let mut keys: Vec<&str> = error.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["code", "message", "type"], "{what}: {body}");
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{what}: empty message: {body}"
    );
    assert_eq!(error["type"], error_type, "{what}: {body}");
    Value::Object(error.clone())
}

#[tokio::test]
async fn each_malformed_request_gets_an_openai_error_and_the_next_request_is_served() {
    let mock = mock().await;
    let gateway = Gateway::start(&config(&mock.base_url())).await;
    let client = gateway.client();
    let oversized = json!({
        "model": "voice-fast",
        "messages": [{"role": "user", "content": "x".repeat(MAX_BODY * 4)}]
    })
    .to_string();

    // (what, raw body, status, code, words the message must contain)
    let cases: Vec<(&str, String, u16, Value, &str)> = vec![
        (
            "malformed JSON",
            r#"{"model": "voice-fast", "messages": [{"#.to_owned(),
            400,
            Value::Null,
            "JSON",
        ),
        (
            "a JSON array",
            r#"[{"model": "voice-fast"}]"#.to_owned(),
            400,
            Value::Null,
            "object",
        ),
        (
            "no messages",
            json!({"model": "voice-fast"}).to_string(),
            400,
            Value::Null,
            "messages",
        ),
        (
            "no model",
            json!({"messages": [{"role": "user", "content": "hi"}]}).to_string(),
            400,
            Value::Null,
            "model",
        ),
        (
            "messages not an array",
            json!({"model": "voice-fast", "messages": "hi"}).to_string(),
            400,
            Value::Null,
            "messages",
        ),
        (
            "unknown model",
            json!({"model": "gpt-7-ultra", "messages": [{"role": "user", "content": "hi"}]})
                .to_string(),
            404,
            json!("model_not_found"),
            "gpt-7-ultra",
        ),
        (
            "body over max_body_bytes",
            oversized,
            413,
            json!("request_too_large"),
            "max_body_bytes",
        ),
    ];

    let mut expected_records = 0;
    let mut upstream = 0;
    for (what, body, status, code, words) in cases {
        let reply = client.post_raw("/v1/chat/completions", body).await;
        let error = assert_openai_error(&reply, status, "invalid_request_error", what);
        if !code.is_null() {
            assert_eq!(error["code"], code, "{what}");
        }
        let message = error["message"].as_str().unwrap();
        assert!(
            message.contains(words),
            "{what}: message {message:?} should mention {words:?}"
        );
        expected_records += 1;
        let record = gateway.records.wait_for(expected_records).await[expected_records - 1].clone();
        assert_eq!(record["status"], "error", "{what}: {record:#}");
        assert_eq!(record["status_code"], status, "{what}: {record:#}");
        assert_eq!(
            record["error_message"], message,
            "{what}: the record says why"
        );
        assert_eq!(record["attempts"], json!([]), "{what}");
        assert_eq!(
            reply.header("x-switchboard-request-id"),
            record["id"].as_str(),
            "{what}: the error names its record"
        );
        assert_eq!(
            mock.requests().len(),
            upstream,
            "{what} reached the provider"
        );

        // The gateway is unharmed: the very next request is served.
        let ok = client.chat(&good_request()).await;
        assert_eq!(ok.status, 200, "after {what}: {}", ok.text);
        assert_eq!(
            ok.json()["choices"][0]["message"]["content"],
            "Hello from mock"
        );
        upstream += 1;
        assert_eq!(mock.requests().len(), upstream, "after {what}");
        expected_records += 1;
        let record = gateway.records.wait_for(expected_records).await[expected_records - 1].clone();
        assert_eq!(record["status"], "success", "after {what}");
    }
}

#[tokio::test]
async fn a_wrong_or_missing_key_gets_401_and_the_right_key_still_works() {
    let mock = mock().await;
    let gateway = Gateway::start(&format!(
        "[server]\napi_keys = [\"sb-team-key\"]\n{}",
        config(&mock.base_url()).replace("[server]\n", "")
    ))
    .await;
    let cases: Vec<(&str, Client)> = vec![
        ("no key", gateway.client()),
        ("a wrong key", gateway.client().with_key("sb-not-the-key")),
        (
            "the provider's key",
            gateway.client().with_key(PROVIDER_KEY),
        ),
    ];
    let good = gateway.client().with_key("sb-team-key");
    for (upstream, (what, client)) in cases.into_iter().enumerate() {
        let reply = client.chat(&good_request()).await;
        let error = assert_openai_error(&reply, 401, "authentication_error", what);
        assert!(
            !reply.text.contains("sb-team-key"),
            "{what}: {}",
            reply.text
        );
        assert!(
            error["message"].as_str().unwrap().contains("Authorization"),
            "{what}: says how to fix it"
        );
        assert_eq!(
            mock.requests().len(),
            upstream,
            "{what} reached the provider"
        );

        let ok = good.chat(&good_request()).await;
        assert_eq!(ok.status, 200, "after {what}: {}", ok.text);
        assert_eq!(mock.requests().len(), upstream + 1);
    }
}

#[tokio::test]
async fn an_upstream_400_is_not_retried_nor_fallen_back_from() {
    let mock = mock().await;
    let gateway = Gateway::start(&format!(
        r#"
[providers.openai]
kind = "openai"
base_url = "{url}"
api_key = "{PROVIDER_KEY}"

[providers.backup]
kind = "openai"
base_url = "{url}"
api_key = "{PROVIDER_KEY}"

[models."voice-fast"]
targets = [{{ provider = "openai", model = "gpt-4o?fail=400" }}, {{ provider = "backup", model = "gpt-4o-mini" }}]
retries = 2
"#,
        url = mock.base_url()
    ))
    .await;

    let reply = gateway.client().chat(&good_request()).await;

    // The request itself is wrong: trying it again, or elsewhere, would fail the same way.
    let error = assert_openai_error(&reply, 400, "upstream_error", "upstream 400");
    assert_eq!(error["code"], "4xx");
    assert_eq!(mock.requests().len(), 1, "exactly one upstream request");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("openai/gpt-4o?fail=400"),
        "names the attempt: {message}"
    );
    assert!(message.contains("400"), "{message}");
    assert!(!reply.text.contains(PROVIDER_KEY), "{}", reply.text);
    assert_eq!(reply.header("x-switchboard-attempts"), Some("1"));
    assert_eq!(reply.header("x-switchboard-fallback-index"), Some("0"));

    let record = gateway
        .records
        .by_id(
            reply
                .header("x-switchboard-request-id")
                .expect("request id"),
        )
        .await;
    assert_eq!(record["status"], "error");
    assert_eq!(record["status_code"], 400);
    assert_eq!(record["fallback_used"], false);
    assert_eq!(record["retries"], 0);
    assert_eq!(record["attempts"].as_array().map(Vec::len), Some(1));
    assert_eq!(record["attempts"][0]["error_kind"], "4xx");
    assert_eq!(record["attempts"][0]["status_code"], 400);
    assert!(!record.to_string().contains(PROVIDER_KEY), "{record:#}");
}

#[tokio::test]
async fn a_provider_error_that_echoes_the_key_is_redacted() {
    let mock = mock().await;
    // The mock repeats a bad directive value in its 400 message, the way real providers echo
    // "Incorrect API key provided: sk-...": here the value is the provider key itself.
    let gateway = Gateway::start(&format!(
        r#"
[providers.openai]
kind = "openai"
base_url = "{url}"
api_key = "{PROVIDER_KEY}"
headers = {{ "x-mock-script" = "fail={PROVIDER_KEY}" }}

[models."voice-fast"]
targets = [{{ provider = "openai", model = "gpt-4o-mini" }}]
"#,
        url = mock.base_url()
    ))
    .await;

    let reply = gateway.client().chat(&good_request()).await;

    let error = assert_openai_error(&reply, 400, "upstream_error", "echoing provider");
    assert_eq!(mock.requests().len(), 1);
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("[redacted]"),
        "the echoed key is replaced: {message}"
    );
    assert!(!reply.text.contains(PROVIDER_KEY), "{}", reply.text);
    let record = gateway
        .records
        .by_id(
            reply
                .header("x-switchboard-request-id")
                .expect("request id"),
        )
        .await;
    assert!(!record.to_string().contains(PROVIDER_KEY), "{record:#}");
}
