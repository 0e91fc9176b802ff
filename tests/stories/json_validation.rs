//! A voice agent asks for JSON (`response_format`, strict tools) and acts on it. A provider
//! that answers with broken or off-schema JSON is treated like a failed attempt: Switchboard
//! tries the next target, says what happened in headers, the record and the metrics, and
//! never hides the verdict.

use serde_json::{Value, json};
use switchboard_tests::{Gateway, metric_value, mock};

/// `{"answer": "yes", "confid` as the mock sends it for `json=invalid`.
const INVALID_JSON: &str = r#"{"answer": "yes", "confid"#;
/// The mock's `json=valid` text.
const VALID_JSON: &str = r#"{"answer":"yes","confidence":0.9}"#;

/// Two providers on the same mock, so metrics and headers can tell primary from backup.
/// `model_section` is the `[models."<name>"]` table(s) to add.
fn config(mock_url: &str, model_section: &str) -> String {
    format!(
        r#"
[providers.primary]
kind = "openai"
base_url = "{mock_url}"

[providers.backup]
kind = "openai"
base_url = "{mock_url}"

{model_section}
"#
    )
}

/// A chain of `primary` then `backup`, with no same-target retry, plus extra policy lines.
fn chain(name: &str, first: &str, second: &str, policy: &str) -> String {
    format!(
        r#"
[models."{name}"]
targets = [{{ provider = "primary", model = "{first}" }}, {{ provider = "backup", model = "{second}" }}]
retries = 0
{policy}
"#
    )
}

fn json_object_request(model: &str) -> Value {
    json!({
        "model": model,
        "messages": [{"role": "user", "content": "Is the caller asking to cancel? Answer in JSON."}],
        "response_format": {"type": "json_object"}
    })
}

async fn metrics_text(gateway: &Gateway) -> String {
    gateway.client().get("/metrics").await.text
}

