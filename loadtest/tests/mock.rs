//! The mock provider over real sockets, driven by a plain HTTP client.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};
use switchboard_loadtest::{MockHandle, MockProvider, Script};

fn client() -> reqwest::Client {
    // The workspace builds reqwest without a default crypto provider; install ring once.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

async fn post(mock: &MockHandle, body: &Value, script_header: Option<&str>) -> reqwest::Response {
    let mut req = client()
        .post(format!("{}/chat/completions", mock.base_url()))
        .header("content-type", "application/json")
        .header("authorization", "Bearer sk-test")
        .body(serde_json::to_vec(body).unwrap());
    if let Some(h) = script_header {
        req = req.header("x-mock-script", h);
    }
    req.send().await.unwrap()
}

fn chat(model: &str, stream: bool) -> Value {
    json!({
        "model": model,
        "stream": stream,
        "messages": [{"role": "user", "content": "Say hello, please."}],
    })
}

async fn json_of(resp: reqwest::Response) -> Value {
    serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap()
}

/// Splits an SSE body into its `data:` payloads and comment lines.
fn events(text: &str) -> Vec<&str> {
    assert!(
        text.ends_with("\n\n"),
        "body must end with a blank line: {text:?}"
    );
    text.split("\n\n").filter(|e| !e.is_empty()).collect()
}

fn data_json(event: &str) -> Value {
    let payload = event
        .strip_prefix("data: ")
        .unwrap_or_else(|| panic!("not a data event: {event:?}"));
    serde_json::from_str(payload).unwrap()
}

#[tokio::test]
async fn non_stream_body_has_openai_shape() {
    let mock = MockProvider::start().await.unwrap();
    let resp = post(&mock, &chat("gpt-4o-mini?chunks=2", false), None).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let v = json_of(resp).await;
    assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-mock-"));
    assert_eq!(v["object"], "chat.completion");
    assert!(v["created"].as_u64().unwrap() > 1_600_000_000);
    assert_eq!(v["model"], "gpt-4o-mini");
    assert_eq!(v["system_fingerprint"], "fp_mock");
    let choice = &v["choices"][0];
    assert_eq!(choice["index"], 0);
    assert_eq!(choice["finish_reason"], "stop");
    assert_eq!(choice["logprobs"], Value::Null);
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["content"], "Hello from mock");
    assert_eq!(choice["message"]["refusal"], Value::Null);
    // "Say hello, please." is 18 chars -> 5 tokens; "Hello from mock" 15 chars -> 4.
    assert_eq!(v["usage"]["prompt_tokens"], 5);
    assert_eq!(v["usage"]["completion_tokens"], 4);
    assert_eq!(v["usage"]["total_tokens"], 9);
}

#[tokio::test]
async fn stream_is_framed_like_openai() {
    let mock = MockProvider::start().await.unwrap();
    let mut body = chat("gpt-4o-mini?content=caf%C3%A9%20au%20lait&chunks=4", true);
    body["stream_options"] = json!({"include_usage": true});
    let resp = post(&mock, &body, None).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let text = resp.text().await.unwrap();
    let events = events(&text);
    assert_eq!(*events.last().unwrap(), "data: [DONE]");

    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| data_json(e))
        .collect();
    for c in &chunks {
        assert_eq!(c["object"], "chat.completion.chunk");
        assert_eq!(c["model"], "gpt-4o-mini");
        assert_eq!(c["system_fingerprint"], "fp_mock");
        assert_eq!(c["id"], chunks[0]["id"]);
    }
    let role = &chunks[0]["choices"][0];
    assert_eq!(
        role["delta"],
        json!({"role": "assistant", "content": "", "refusal": null})
    );
    assert_eq!(role["finish_reason"], Value::Null);
    assert_eq!(role["logprobs"], Value::Null);

    let n = chunks.len();
    let contents: Vec<&str> = chunks[1..n - 2]
        .iter()
        .map(|c| c["choices"][0]["delta"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents.len(), 4);
    assert!(contents.iter().all(|p| !p.is_empty()));
    assert_eq!(contents.concat(), "café au lait");

    let finish = &chunks[n - 2]["choices"][0];
    assert_eq!(finish["delta"], json!({}));
    assert_eq!(finish["finish_reason"], "stop");
    let usage = &chunks[n - 1];
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["completion_tokens"], 3);
    assert_eq!(usage["usage"]["total_tokens"], 8);

    // Without include_usage: no usage chunk.
    let text = post(&mock, &chat("m", true), None)
        .await
        .text()
        .await
        .unwrap();
    let events = self::events(&text);
    let finish = data_json(events[events.len() - 2]);
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    assert_eq!(events.len(), 1 + 3 + 1 + 1);
}

