//! A team mixes providers behind one model name: Anthropic's Messages API and Azure OpenAI
//! answer through Switchboard exactly as OpenAI would, fallback works across wire formats in
//! both directions, and what a provider cannot take is named in the record.

use serde_json::{Value, json};
use switchboard_tests::{Gateway, MockHandle, mock};

fn ask(model: &str) -> Value {
    json!({"model": model, "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hello"},
    ]})
}

/// Providers `openai` (kind openai) and `claude` (kind anthropic) on one mock, then `models`.
fn mixed(mock: &MockHandle, models: &str) -> String {
    format!(
        r#"
[providers.openai]
kind = "openai"
base_url = "{}"
api_key = "sk-openai-secret"

[providers.claude]
kind = "anthropic"
base_url = "{}"
api_key = "sk-ant-secret"
default_max_tokens = 321

{models}
"#,
        mock.base_url(),
        mock.anthropic_base_url()
    )
}

/// Checks that `end` is one clean OpenAI stream: a role chunk first, content chunks, one finish
/// chunk with `finish`, `[DONE]` last, every event framed `data: ...\n\n`, one id throughout.
fn assert_clean_openai_stream(end: &switchboard_tests::client::StreamEnd, finish: &str) {
    assert!(end.done(), "no [DONE]: {}", end.raw);
    assert!(!end.broken, "broken body: {}", end.raw);
    for event in end.raw.split_terminator("\n\n") {
        assert!(event.starts_with("data: "), "bad frame {event:?}");
    }
    let chunks = end.chunks();
    assert!(!chunks.is_empty());
    assert_eq!(
        chunks[0]["choices"][0]["delta"]["role"], "assistant",
        "{}",
        end.raw
    );
    let id = &chunks[0]["id"];
    assert!(id.as_str().is_some_and(|s| !s.is_empty()), "{}", end.raw);
    for chunk in &chunks {
        assert_eq!(chunk["object"], "chat.completion.chunk", "{chunk}");
        assert_eq!(&chunk["id"], id, "one id per stream: {}", end.raw);
        assert!(chunk.get("error").is_none(), "{chunk}");
    }
    let roles = chunks
        .iter()
        .filter(|c| c.pointer("/choices/0/delta/role").is_some())
        .count();
    assert_eq!(roles, 1, "one role chunk: {}", end.raw);
    let finishes: Vec<_> = chunks
        .iter()
        .filter_map(|c| c.pointer("/choices/0/finish_reason"))
        .filter(|f| !f.is_null())
        .collect();
    assert_eq!(finishes, vec![&json!(finish)], "{}", end.raw);
}