#[tokio::test]
async fn invalid_json_from_the_first_target_falls_back_to_valid_json() {
    let mock = mock().await;
    let model = "json-fallback-nonstream";
    let gateway = Gateway::start(&config(
        &mock.base_url(),
        &chain(model, "gpt-4o?json=invalid", "gpt-4o-mini?json=valid", ""),
    ))
    .await;

    let reply = gateway.client().chat(&json_object_request(model)).await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    let content = reply.json()["choices"][0]["message"]["content"]
        .as_str()
        .expect("content")
        .to_owned();
    assert_eq!(content, VALID_JSON);
    assert!(serde_json::from_str::<Value>(&content).unwrap().is_object());
    assert_eq!(reply.header("x-switchboard-json-valid"), Some("true"));
    assert_eq!(reply.header("x-switchboard-fallback-index"), Some("1"));
    assert_eq!(reply.header("x-switchboard-provider"), Some("backup"));
    assert_eq!(reply.header("x-switchboard-attempts"), Some("2"));
    assert_eq!(mock.requests().len(), 2);

    let record = gateway
        .records
        .by_id(
            reply
                .header("x-switchboard-request-id")
                .expect("request id"),
        )
        .await;
    assert_eq!(record["status"], "success");
    assert_eq!(record["json_valid"], true);
    assert_eq!(record["fallback_used"], true);
    assert_eq!(record["provider_id"], "backup");
    assert_eq!(record["response_format"], json!({"type": "json_object"}));
    let attempts = record["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0]["provider_id"], "primary");
    assert_eq!(attempts[0]["error_kind"], "invalid_json");
    assert_eq!(attempts[1]["provider_id"], "backup");
    assert_eq!(attempts[1]["error_kind"], Value::Null);

    let metrics = metrics_text(&gateway).await;
    let invalid = |provider| {
        metric_value(
            &metrics,
            "switchboard_invalid_json_total",
            &[("model", model), ("provider", provider)],
        )
    };
    assert_eq!(invalid("primary"), Some(1.0), "{metrics}");
    assert_eq!(invalid("backup"), None, "the backup's JSON was valid");
    assert_eq!(
        metric_value(
            &metrics,
            "switchboard_fallbacks_total",
            &[
                ("model", model),
                ("from_provider", "primary"),
                ("to_provider", "backup"),
                ("reason", "invalid_json")
            ],
        ),
        Some(1.0),
        "{metrics}"
    );
}

#[tokio::test]
async fn when_every_target_answers_invalid_json_the_last_answer_comes_back_flagged() {
    let mock = mock().await;
    let model = "json-all-invalid";
    let gateway = Gateway::start(&config(
        &mock.base_url(),
        &chain(model, "gpt-4o?json=invalid", "gpt-4o-mini?json=array", ""),
    ))
    .await;

    let reply = gateway.client().chat(&json_object_request(model)).await;

    // The caller still gets an answer (better than nothing), clearly marked as not valid.
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json()["choices"][0]["message"]["content"],
        "[1,2]",
        "the last target's answer"
    );
    assert_eq!(reply.header("x-switchboard-json-valid"), Some("false"));
    assert_eq!(reply.header("x-switchboard-fallback-index"), Some("1"));
    assert_eq!(reply.header("x-switchboard-provider"), Some("backup"));
    assert_eq!(mock.requests().len(), 2);

    let record = gateway
        .records
        .by_id(
            reply
                .header("x-switchboard-request-id")
                .expect("request id"),
        )
        .await;
    assert_eq!(record["status_code"], 200);
    assert_eq!(record["json_valid"], false);
    assert_eq!(record["output"]["content"], "[1,2]");
    let kinds: Vec<&Value> = record["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["error_kind"])
        .collect();
    assert_eq!(kinds, [&json!("invalid_json"), &json!("invalid_json")]);

    let metrics = metrics_text(&gateway).await;
    for provider in ["primary", "backup"] {
        assert_eq!(
            metric_value(
                &metrics,
                "switchboard_invalid_json_total",
                &[("model", model), ("provider", provider)]
            ),
            Some(1.0),
            "{provider}: {metrics}"
        );
    }
}

#[tokio::test]
async fn an_answer_that_breaks_the_json_schema_falls_back() {
    let mock = mock().await;
    let model = "json-schema";
    let gateway = Gateway::start(&config(
        &mock.base_url(),
        &chain(
            model,
            "gpt-4o?json=schema_violation",
            "gpt-4o-mini?json=valid",
            "",
        ),
    ))
    .await;
    let reply = gateway
        .client()
        .chat(&json!({
            "model": model,
            "messages": [{"role": "user", "content": "Is the caller asking to cancel?"}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "intent", "strict": true,
                "schema": {"type": "object", "required": ["answer"],
                           "properties": {"answer": {"type": "string"}}}}}
        }))
        .await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    let content = reply.json()["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        serde_json::from_str::<Value>(&content).unwrap()["answer"],
        "yes"
    );
    assert_eq!(reply.header("x-switchboard-json-valid"), Some("true"));
    assert_eq!(reply.header("x-switchboard-fallback-index"), Some("1"));
    // The schema went upstream untouched: providers that enforce it themselves still can.
    assert_eq!(
        mock.requests()[0].body["response_format"]["json_schema"]["schema"]["required"],
        json!(["answer"])
    );

    let record = gateway
        .records
        .by_id(reply.header("x-switchboard-request-id").unwrap())
        .await;
    assert_eq!(record["json_valid"], true);
    let first = &record["attempts"][0];
    assert_eq!(first["error_kind"], "invalid_json");
    let why = first["error_message"].as_str().unwrap_or("");
    assert!(
        why.contains("answer"),
        "the attempt says what was wrong: {why:?}"
    );
}

