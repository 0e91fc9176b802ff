//! A voice agent's answer breaks off mid-sentence (the provider stalls, or cuts the stream).
//! With `mid_stream = "continue"` the caller does not hear silence: the next target able to
//! continue is handed the words already spoken and finishes the sentence in the same stream.
//! The caller's side is read with the official OpenAI SDK: one answer, complete, once, in order.

use serde_json::{Value, json};
use switchboard_tests::{Gateway, metric_value, mock, sdk_reads};

fn config(mock_url: &str, model: &str, primary: &str, rest: &str, policy: &str) -> String {
    format!(
        r#"
[providers.openai]
kind = "openai"
base_url = "{mock_url}"

[providers.anthropic]
kind = "anthropic"
base_url = "{mock_url}"
api_key = "sk-ant-test"

[providers.vllm]
kind = "openai"
base_url = "{mock_url}"
prefill = "vllm"

[providers.selfhosted]
kind = "openai"
base_url = "{mock_url}"
prefill = true

[models."{model}"]
targets = [{{ provider = "openai", model = "{primary}" }}, {rest}]
mid_stream = "continue"
stall_timeout_ms = 200
{policy}
"#
    )
}

fn one_answer(read: &Value) {
    assert_eq!(read["error"], Value::Null, "{read}");
    assert_eq!(
        read["text"], "Hello from mock",
        "said once, whole, in order: {read}"
    );
    let ids: std::collections::BTreeSet<&str> = read["ids"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(ids.len(), 1, "one stream id: {read}");
    assert_eq!(read["roles"], 1, "one role chunk: {read}");
    assert_eq!(read["finish_reasons"], json!(["stop"]), "{read}");
}

#[tokio::test]
async fn a_stream_that_stalls_mid_sentence_is_finished_by_anthropic() {
    let mock = mock().await;
    let model = "continue-on-anthropic";
    let gateway = Gateway::start(&config(
        &mock.base_url(),
        model,
        "gpt-4o?chunks=6&stall_after=2",
        r#"{ provider = "anthropic", model = "claude-haiku" }"#,
        "",
    ))
    .await;
    let read = sdk_reads(&gateway.url(), model).await;
    one_answer(&read);

    // Anthropic was asked to go on from the words already spoken, trimmed.
    let asked = mock.requests_for("claude-haiku");
    assert_eq!(asked.len(), 1);
    let messages = asked[0].body["messages"].as_array().unwrap();
    let last = messages.last().unwrap();
    assert_eq!(last["role"], "assistant", "{last}");
    let prefill = serde_json::to_string(&last["content"]).unwrap();
    assert!(prefill.contains("Hello"), "{prefill}");

    let record = gateway.records.wait_for(1).await.remove(0);
    assert_eq!(record["continued"], true, "{record:#}");
    assert_eq!(record["output"]["content"], "Hello from mock");
    assert_eq!(record["status"], "success");
    let attempts = record["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{record:#}");
    assert_eq!(attempts[0]["provider_id"], "openai");
    assert_eq!(attempts[0]["error_kind"], "stall");
    assert_eq!(attempts[1]["provider_id"], "anthropic");
    assert_eq!(attempts[1]["continuation"], true);
    assert_eq!(attempts[1]["error_kind"], Value::Null);

    let metrics = gateway.client().get("/metrics").await.text;
    assert_eq!(
        metric_value(
            &metrics,
            "switchboard_continuations_total",
            &[
                ("model", model),
                ("from_provider", "openai"),
                ("to_provider", "anthropic"),
                ("reason", "stall")
            ]
        ),
        Some(1.0),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_cut_stream_is_finished_by_an_openai_kind_server_that_takes_prefills() {
    let mock = mock().await;
    let model = "continue-on-vllm";
    let gateway = Gateway::start(&config(
        &mock.base_url(),
        model,
        "gpt-4o?chunks=5&drop_after=3",
        r#"{ provider = "vllm", model = "llama-3.1-8b" }"#,
        "",
    ))
    .await;
    let read = sdk_reads(&gateway.url(), model).await;
    one_answer(&read);
    let asked = mock.requests_for("llama-3.1-8b");
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].body["continue_final_message"], true);
    assert_eq!(asked[0].body["add_generation_prompt"], false);
    let last = asked[0].body["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["role"], "assistant");
    let record = gateway.records.wait_for(1).await.remove(0);
    assert_eq!(record["continued"], true, "{record:#}");
    assert_eq!(record["attempts"][0]["error_kind"], "connect");
}

#[tokio::test]
async fn targets_that_cannot_continue_are_passed_over_and_the_caller_gets_the_real_failure() {
    let mock = mock().await;
    let model = "continue-nobody-can";
    // The backup is an OpenAI-kind provider without `prefill`: it cannot continue.
    let gateway = Gateway::start(&config(
        &mock.base_url(),
        model,
        "gpt-4o?chunks=6&stall_after=2",
        r#"{ provider = "openai", model = "gpt-4o-mini" }"#,
        "",
    ))
    .await;
    let read = sdk_reads(&gateway.url(), model).await;
    assert_eq!(read["error"]["type"], "APIError", "{read}");
    assert!(
        read["error"]["message"]
            .as_str()
            .unwrap()
            .contains("stall_timeout_ms"),
        "the stall, not a refusal: {read}"
    );
    assert!(mock.requests_for("gpt-4o-mini").is_empty());
    let record = gateway.records.wait_for(1).await.remove(0);
    assert_eq!(record["status"], "error");
    assert!(record.get("continued").is_none(), "{record:#}");
}

#[tokio::test]
async fn a_model_that_refuses_prefills_is_marked_and_the_next_target_continues() {
    let mock = mock().await;
    let model = "continue-refused";
    let gateway = Gateway::start(&config(
        &mock.base_url(),
        model,
        "gpt-4o?chunks=6&stall_after=2",
        r#"{ provider = "anthropic", model = "claude-new?refuse_prefill=true" }, { provider = "anthropic", model = "claude-haiku" }"#,
        "",
    ))
    .await;
    for _ in 0..2 {
        let read = sdk_reads(&gateway.url(), model).await;
        one_answer(&read);
    }
    assert_eq!(
        mock.requests_for("claude-new").len(),
        1,
        "asked once, then passed over"
    );
    assert_eq!(mock.requests_for("claude-haiku").len(), 2);
    let records = gateway.records.wait_for(2).await;
    let first = records
        .iter()
        .find(|r| r["attempts"].as_array().unwrap().len() == 3)
        .expect("one record with the refusal");
    assert_eq!(first["attempts"][1]["error_kind"], "4xx", "{first:#}");
    assert_eq!(first["attempts"][1]["continuation"], true);
}

#[tokio::test]
async fn a_stream_inside_a_tool_call_is_not_continued() {
    let mock = mock().await;
    let model = "continue-not-tools";
    let gateway = Gateway::start(&config(
        &mock.base_url(),
        model,
        "gpt-4o?tool_call=lookup&chunks=4&stall_after=2",
        r#"{ provider = "anthropic", model = "claude-haiku" }"#,
        "",
    ))
    .await;
    let stream = gateway
        .client()
        .stream(&json!({"model": model, "messages": [{"role": "user", "content": "weather?"}]}))
        .await;
    let end = stream.finish().await;
    assert!(!end.done(), "{}", end.raw);
    assert!(end.raw.contains("\"code\":\"stall\""), "{}", end.raw);
    assert!(mock.requests_for("claude-haiku").is_empty());
}

#[tokio::test]
async fn an_openai_kind_target_with_prefill_true_gets_the_plain_trailing_message() {
    let mock = mock().await;
    let model = "continue-on-prefill-true";
    let gateway = Gateway::start(&config(
        &mock.base_url(),
        model,
        "gpt-4o?chunks=6&stall_after=3",
        r#"{ provider = "selfhosted", model = "qwen-2.5" }"#,
        "",
    ))
    .await;
    let read = sdk_reads(&gateway.url(), model).await;
    one_answer(&read);
    let asked = mock.requests_for("qwen-2.5");
    assert_eq!(asked.len(), 1);
    let body = &asked[0].body;
    assert!(body.get("continue_final_message").is_none(), "{body}");
    let last = body["messages"].as_array().unwrap().last().unwrap();
    assert_eq!(last["role"], "assistant");
    assert!(last.get("prefix").is_none(), "{last}");
    assert!(
        last["content"].as_str().unwrap().starts_with("Hello"),
        "{last}"
    );
}
