//! A team swaps its OpenAI client's base URL to Switchboard: requests and answers pass through
//! unchanged, Switchboard's own fields stay behind, and the response says who served it.

use serde_json::{Value, json};
use switchboard_tests::{Gateway, mock};

fn config(mock_url: &str) -> String {
    format!(
        r#"
[providers.openai]
kind = "openai"
base_url = "{mock_url}"
api_key = "sk-upstream-secret"

[models."voice-fast"]
targets = [{{ provider = "openai", model = "gpt-4o-mini", input_cost_per_mtok = 1000000.0, output_cost_per_mtok = 2000000.0 }}]
"#
    )
}

#[tokio::test]
async fn a_chat_completion_passes_through_with_unknown_fields_untouched() {
    let mock = mock().await;
    let gateway = Gateway::start(&config(&mock.base_url())).await;
    let reply = gateway
        .client()
        .chat(&json!({
            "model": "voice-fast",
            "messages": [{"role": "user", "content": "hola"}],
            "temperature": 0.2,
            "some_future_openai_field": {"nested": [1, 2, 3]},
            "customer_identifier": "acct_9",
            "thread_identifier": "call_123",
            "metadata": {"language": "es", "use_case": "intent"}
        }))
        .await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = reply.json();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["message"]["content"], "Hello from mock");
    assert_eq!(reply.header("x-switchboard-provider"), Some("openai"));
    assert_eq!(reply.header("x-switchboard-model"), Some("gpt-4o-mini"));
    assert_eq!(reply.header("x-switchboard-attempts"), Some("1"));
    assert_eq!(reply.header("x-switchboard-fallback-index"), Some("0"));
    assert!(
        reply
            .header("content-type")
            .unwrap_or("")
            .starts_with("application/json")
    );

    let upstream = &mock.requests()[0];
    assert_eq!(upstream.body["model"], "gpt-4o-mini");
    assert_eq!(upstream.body["temperature"], 0.2);
    assert_eq!(
        upstream.body["some_future_openai_field"],
        json!({"nested": [1, 2, 3]})
    );
    for field in ["customer_identifier", "thread_identifier", "metadata"] {
        assert!(
            upstream.body.get(field).is_none(),
            "{field} leaked upstream"
        );
    }
    assert_eq!(
        upstream
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer sk-upstream-secret")
    );

    let id = reply
        .header("x-switchboard-request-id")
        .expect("request id");
    let record = gateway.records.by_id(id).await;
    assert_eq!(record["status"], "success");
    assert_eq!(record["model"], "voice-fast");
    assert_eq!(record["provider_id"], "openai");
    assert_eq!(record["customer_identifier"], "acct_9");
    assert_eq!(record["thread_identifier"], "call_123");
    assert_eq!(
        record["metadata"],
        json!({"language": "es", "use_case": "intent"})
    );
    assert_eq!(record["input"][0]["content"], "hola");
    assert_eq!(record["output"]["content"], "Hello from mock");
    let usage = &record["usage"];
    let expected_cost = usage["prompt_tokens"].as_f64().unwrap()
        + 2.0 * usage["completion_tokens"].as_f64().unwrap();
    assert_eq!(record["cost"].as_f64(), Some(expected_cost));
    assert_eq!(record["attempts"].as_array().map(Vec::len), Some(1));
    assert!(!record.to_string().contains("sk-upstream-secret"));
}