#[tokio::test]
async fn strict_tool_arguments_missing_a_required_key_fall_back() {
    let mock = mock().await;
    let model = "json-strict-tool";
    // Primary calls the tool without `city`; backup calls it with the mock's default {"city":"Paris"}.
    let gateway = Gateway::start(&config(
        &mock.base_url(),
        &chain(
            model,
            "gpt-4o?tool_call=lookup&args=%7B%22town%22%3A%22Paris%22%7D",
            "gpt-4o-mini?tool_call=lookup",
            "",
        ),
    ))
    .await;
    let reply = gateway
        .client()
        .chat(&json!({
            "model": model,
            "messages": [{"role": "user", "content": "weather in Paris?"}],
            "tools": [{"type": "function", "function": {"name": "lookup", "strict": true,
                "parameters": {"type": "object", "required": ["city"], "additionalProperties": false,
                               "properties": {"city": {"type": "string"}}}}}]
        }))
        .await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    let call = &reply.json()["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "lookup");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"city": "Paris"}));
    assert_eq!(reply.header("x-switchboard-fallback-index"), Some("1"));
    assert_eq!(reply.header("x-switchboard-json-valid"), Some("true"));

    let record = gateway
        .records
        .by_id(reply.header("x-switchboard-request-id").unwrap())
        .await;
    assert_eq!(record["json_valid"], true);
    assert_eq!(record["attempts"][0]["error_kind"], "invalid_json");
    assert_eq!(
        record["output"]["tool_calls"][0]["function"]["name"],
        "lookup"
    );
}

#[tokio::test]
async fn an_invalid_json_stream_is_relayed_and_judged_at_the_end_by_default() {
    let mock = mock().await;
    let model = "json-stream-validate-at-end";
    let gateway = Gateway::start(&config(
        &mock.base_url(),
        &chain(
            model,
            "gpt-4o?json=invalid&chunks=4",
            "gpt-4o-mini?json=valid",
            "",
        ),
    ))
    .await;

    let stream = gateway.client().stream(&json_object_request(model)).await;
    assert_eq!(stream.status, 200);
    assert_eq!(stream.header("x-switchboard-fallback-index"), Some("0"));
    // The verdict is not known when the head goes out.
    assert_eq!(stream.header("x-switchboard-json-valid"), None);
    let id = stream
        .header("x-switchboard-request-id")
        .unwrap()
        .to_owned();
    let end = stream.finish().await;

    // Tokens were not held back: the client got the broken JSON as it came, then [DONE].
    assert!(end.done(), "{}", end.raw);
    assert_eq!(end.content(), INVALID_JSON);
    assert_eq!(
        mock.requests().len(),
        1,
        "once streamed, it cannot fall back"
    );

    let record = gateway.records.by_id(&id).await;
    assert_eq!(record["status"], "success");
    assert_eq!(record["json_valid"], false);
    assert_eq!(record["output"]["content"], INVALID_JSON);
    assert_eq!(record["attempts"].as_array().map(Vec::len), Some(1));
    let metrics = metrics_text(&gateway).await;
    assert_eq!(
        metric_value(
            &metrics,
            "switchboard_invalid_json_total",
            &[("model", model), ("provider", "primary")]
        ),
        Some(1.0),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_buffered_json_stream_falls_back_before_the_client_sees_anything() {
    let mock = mock().await;
    let model = "json-stream-buffer";
    let gateway = Gateway::start(&config(
        &mock.base_url(),
        &chain(
            model,
            "gpt-4o?json=invalid&chunks=4",
            "gpt-4o-mini?json=valid&chunks=4",
            r#"stream_json = "buffer""#,
        ),
    ))
    .await;

    let stream = gateway.client().stream(&json_object_request(model)).await;
    assert_eq!(stream.status, 200);
    assert_eq!(stream.header("x-switchboard-fallback-index"), Some("1"));
    assert_eq!(stream.header("x-switchboard-json-valid"), Some("true"));
    assert_eq!(stream.header("x-switchboard-provider"), Some("backup"));
    let id = stream
        .header("x-switchboard-request-id")
        .unwrap()
        .to_owned();
    let end = stream.finish().await;

    assert!(end.done(), "{}", end.raw);
    assert_eq!(end.content(), VALID_JSON);
    assert!(
        !end.raw.contains("confid\""),
        "nothing of the invalid stream leaked: {}",
        end.raw
    );
    let chunks = end.chunks();
    let roles = chunks
        .iter()
        .filter(|c| c["choices"][0]["delta"]["role"] == "assistant")
        .count();
    assert_eq!(roles, 1, "one stream, one role chunk");
    assert!(chunks.iter().all(|c| c["model"] == chunks[0]["model"]));
    assert_eq!(mock.requests().len(), 2);

    let record = gateway.records.by_id(&id).await;
    assert_eq!(record["json_valid"], true);
    assert_eq!(record["fallback_used"], true);
    assert_eq!(record["attempts"][0]["error_kind"], "invalid_json");
    assert_eq!(record["output"]["content"], VALID_JSON);
}

#[tokio::test]
async fn with_validate_json_off_invalid_json_passes_unchecked() {
    let mock = mock().await;
    let model = "json-unchecked";
    let gateway = Gateway::start(&config(
        &mock.base_url(),
        &chain(
            model,
            "gpt-4o?json=invalid",
            "gpt-4o-mini?json=valid",
            "validate_json = false",
        ),
    ))
    .await;

    let reply = gateway.client().chat(&json_object_request(model)).await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json()["choices"][0]["message"]["content"],
        INVALID_JSON
    );
    assert_eq!(
        reply.header("x-switchboard-json-valid"),
        None,
        "nothing was validated"
    );
    assert_eq!(reply.header("x-switchboard-attempts"), Some("1"));
    assert_eq!(reply.header("x-switchboard-fallback-index"), Some("0"));
    assert_eq!(mock.requests().len(), 1);
    let record = gateway
        .records
        .by_id(reply.header("x-switchboard-request-id").unwrap())
        .await;
    assert_eq!(record["json_valid"], Value::Null);
    assert_eq!(record["attempts"].as_array().map(Vec::len), Some(1));
    let metrics = metrics_text(&gateway).await;
    assert_eq!(
        metric_value(
            &metrics,
            "switchboard_invalid_json_total",
            &[("model", model)]
        ),
        None,
        "{metrics}"
    );
}