#[tokio::test]
async fn fail_times_fails_then_recovers() {
    let mock = MockProvider::start().await.unwrap();
    let model = "gpt-4o-mini?fail=503&times=2";
    for _ in 0..2 {
        let resp = post(&mock, &chat(model, false), None).await;
        assert_eq!(resp.status(), 503);
        let v = json_of(resp).await;
        assert_eq!(
            v,
            json!({"error": {"message": "mock failure 503", "type": "server_error", "code": null}})
        );
    }
    let resp = post(&mock, &chat(model, false), None).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(json_of(resp).await["model"], "gpt-4o-mini");
    // The counter is per full model string.
    let resp = post(
        &mock,
        &chat("gpt-4o-mini?fail=503&times=2&chunks=1", false),
        None,
    )
    .await;
    assert_eq!(resp.status(), 503);

    // Without times: always; retry_after adds the header; 429 is a rate limit.
    for _ in 0..3 {
        let resp = post(&mock, &chat("x?fail=429&retry_after=7", true), None).await;
        assert_eq!(resp.status(), 429);
        assert_eq!(resp.headers()["retry-after"], "7");
        assert_eq!(json_of(resp).await["error"]["type"], "rate_limit_error");
    }
}

#[tokio::test]
async fn header_script_wins_over_model_suffix() {
    let mock = MockProvider::start().await.unwrap();
    let resp = post(&mock, &chat("m?fail=503", false), Some("fail=429")).await;
    assert_eq!(resp.status(), 429);
    let resp = post(&mock, &chat("m", false), Some("content=hi%20there")).await;
    assert_eq!(
        json_of(resp).await["choices"][0]["message"]["content"],
        "hi there"
    );
}

#[tokio::test]
async fn defaults_apply_under_request_scripts() {
    let defaults: Script = "content=default%20text&chunks=2".parse().unwrap();
    let mock = MockProvider::start_on("127.0.0.1:0".parse().unwrap(), defaults)
        .await
        .unwrap();
    let v = json_of(post(&mock, &chat("m", false), None).await).await;
    assert_eq!(v["choices"][0]["message"]["content"], "default text");
    let v = json_of(post(&mock, &chat("m?content=own", false), None).await).await;
    assert_eq!(v["choices"][0]["message"]["content"], "own");
}