#[tokio::test]
async fn a_stream_arrives_as_openai_sse_ending_in_done() {
    let mock = mock().await;
    let gateway = Gateway::start(&config(&mock.base_url())).await;
    let stream = gateway
        .client()
        .stream(&json!({"model": "voice-fast", "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(stream.status, 200);
    assert_eq!(stream.header("content-type"), Some("text/event-stream"));
    assert_eq!(stream.header("x-switchboard-provider"), Some("openai"));
    let end = stream.finish().await;

    assert!(end.done(), "no [DONE]: {}", end.raw);
    // Framing exactly as the SDKs read it: every event is `data: <payload>\n\n`.
    for event in end.raw.split_terminator("\n\n") {
        assert!(event.starts_with("data: "), "bad frame {event:?}");
    }
    let chunks = end.chunks();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(end.content(), "Hello from mock");
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "stop"
    );
    // The client did not ask for usage, so the usage chunk Switchboard requests upstream is held back.
    assert!(
        chunks
            .iter()
            .all(|c| c["choices"].as_array().is_some_and(|a| !a.is_empty()))
    );
    assert_eq!(
        mock.requests()[0].body["stream_options"]["include_usage"],
        true
    );

    let record = &gateway.records.wait_for(1).await[0];
    assert_eq!(record["stream"], true);
    assert_eq!(record["status"], "success");
    assert!(record["time_to_first_token"].as_f64().is_some());
    assert!(
        record["usage"]["completion_tokens"].as_u64().unwrap() > 0,
        "usage kept for the record"
    );
    assert_eq!(record["output"]["content"], "Hello from mock");
}

#[tokio::test]
async fn a_stream_with_include_usage_gets_the_usage_chunk() {
    let mock = mock().await;
    let gateway = Gateway::start(&config(&mock.base_url())).await;
    let end = gateway
        .client()
        .stream(
            &json!({"model": "voice-fast", "messages": [{"role": "user", "content": "hi"}],
                        "stream_options": {"include_usage": true}}),
        )
        .await
        .finish()
        .await;
    let chunks = end.chunks();
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert!(last["usage"]["total_tokens"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn streamed_tool_call_deltas_reach_the_client_intact() {
    let mock = mock().await;
    let gateway = Gateway::start(&format!(
        r#"
[providers.openai]
kind = "openai"
base_url = "{}"

[models.agent]
targets = [{{ provider = "openai", model = "gpt-4o?tool_call=lookup&args=%7B%22city%22%3A%22Paris%22%2C%22days%22%3A3%7D&chunks=4&parallel_tools=2" }}]
"#,
        mock.base_url()
    ))
    .await;
    let end = gateway
        .client()
        .stream(&json!({"model": "agent", "messages": [{"role": "user", "content": "weather?"}],
                        "tools": [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]}))
        .await
        .finish()
        .await;
    assert!(end.done());
    let mut arguments = vec![String::new(), String::new()];
    let mut ids = vec![None, None];
    for chunk in end.chunks() {
        for call in chunk["choices"][0]["delta"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let index = call["index"].as_u64().unwrap() as usize;
            if let Some(id) = call["id"].as_str() {
                ids[index] = Some(id.to_owned());
                assert_eq!(call["function"]["name"], "lookup");
            }
            arguments[index].push_str(call["function"]["arguments"].as_str().unwrap_or(""));
        }
    }
    assert_eq!(
        ids,
        vec![
            Some("call_mock_1".to_owned()),
            Some("call_mock_2".to_owned())
        ]
    );
    for args in &arguments {
        assert_eq!(
            serde_json::from_str::<Value>(args).unwrap(),
            json!({"city": "Paris", "days": 3})
        );
    }
    let record = &gateway.records.wait_for(1).await[0];
    assert_eq!(record["json_valid"], true, "tool arguments were checked");
    assert_eq!(
        record["output"]["tool_calls"][1]["function"]["name"],
        "lookup"
    );
}

#[tokio::test]
async fn provider_slash_model_goes_straight_to_that_provider() {
    let mock = mock().await;
    let gateway = Gateway::start(&config(&mock.base_url())).await;
    let reply = gateway
        .client()
        .chat(&json!({"model": "openai/gpt-4.1-nano", "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(mock.requests()[0].body["model"], "gpt-4.1-nano");
    assert_eq!(reply.header("x-switchboard-model"), Some("gpt-4.1-nano"));
}

#[tokio::test]
async fn models_health_readiness_and_metrics_answer() {
    let mock = mock().await;
    let gateway = Gateway::start(&config(&mock.base_url())).await;
    let client = gateway.client();
    let models = client.get("/v1/models").await.json();
    assert_eq!(models["object"], "list");
    assert_eq!(models["data"][0]["id"], "voice-fast");
    assert_eq!(client.get("/healthz").await.status, 200);
    let ready = client.get("/readyz").await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.json()["config"], "loaded");
    client
        .chat(&json!({"model": "voice-fast", "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    let metrics = client.get("/metrics").await.text;
    assert!(
        metrics.contains(
            r#"switchboard_requests_total{model="voice-fast",provider="openai",status="success"}"#
        ),
        "{metrics}"
    );
    assert!(metrics.contains("switchboard_request_duration_seconds_bucket"));
    assert!(metrics.contains("switchboard_tokens_total"));
    assert!(!metrics.contains("sk-upstream-secret"));
}

#[tokio::test]
async fn with_api_keys_set_only_a_known_key_gets_in() {
    let mock = mock().await;
    let gateway = Gateway::start(&format!(
        "[server]\napi_keys = [\"sb-client-key\"]\n{}",
        config(&mock.base_url())
    ))
    .await;
    let body = json!({"model": "voice-fast", "messages": [{"role": "user", "content": "hi"}]});
    let denied = gateway.client().chat(&body).await;
    assert_eq!(denied.status, 401);
    assert_eq!(denied.json()["error"]["type"], "authentication_error");
    let wrong = gateway.client().with_key("sb-wrong").chat(&body).await;
    assert_eq!(wrong.status, 401);
    assert!(!wrong.text.contains("sb-client-key"));
    let ok = gateway.client().with_key("sb-client-key").chat(&body).await;
    assert_eq!(ok.status, 200);
    assert_eq!(
        gateway.client().get("/healthz").await.status,
        200,
        "health stays open"
    );
    assert_eq!(
        mock.requests().len(),
        1,
        "rejected calls never reach the provider"
    );
}

#[tokio::test]
async fn disable_log_and_capture_bodies_keep_prompts_out_of_records() {
    let mock = mock().await;
    let gateway = Gateway::start(&config(&mock.base_url())).await;
    let body = json!({"model": "voice-fast", "messages": [{"role": "user", "content": "my card is 4242"}],
                      "disable_log": true, "thread_identifier": "call_7"});
    let reply = gateway.client().chat(&body).await;
    assert_eq!(reply.status, 200);
    assert!(
        mock.requests()[0].body.get("disable_log").is_none(),
        "disable_log is Switchboard's, not OpenAI's"
    );
    let record = gateway
        .records
        .by_id(reply.header("x-switchboard-request-id").unwrap())
        .await;
    assert_eq!(record["input"], Value::Null);
    assert_eq!(record["output"], Value::Null);
    assert_eq!(
        record["thread_identifier"], "call_7",
        "the record itself is still written"
    );
    assert!(!record.to_string().contains("4242"));

    let quiet = Gateway::start(&format!(
        "[logging]\ncapture_bodies = false\n{}",
        config(&mock.base_url())
    ))
    .await;
    let reply = quiet
        .client()
        .chat(&json!({"model": "voice-fast", "messages": [{"role": "user", "content": "secret plan"}]}))
        .await;
    let record = quiet
        .records
        .by_id(reply.header("x-switchboard-request-id").unwrap())
        .await;
    assert_eq!(record["input"], Value::Null);
    assert!(!record.to_string().contains("secret plan"));
    assert!(record["usage"]["total_tokens"].as_u64().is_some());
}