#[tokio::test]
async fn an_anthropic_model_answers_exactly_like_openai() {
    let mock = mock().await;
    let gateway = Gateway::start(&mixed(
        &mock,
        r#"[models.claude-fast]
targets = [{ provider = "claude", model = "claude-3-5-haiku-latest" }]"#,
    ))
    .await;

    // Non-stream.
    let reply = gateway.client().chat(&ask("claude-fast")).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = reply.json();
    assert_eq!(body["object"], "chat.completion");
    assert!(body["id"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(body["created"].as_u64().is_some(), "{body}");
    assert_eq!(body["model"], "claude-3-5-haiku-latest");
    assert_eq!(body["choices"][0]["index"], 0);
    assert_eq!(body["choices"][0]["message"]["role"], "assistant");
    assert_eq!(body["choices"][0]["message"]["content"], "Hello from mock");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    let usage = &body["usage"];
    let (prompt, completion) = (
        usage["prompt_tokens"].as_u64().unwrap(),
        usage["completion_tokens"].as_u64().unwrap(),
    );
    assert!(prompt > 0 && completion > 0, "{usage}");
    assert_eq!(usage["total_tokens"].as_u64(), Some(prompt + completion));
    assert_eq!(reply.header("x-switchboard-provider"), Some("claude"));
    assert_eq!(
        reply.header("x-switchboard-model"),
        Some("claude-3-5-haiku-latest")
    );

    // What went upstream is a Messages API request.
    let upstream = &mock.requests()[0];
    assert_eq!(upstream.path, "/v1/messages");
    assert_eq!(
        upstream
            .headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok()),
        Some("sk-ant-secret")
    );
    assert!(upstream.headers.get("anthropic-version").is_some());
    assert!(upstream.headers.get("authorization").is_none());
    assert_eq!(upstream.body["system"], "Be brief.");
    assert_eq!(upstream.body["max_tokens"], 321, "default_max_tokens");
    assert_eq!(upstream.body["model"], "claude-3-5-haiku-latest");
    assert_eq!(
        upstream.body["messages"],
        json!([{"role": "user", "content": [{"type": "text", "text": "hello"}]}])
    );

    // Stream.
    let stream = gateway.client().stream(&ask("claude-fast")).await;
    assert_eq!(stream.status, 200);
    assert_eq!(stream.header("content-type"), Some("text/event-stream"));
    assert_eq!(stream.header("x-switchboard-provider"), Some("claude"));
    let end = stream.finish().await;
    assert_clean_openai_stream(&end, "stop");
    assert_eq!(end.content(), "Hello from mock");
    // No usage chunk: the client did not ask for one.
    assert!(
        end.chunks()
            .iter()
            .all(|c| c["choices"].as_array().is_some_and(|a| !a.is_empty())),
        "{}",
        end.raw
    );
    let upstream = &mock.requests()[1];
    assert_eq!(upstream.body["stream"], true);
    assert_eq!(upstream.body["system"], "Be brief.");
    assert_eq!(upstream.body["max_tokens"], 321);

    let records = gateway.records.wait_for(2).await;
    for record in &records {
        assert_eq!(record["status"], "success");
        assert_eq!(record["provider_id"], "claude");
        assert_eq!(record["output"]["content"], "Hello from mock");
        assert!(
            record["usage"]["completion_tokens"].as_u64().unwrap() > 0,
            "{record}"
        );
        assert!(record.get("warnings").is_none(), "{record}");
        assert!(!record.to_string().contains("sk-ant-secret"));
    }
    assert_eq!(records[1]["stream"], true);
    assert!(records[1]["time_to_first_token"].as_f64().is_some());
}

#[tokio::test]
async fn a_stream_falls_back_from_a_slow_openai_target_to_anthropic_invisibly() {
    let mock = mock().await;
    let gateway = Gateway::start(&mixed(
        &mock,
        r#"[models.voice]
targets = [{ provider = "openai", model = "gpt-4o-mini?ttft_ms=3000" }, { provider = "claude", model = "claude-3-5-haiku-latest" }]
retries = 0
first_token_timeout_ms = 200"#,
    ))
    .await;
    let stream = gateway
        .client()
        .stream(
            &json!({"model": "voice", "messages": [{"role": "user", "content": "hi"}],
                        "stream_options": {"include_usage": true}}),
        )
        .await;
    assert_eq!(stream.status, 200);
    assert_eq!(stream.header("x-switchboard-provider"), Some("claude"));
    assert_eq!(stream.header("x-switchboard-fallback-index"), Some("1"));
    assert_eq!(stream.header("x-switchboard-attempts"), Some("2"));
    let end = stream.finish().await;
    assert_clean_openai_stream(&end, "stop");
    assert_eq!(end.content(), "Hello from mock");
    let chunks = end.chunks();
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"], json!([]), "usage chunk last: {}", end.raw);
    assert!(last["usage"]["total_tokens"].as_u64().unwrap() > 0);

    let record = gateway.records.wait_for(1).await.remove(0);
    assert_eq!(record["fallback_used"], true);
    assert_eq!(record["provider_id"], "claude");
    assert_eq!(record["attempts"][0]["provider_id"], "openai");
    assert_eq!(record["attempts"][0]["error_kind"], "first_token_timeout");
    assert_eq!(record["attempts"][1]["error_kind"], json!(null));
    assert_eq!(record["output"]["content"], "Hello from mock");
}

#[tokio::test]
async fn a_stream_falls_back_from_a_failing_openai_target_to_anthropic() {
    let mock = mock().await;
    let gateway = Gateway::start(&mixed(
        &mock,
        r#"[models.voice]
targets = [{ provider = "openai", model = "gpt-4o-mini?fail=503" }, { provider = "claude", model = "claude-3-5-haiku-latest" }]
retries = 0"#,
    ))
    .await;
    let stream = gateway.client().stream(&ask("voice")).await;
    assert_eq!(stream.status, 200);
    assert_eq!(stream.header("x-switchboard-provider"), Some("claude"));
    assert_eq!(stream.header("x-switchboard-fallback-index"), Some("1"));
    let end = stream.finish().await;
    assert_clean_openai_stream(&end, "stop");
    assert_eq!(end.content(), "Hello from mock");
    let record = gateway.records.wait_for(1).await.remove(0);
    assert_eq!(record["attempts"][0]["error_kind"], "5xx");
    assert_eq!(record["attempts"][0]["status_code"], 503);
}

#[tokio::test]
async fn an_overloaded_anthropic_target_falls_back_to_openai() {
    let mock = mock().await;
    let gateway = Gateway::start(&mixed(
        &mock,
        r#"[models.voice]
targets = [{ provider = "claude", model = "claude-3-5-haiku-latest?fail=529" }, { provider = "openai", model = "gpt-4o-mini" }]
retries = 0"#,
    ))
    .await;
    let stream = gateway.client().stream(&ask("voice")).await;
    assert_eq!(stream.status, 200);
    assert_eq!(stream.header("x-switchboard-provider"), Some("openai"));
    assert_eq!(stream.header("x-switchboard-fallback-index"), Some("1"));
    let end = stream.finish().await;
    assert_clean_openai_stream(&end, "stop");
    assert_eq!(end.content(), "Hello from mock");

    let record = gateway.records.wait_for(1).await.remove(0);
    assert_eq!(record["provider_id"], "openai");
    assert_eq!(record["fallback_used"], true);
    assert_eq!(record["attempts"][0]["provider_id"], "claude");
    assert_eq!(record["attempts"][0]["error_kind"], "5xx");
    assert_eq!(record["attempts"][0]["status_code"], 529);
    assert_eq!(
        mock.requests()[1].path,
        "/v1/chat/completions",
        "the OpenAI target got an OpenAI request"
    );
}

#[tokio::test]
async fn an_anthropic_400_ends_the_request_but_a_429_falls_back() {
    let mock = mock().await;
    let gateway = Gateway::start(&mixed(
        &mock,
        r#"[models.bad]
targets = [{ provider = "claude", model = "claude-bad?fail=400" }, { provider = "openai", model = "gpt-bad" }]
retries = 1
backoff_ms = 5

[models.busy]
targets = [{ provider = "claude", model = "claude-busy?fail=429" }, { provider = "openai", model = "gpt-busy" }]
retries = 0"#,
    ))
    .await;

    let reply = gateway.client().chat(&ask("bad")).await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    let error = &reply.json()["error"];
    assert_eq!(error["type"], "upstream_error");
    assert_eq!(error["code"], "4xx");
    assert!(
        error["message"].as_str().unwrap().contains("HTTP 400"),
        "{error}"
    );
    assert_eq!(
        mock.requests_for("claude-bad").len(),
        1,
        "4xx is not retried"
    );
    assert!(
        mock.requests_for("gpt-bad").is_empty(),
        "4xx is not fallen back from"
    );

    let reply = gateway.client().chat(&ask("busy")).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.header("x-switchboard-provider"), Some("openai"));
    assert_eq!(reply.header("x-switchboard-fallback-index"), Some("1"));

    let records = gateway.records.wait_for(2).await;
    assert_eq!(records[0]["status"], "error");
    assert_eq!(records[0]["status_code"], 400);
    assert_eq!(records[0]["attempts"][0]["error_kind"], "4xx");
    assert_eq!(records[1]["attempts"][0]["error_kind"], "429");
    assert_eq!(records[1]["attempts"][0]["status_code"], 429);
    assert_eq!(records[1]["status"], "success");
}