#[tokio::test]
async fn tool_call_stream_fragments_concatenate_to_args() {
    let mock = MockProvider::start().await.unwrap();
    let args = r#"{"city":"Paris","unit":"celsius"}"#;
    let model = format!(
        "m?tool_call=get_weather&args={}&chunks=5&parallel_tools=2",
        args.replace('"', "%22").replace(',', "%2C")
    );
    let text = post(&mock, &chat(&model, true), None)
        .await
        .text()
        .await
        .unwrap();
    let events = events(&text);
    assert_eq!(*events.last().unwrap(), "data: [DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| data_json(e))
        .collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");

    let mut arguments = [String::new(), String::new()];
    let mut headers = 0;
    let mut fragments = 0;
    for c in &chunks[1..chunks.len() - 1] {
        let call = &c["choices"][0]["delta"]["tool_calls"][0];
        let index = call["index"].as_u64().unwrap() as usize;
        if call.get("id").is_some() {
            headers += 1;
            assert_eq!(call["id"], format!("call_mock_{}", index + 1));
            assert_eq!(call["type"], "function");
            assert_eq!(call["function"]["name"], "get_weather");
            assert_eq!(call["function"]["arguments"], "");
        } else {
            fragments += 1;
            arguments[index].push_str(call["function"]["arguments"].as_str().unwrap());
        }
    }
    assert_eq!(headers, 2);
    assert_eq!(fragments, 10);
    assert_eq!(arguments, [args, args]);
    let finish = &chunks[chunks.len() - 1]["choices"][0];
    assert_eq!(finish["finish_reason"], "tool_calls");

    // Non-stream: one message with the calls, content null.
    let v = json_of(post(&mock, &chat("m?tool_call=lookup", false), None).await).await;
    let choice = &v["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], Value::Null);
    assert_eq!(
        choice["message"]["tool_calls"],
        json!([{"id": "call_mock_1", "type": "function",
                "function": {"name": "lookup", "arguments": "{\"city\":\"Paris\"}"}}])
    );
}

#[tokio::test]
async fn json_modes_and_json_times() {
    let mock = MockProvider::start().await.unwrap();
    let v = json_of(post(&mock, &chat("m?json=invalid", false), None).await).await;
    let content = v["choices"][0]["message"]["content"].as_str().unwrap();
    assert_eq!(content, r#"{"answer": "yes", "confid"#);
    assert!(serde_json::from_str::<Value>(content).is_err());

    let model = "m?json=array&json_times=1";
    let v = json_of(post(&mock, &chat(model, false), None).await).await;
    assert_eq!(v["choices"][0]["message"]["content"], "[1,2]");
    let v = json_of(post(&mock, &chat(model, false), None).await).await;
    let content = v["choices"][0]["message"]["content"].as_str().unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(content).unwrap(),
        json!({"answer": "yes", "confidence": 0.9})
    );
}

#[tokio::test]
async fn stall_after_holds_and_counts_the_client_leaving() {
    let mock = MockProvider::start().await.unwrap();
    let resp = post(&mock, &chat("m?stall_after=1&chunks=3", true), None).await;
    assert_eq!(resp.status(), 200);
    let mut body = resp.bytes_stream();
    let mut text = String::new();
    // Role chunk + one content chunk arrive promptly.
    while text.matches("\n\n").count() < 2 {
        let frame = tokio::time::timeout(Duration::from_secs(5), body.next())
            .await
            .expect("first chunks in time")
            .unwrap()
            .unwrap();
        text.push_str(std::str::from_utf8(&frame).unwrap());
    }
    let events = events(&text);
    assert_eq!(events.len(), 2);
    assert_eq!(
        data_json(events[1])["choices"][0]["delta"]["content"],
        "Hello"
    );
    // Then nothing.
    let next = tokio::time::timeout(Duration::from_millis(300), body.next()).await;
    assert!(next.is_err(), "stalled stream sent {next:?}");
    assert_eq!(mock.cancelled_streams(), 0);
    drop(body);
    assert!(mock.wait_cancelled(1, Duration::from_secs(5)).await);
    assert_eq!(mock.cancelled_streams(), 1);
}

#[tokio::test]
async fn drop_after_cuts_the_stream() {
    let mock = MockProvider::start().await.unwrap();
    let resp = post(&mock, &chat("m?drop_after=2", true), None).await;
    assert_eq!(resp.status(), 200);
    let mut body = resp.bytes_stream();
    let mut text = String::new();
    let mut failed = false;
    while let Some(frame) = tokio::time::timeout(Duration::from_secs(5), body.next())
        .await
        .unwrap()
    {
        match frame {
            Ok(bytes) => text.push_str(std::str::from_utf8(&bytes).unwrap()),
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    assert!(failed, "the body must end in an error");
    assert!(!text.contains("[DONE]"));
    assert_eq!(events(&text).len(), 3);
}

#[tokio::test]
async fn ttft_with_keepalive_comments() {
    let mock = MockProvider::start().await.unwrap();
    let started = Instant::now();
    let text = post(&mock, &chat("m?ttft_ms=250&keepalive_ms=60", true), None)
        .await
        .text()
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(250));
    let events = events(&text);
    assert!(events[0].starts_with("data: "));
    let comments = events.iter().take_while(|e| e.starts_with(':')).count();
    assert_eq!(comments, 0, "role chunk comes first");
    let keepalives: Vec<&&str> = events[1..]
        .iter()
        .take_while(|e| e.starts_with(':'))
        .collect();
    assert_eq!(keepalives.len(), 4);
    assert!(keepalives.iter().all(|e| **e == ": keep-alive"));

    // slow_times: only the first request is slow.
    let model = "m?ttft_ms=400&slow_times=1";
    let started = Instant::now();
    post(&mock, &chat(model, false), None)
        .await
        .bytes()
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(400));
    let started = Instant::now();
    post(&mock, &chat(model, false), None)
        .await
        .bytes()
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_millis(400));
}

#[tokio::test]
async fn unknown_directive_is_a_loud_400() {
    let mock = MockProvider::start().await.unwrap();
    let resp = post(&mock, &chat("m?fial=503", false), None).await;
    assert_eq!(resp.status(), 400);
    let v = json_of(resp).await;
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert_eq!(v["error"]["code"], Value::Null);
    assert!(v["error"]["message"].as_str().unwrap().contains("fial"));

    let resp = post(&mock, &chat("m", true), Some("chunks=lots")).await;
    assert_eq!(resp.status(), 400);
    assert!(
        json_of(resp).await["error"]["message"]
            .as_str()
            .unwrap()
            .contains("chunks")
    );
}

#[tokio::test]
async fn journal_records_requests() {
    let mock = MockProvider::start().await.unwrap();
    let body = chat("gpt-4o-mini?chunks=2", false);
    post(&mock, &body, Some("content=x"))
        .await
        .bytes()
        .await
        .unwrap();
    post(&mock, &chat("other", true), None)
        .await
        .bytes()
        .await
        .unwrap();

    let all = mock.requests();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].path, "/v1/chat/completions");
    assert_eq!(all[0].model, "gpt-4o-mini?chunks=2");
    assert_eq!(all[0].body, body);
    assert_eq!(all[0].headers["authorization"], "Bearer sk-test");
    assert_eq!(all[0].headers["x-mock-script"], "content=x");
    assert_eq!(all[1].model, "other");

    let mine = mock.requests_for("gpt-4o");
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].body["messages"][0]["content"], "Say hello, please.");
}

#[tokio::test]
async fn models_and_unknown_routes() {
    let mock = MockProvider::start().await.unwrap();
    let resp = client()
        .get(format!("{}/models", mock.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        json_of(resp).await,
        json!({"object": "list", "data": [{"id": "mock", "object": "model"}]})
    );

    let resp = client()
        .post(format!("{}/embeddings", mock.base_url()))
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let v = json_of(resp).await;
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert_eq!(v["error"]["code"], Value::Null);
    let journal = mock.requests();
    assert_eq!(journal.len(), 2);
    assert_eq!(journal[1].body, Value::Null);
}

#[tokio::test]
async fn dropping_the_handle_stops_the_server() {
    let mock = MockProvider::start().await.unwrap();
    let url = format!("{}/models", mock.base_url());
    let addr = mock.addr();
    assert!(client().get(&url).send().await.is_ok());
    mock.shutdown();
    // The accept loop ends on its next poll.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            break;
        }
        assert!(Instant::now() < deadline, "server still accepting");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn non_stream_drop_and_stall() {
    let mock = MockProvider::start().await.unwrap();
    let resp = post(&mock, &chat("m?drop_after=0", false), None).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.bytes().await.is_err(), "a cut body must fail to read");

    let pending = tokio::time::timeout(
        Duration::from_millis(300),
        post(&mock, &chat("m?stall_after=0", false), None),
    )
    .await;
    assert!(pending.is_err(), "a stalled non-stream request must hang");

    // stall_times: only the first request of the model string stalls.
    let model = "m?stall_after=0&stall_times=1";
    let first = tokio::time::timeout(
        Duration::from_millis(200),
        post(&mock, &chat(model, false), None),
    )
    .await;
    assert!(first.is_err());
    let second = tokio::time::timeout(
        Duration::from_secs(5),
        post(&mock, &chat(model, false), None),
    )
    .await;
    assert_eq!(second.unwrap().status(), 200);
}