#[tokio::test]
async fn a_streamed_anthropic_tool_call_arrives_as_openai_tool_call_deltas() {
    let mock = mock().await;
    let gateway = Gateway::start(&mixed(
        &mock,
        r#"[models.agent]
targets = [{ provider = "claude", model = "claude-3-5-sonnet-latest?tool_call=lookup&args=%7B%22city%22%3A%22Paris%22%2C%22days%22%3A3%7D&chunks=4" }]"#,
    ))
    .await;
    let tools = json!([{"type": "function", "function": {"name": "lookup", "description": "weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}}}}]);
    let end = gateway
        .client()
        .stream(
            &json!({"model": "agent", "messages": [{"role": "user", "content": "weather?"}],
                        "tools": tools, "tool_choice": "required"}),
        )
        .await
        .finish()
        .await;
    assert_clean_openai_stream(&end, "tool_calls");

    let mut id = None;
    let mut arguments = String::new();
    let mut pieces = 0;
    for chunk in end.chunks() {
        for call in chunk["choices"][0]["delta"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
        {
            assert_eq!(call["index"], 0, "{call}");
            if let Some(call_id) = call["id"].as_str() {
                assert!(id.is_none(), "the id comes once: {}", end.raw);
                id = Some(call_id.to_owned());
                assert_eq!(call["type"], "function");
                assert_eq!(call["function"]["name"], "lookup");
            }
            if let Some(piece) = call["function"]["arguments"].as_str() {
                arguments.push_str(piece);
                pieces += 1;
            }
        }
    }
    assert!(id.is_some_and(|id| !id.is_empty()), "{}", end.raw);
    assert!(pieces >= 4, "arguments arrive in pieces: {}", end.raw);
    assert_eq!(
        serde_json::from_str::<Value>(&arguments).unwrap(),
        json!({"city": "Paris", "days": 3})
    );

    // The tools went upstream in Anthropic's shape.
    let upstream = &mock.requests()[0];
    assert_eq!(upstream.body["tools"][0]["name"], "lookup");
    assert_eq!(
        upstream.body["tools"][0]["input_schema"],
        tools[0]["function"]["parameters"]
    );
    assert_eq!(upstream.body["tool_choice"], json!({"type": "any"}));

    let record = gateway.records.wait_for(1).await.remove(0);
    assert_eq!(record["json_valid"], true, "tool arguments were checked");
    assert_eq!(
        record["output"]["tool_calls"][0]["function"]["name"],
        "lookup"
    );
}

#[tokio::test]
async fn an_azure_deployment_gets_its_url_and_api_key_header() {
    let mock = mock().await;
    let gateway = Gateway::start(&format!(
        r#"
[providers.azure]
kind = "azure"
base_url = "{}"
api_key = "azure-secret"
api_version = "2024-10-21"

[models.corp]
targets = [{{ provider = "azure", model = "gpt-4o-prod" }}]
"#,
        mock.anthropic_base_url()
    ))
    .await;

    let reply = gateway.client().chat(&ask("corp")).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json()["choices"][0]["message"]["content"],
        "Hello from mock"
    );
    assert_eq!(reply.header("x-switchboard-provider"), Some("azure"));
    let end = gateway.client().stream(&ask("corp")).await.finish().await;
    assert_clean_openai_stream(&end, "stop");
    assert_eq!(end.content(), "Hello from mock");

    let requests = mock.requests();
    assert_eq!(requests.len(), 2);
    for upstream in &requests {
        assert_eq!(
            upstream.path,
            "/openai/deployments/gpt-4o-prod/chat/completions"
        );
        assert_eq!(
            upstream.uri,
            "/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21"
        );
        assert_eq!(
            upstream
                .headers
                .get("api-key")
                .and_then(|v| v.to_str().ok()),
            Some("azure-secret")
        );
        assert!(upstream.headers.get("authorization").is_none());
    }
    assert_eq!(requests[1].body["stream"], true);
    let records = gateway.records.wait_for(2).await;
    assert!(records.iter().all(|r| r["status"] == "success"));
    assert!(!records[0].to_string().contains("azure-secret"));
}

#[tokio::test]
async fn fields_anthropic_cannot_take_are_dropped_and_named_in_the_warnings() {
    let mock = mock().await;
    let gateway = Gateway::start(&mixed(
        &mock,
        r#"[models.claude-fast]
targets = [{ provider = "claude", model = "claude-3-5-haiku-latest" }]

[models.gpt]
targets = [{ provider = "openai", model = "gpt-4o-mini" }]

[models.fb]
targets = [{ provider = "openai", model = "gpt-4o-mini?fail=500" }, { provider = "claude", model = "claude-3-5-haiku-latest" }]
retries = 0"#,
    ))
    .await;
    let body = |model: &str| {
        json!({"model": model, "messages": [{"role": "user", "content": "hi"}],
               "logprobs": true, "seed": 7, "temperature": 0.3, "n": 1})
    };

    let reply = gateway.client().chat(&body("claude-fast")).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let upstream = &mock.requests()[0];
    assert!(upstream.body.get("logprobs").is_none());
    assert!(upstream.body.get("seed").is_none());
    assert_eq!(upstream.body["temperature"], 0.3);
    let id = reply.header("x-switchboard-request-id").unwrap();
    let record = gateway.records.by_id(id).await;
    assert_eq!(
        record["warnings"],
        json!(["provider claude ignores: logprobs, seed"])
    );

    // Served by OpenAI: everything passes through, nothing to warn about.
    let reply = gateway.client().chat(&body("gpt")).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(mock.requests()[1].body["logprobs"], true);
    assert_eq!(mock.requests()[1].body["seed"], 7);
    let id = reply.header("x-switchboard-request-id").unwrap();
    let record = gateway.records.by_id(id).await;
    assert!(record.get("warnings").is_none(), "{record}");

    // A stream that fell back to Anthropic: the warning names the provider that served.
    let stream = gateway.client().stream(&body("fb")).await;
    assert_eq!(stream.header("x-switchboard-provider"), Some("claude"));
    let id = stream
        .header("x-switchboard-request-id")
        .unwrap()
        .to_owned();
    let end = stream.finish().await;
    assert!(end.done(), "{}", end.raw);
    let record = gateway.records.by_id(&id).await;
    assert_eq!(
        record["warnings"],
        json!(["provider claude ignores: logprobs, seed"])
    );
}

#[tokio::test]
async fn a_request_anthropic_cannot_express_goes_to_the_next_target_or_gets_a_400() {
    let mock = mock().await;
    let gateway = Gateway::start(&mixed(
        &mock,
        r#"[models.pv-audio]
targets = [{ provider = "claude", model = "claude-3-5-haiku" }, { provider = "openai", model = "gpt-4o-audio" }]

[models.pv-audio-only]
targets = [{ provider = "claude", model = "claude-3-5-haiku" }]"#,
    ))
    .await;
    let audio = |model: &str| {
        json!({"model": model, "messages": [{"role": "user", "content": [
            {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}
        ]}]})
    };
    let reply = gateway.client().chat(&audio("pv-audio")).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.header("x-switchboard-provider"), Some("openai"));
    assert!(
        mock.requests_for("claude").is_empty(),
        "nothing was sent to Anthropic"
    );

    let reply = gateway.client().chat(&audio("pv-audio-only")).await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert!(
        reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("input_audio"),
        "{}",
        reply.text
    );
}
