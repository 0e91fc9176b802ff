//! The Anthropic adapter over real sockets against the loadtest mock's Messages API endpoint:
//! requests translated on the way out (asserted on the mock's journal), answers, streams and
//! errors translated on the way back.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::{Map, Value, json};
use switchboard_config::{Config, ErrorKind};
use switchboard_loadtest::{DEFAULT_ARGS, DEFAULT_CONTENT, MockHandle, MockProvider};
use switchboard_providers::anthropic::{self, anthropic_sse};
use switchboard_providers::{
    ChatRequest, ChunkStream, Completion, Provider, ProviderError, Providers, RequestBody,
    StreamChunk,
};

const MODEL: &str = "claude-test";

/// A mock and a provider `claude` of kind anthropic pointing at it; `extra` is appended to the
/// `[providers.claude]` table.
async fn setup(extra: &str) -> (MockHandle, Arc<dyn Provider>) {
    let mock = MockProvider::start().await.unwrap();
    let toml = format!(
        "[providers.claude]\nkind = \"anthropic\"\nbase_url = \"{}/\"\napi_key = \"sk-ant-test\"\n{extra}",
        mock.anthropic_base_url()
    );
    let config = Config::from_toml_str(&toml, "test.toml", &|_| None).unwrap();
    let providers = Providers::from_config(&config).unwrap();
    let provider = Arc::clone(providers.get("claude").unwrap());
    (mock, provider)
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn hello() -> Map<String, Value> {
    object(
        json!({"model": "claude", "messages": [{"role": "user", "content": "Say hello, please."}]}),
    )
}

async fn complete(
    provider: &dyn Provider,
    model: &str,
    body: &Map<String, Value>,
) -> Result<Completion, ProviderError> {
    provider
        .complete(ChatRequest {
            body: &RequestBody::from_object(body.clone()),
            model,
            stream: false,
            trace: None,
        })
        .await
}

async fn open(
    provider: &dyn Provider,
    model: &str,
    body: &Map<String, Value>,
) -> Result<ChunkStream, ProviderError> {
    provider
        .stream(ChatRequest {
            body: &RequestBody::from_object(body.clone()),
            model,
            stream: true,
            trace: None,
        })
        .await
}

/// Every chunk until the end or the first error.
async fn drain(mut stream: ChunkStream) -> (Vec<StreamChunk>, Option<ProviderError>) {
    let mut chunks = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(chunk) => chunks.push(chunk),
            Err(e) => {
                assert!(
                    stream.next().await.is_none(),
                    "the stream goes on after an error"
                );
                return (chunks, Some(e));
            }
        }
    }
    (chunks, None)
}

async fn stream_ok(
    provider: &dyn Provider,
    model: &str,
    body: &Map<String, Value>,
) -> Vec<StreamChunk> {
    let stream = match open(provider, model, body).await {
        Ok(stream) => stream,
        Err(e) => panic!("stream refused: {e}"),
    };
    let (chunks, err) = drain(stream).await;
    assert!(err.is_none(), "stream failed: {err:?}");
    chunks
}

fn json_of(chunk: &StreamChunk) -> Value {
    serde_json::from_slice(&chunk.data).unwrap()
}

fn content_of(chunks: &[StreamChunk]) -> String {
    chunks
        .iter()
        .filter_map(|c| c.info.content.as_deref())
        .collect()
}

/// Per tool-call index: (ids seen, names seen, concatenated arguments).
fn tool_calls_of(chunks: &[StreamChunk]) -> BTreeMap<u32, (Vec<String>, Vec<String>, String)> {
    let mut calls: BTreeMap<u32, (Vec<String>, Vec<String>, String)> = BTreeMap::new();
    for chunk in chunks {
        for delta in &chunk.info.tool_calls {
            let entry = calls.entry(delta.index).or_default();
            entry.0.extend(delta.id.clone());
            entry.1.extend(delta.name.clone());
            entry.2.push_str(delta.arguments.as_deref().unwrap_or(""));
        }
    }
    calls
}

/// Every chunk is an OpenAI `chat.completion.chunk` of one stream.
fn assert_chunk_shapes(chunks: &[StreamChunk]) {
    let first = json_of(&chunks[0]);
    let id = first["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("chatcmpl-msg_mock_"), "{id}");
    for chunk in chunks {
        let v = json_of(chunk);
        assert_eq!(v["object"], "chat.completion.chunk");
        assert_eq!(v["id"], id.as_str());
        assert_eq!(v["model"], MODEL);
        assert_eq!(v["created"], first["created"]);
        for choice in v["choices"].as_array().unwrap() {
            assert_eq!(choice["index"], 0);
            assert!(choice.get("logprobs").is_some_and(Value::is_null));
            assert!(choice.get("finish_reason").is_some());
            assert!(choice["delta"].is_object());
        }
    }
}

#[tokio::test]
async fn plain_text_non_stream() {
    let (mock, provider) = setup("").await;
    let completion = complete(&*provider, MODEL, &hello()).await.unwrap();
    let v = &serde_json::from_slice::<Value>(&completion.body).unwrap();
    assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-msg_mock_"));
    assert_eq!(v["object"], "chat.completion");
    assert!(v["created"].as_u64().unwrap() > 1_600_000_000);
    assert_eq!(completion.served_model(), Some(MODEL));
    assert_eq!(
        completion.message().unwrap(),
        &json!({"role": "assistant", "content": DEFAULT_CONTENT, "refusal": null})
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    // 18 prompt chars -> 5 tokens, 15 answer chars -> 4 tokens (the mock's accounting).
    assert_eq!(
        v["usage"],
        json!({"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9, "prompt_tokens_details": {"cached_tokens": 0}})
    );
    let usage = completion.usage().unwrap();
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.total_tokens
        ),
        (5, 4, 9)
    );

    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.path, "/v1/messages");
    assert_eq!(request.headers["x-api-key"], "sk-ant-test");
    assert_eq!(request.headers["anthropic-version"], "2023-06-01");
    assert_eq!(request.headers["content-type"], "application/json");
    assert!(request.headers.get("authorization").is_none());
    assert_eq!(request.body["model"], MODEL);
    assert_eq!(request.body["stream"], false);
}

#[tokio::test]
async fn streaming_text() {
    let (mock, provider) = setup("").await;
    let chunks = stream_ok(&*provider, MODEL, &hello()).await;
    assert_chunk_shapes(&chunks);
    // role, 3 content deltas, finish, usage (the default ping yields nothing).
    assert_eq!(chunks.len(), 6, "{chunks:#?}");
    assert_eq!(
        json_of(&chunks[0])["choices"][0]["delta"],
        json!({"role": "assistant", "content": ""})
    );
    assert!(!chunks[0].info.is_content_bearing());
    assert_eq!(content_of(&chunks), DEFAULT_CONTENT);
    assert!(chunks[1..4].iter().all(|c| c.info.is_content_bearing()));
    assert_eq!(chunks[4].info.finish_reason.as_deref(), Some("stop"));
    assert_eq!(json_of(&chunks[4])["choices"][0]["delta"], json!({}));
    let usage = &chunks[5];
    assert!(usage.info.no_choices);
    assert_eq!(
        json_of(usage)["usage"],
        json!({"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9, "prompt_tokens_details": {"cached_tokens": 0}})
    );
    assert_eq!(mock.requests()[0].body["stream"], true);
}

#[tokio::test]
async fn tool_calls_non_stream() {
    let (_mock, provider) = setup("").await;
    for count in [1, 3] {
        let model = format!("{MODEL}?tool_call=get_weather&parallel_tools={count}");
        let completion = complete(&*provider, &model, &hello()).await.unwrap();
        let message = completion.message().unwrap();
        assert_eq!(message["content"], Value::Null);
        let calls = message["tool_calls"].as_array().unwrap();
        assert_eq!(calls.len(), count);
        for (i, call) in calls.iter().enumerate() {
            assert_eq!(call["id"], format!("toolu_mock_{}", i + 1));
            assert_eq!(call["type"], "function");
            assert_eq!(call["function"]["name"], "get_weather");
            let args: Value =
                serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
            assert_eq!(args, serde_json::from_str::<Value>(DEFAULT_ARGS).unwrap());
        }
        let v: Value = serde_json::from_slice(&completion.body).unwrap();
        assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    }
}

#[tokio::test]
async fn tool_calls_streamed() {
    let (_mock, provider) = setup("").await;
    for count in [1u32, 3] {
        let model = format!("{MODEL}?tool_call=get_weather&parallel_tools={count}&chunks=4");
        let chunks = stream_ok(&*provider, &model, &hello()).await;
        assert_chunk_shapes(&chunks);
        let calls = tool_calls_of(&chunks);
        assert_eq!(
            calls.keys().copied().collect::<Vec<_>>(),
            (0..count).collect::<Vec<_>>()
        );
        for (index, (ids, names, args)) in &calls {
            assert_eq!(
                ids,
                &[format!("toolu_mock_{}", index + 1)],
                "one id, on the first fragment"
            );
            assert_eq!(names, &["get_weather".to_owned()]);
            assert_eq!(args, DEFAULT_ARGS);
            serde_json::from_str::<Value>(args).unwrap();
        }
        let finish: Vec<_> = chunks
            .iter()
            .filter_map(|c| c.info.finish_reason.as_deref())
            .collect();
        assert_eq!(finish, ["tool_calls"]);
        assert!(chunks.last().unwrap().info.usage.is_some());
    }
}

#[tokio::test]
async fn request_translation_on_the_wire() {
    let (mock, provider) = setup("default_max_tokens = 777").await;
    let body = object(json!({
        "model": "anthropic/claude",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
            {"role": "user", "content": "What is this?"},
            {"role": "user", "content": [
                {"type": "text", "text": "And the weather?"},
                {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"}},
                {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
            ]},
            {"role": "assistant", "content": "", "tool_calls": [
                {"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
            ]},
            {"role": "tool", "tool_call_id": "call_a", "content": "sunny"},
        ],
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather by city",
                   "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
        "tool_choice": "required",
        "stop": ["\n\nHuman:", "END"],
        "temperature": 0.3,
        "top_p": 0.9,
        "user": "user-42",
        "n": 1, "seed": 7, "presence_penalty": 0.5, "logprobs": true,
        "stream_options": {"include_usage": true},
    }));
    let mut dropped = anthropic::dropped_fields(&body);
    dropped.sort();
    assert_eq!(dropped, ["logprobs", "presence_penalty", "seed"]);

    complete(&*provider, MODEL, &body).await.unwrap();
    let sent = &mock.requests()[0].body;
    assert_eq!(sent["system"], "You are terse.\n\nAnswer in French.");
    assert_eq!(
        sent["messages"],
        json!([
            {"role": "user", "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "text", "text": "And the weather?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQ"}},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
            ]},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "call_a", "name": "get_weather", "input": {"city": "Paris"}},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "call_a", "content": "sunny"},
            ]},
        ])
    );
    assert_eq!(
        sent["tools"],
        json!([{"name": "get_weather", "description": "Weather by city",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}])
    );
    assert_eq!(sent["tool_choice"], json!({"type": "any"}));
    assert_eq!(sent["max_tokens"], 777, "the provider's default_max_tokens");
    assert_eq!(sent["stop_sequences"], json!(["\n\nHuman:", "END"]));
    assert_eq!(sent["temperature"], 0.3);
    assert_eq!(sent["top_p"], 0.9);
    assert_eq!(sent["metadata"], json!({"user_id": "user-42"}));
    assert_eq!(sent["stream"], false);
    for key in [
        "n",
        "seed",
        "presence_penalty",
        "logprobs",
        "stream_options",
        "user",
        "stop",
    ] {
        assert!(sent.get(key).is_none(), "{key} was sent to Anthropic");
    }

    // The client's own limit wins; without any, 4096.
    let (mock, provider) = setup("").await;
    let mut body = hello();
    body.insert(
        "tool_choice".into(),
        json!({"type": "function", "function": {"name": "f"}}),
    );
    body.insert(
        "tools".into(),
        json!([{"type": "function", "function": {"name": "f"}}]),
    );
    body.insert("stop".into(), json!("STOP"));
    complete(&*provider, MODEL, &body).await.unwrap();
    body.insert("max_tokens".into(), json!(64));
    complete(&*provider, MODEL, &body).await.unwrap();
    let requests = mock.requests();
    assert_eq!(requests[0].body["max_tokens"], 4096);
    assert_eq!(
        requests[0].body["tool_choice"],
        json!({"type": "tool", "name": "f"})
    );
    assert_eq!(requests[0].body["stop_sequences"], json!(["STOP"]));
    assert_eq!(requests[1].body["max_tokens"], 64);
}

#[tokio::test]
async fn untranslatable_requests_fail_before_sending() {
    let (mock, provider) = setup("").await;
    let body = object(json!({"messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{not json"}}]},
    ]}));
    let err = complete(&*provider, MODEL, &body).await.unwrap_err();
    assert!(matches!(err, ProviderError::Translate { .. }), "{err}");
    assert_eq!(err.kind(), ErrorKind::ClientError);
    assert!(open(&*provider, MODEL, &body).await.is_err());
    assert!(mock.requests().is_empty());
}

#[tokio::test]
async fn the_provider_names_the_fields_it_drops_and_openai_drops_none() {
    let (_mock, provider) = setup("").await;
    let body = object(json!({
        "model": "m", "messages": [{"role": "user", "content": "hi"}],
        "logprobs": true, "seed": 7, "temperature": 0.2, "n": 1, "top_logprobs": null,
    }));
    assert_eq!(provider.dropped_fields(&body), ["logprobs", "seed"]);
    assert!(provider.dropped_fields(&hello()).is_empty());

    let config = Config::from_toml_str(
        "[providers.oa]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\n",
        "test.toml",
        &|_| None,
    )
    .unwrap();
    let providers = Providers::from_config(&config).unwrap();
    let openai = providers.get("oa").unwrap();
    assert!(openai.dropped_fields(&body).is_empty());
}

#[tokio::test]
async fn usage_matches_between_stream_and_non_stream() {
    let (_mock, provider) = setup("").await;
    let body = object(json!({"messages": [
        {"role": "system", "content": "12345678"},
        {"role": "user", "content": "1234"},
    ]}));
    let model = format!("{MODEL}?content=abcdefghij");
    let completion = complete(&*provider, &model, &body).await.unwrap();
    let usage = completion.usage().unwrap();
    // system 8 chars -> 2, user 4 chars -> 1; answer 10 chars -> 3.
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.total_tokens
        ),
        (3, 3, 6)
    );
    let chunks = stream_ok(&*provider, &model, &body).await;
    assert_eq!(chunks.last().unwrap().info.usage, Some(usage));
}

#[tokio::test]
async fn error_statuses_map_to_kinds() {
    let (_mock, provider) = setup("").await;
    let cases = [
        (400, ErrorKind::ClientError),
        (401, ErrorKind::ClientError),
        (403, ErrorKind::ClientError),
        (404, ErrorKind::ClientError),
        (413, ErrorKind::ClientError),
        (429, ErrorKind::RateLimited),
        (500, ErrorKind::ServerError),
        (529, ErrorKind::ServerError),
    ];
    for (status, kind) in cases {
        let model = format!("{MODEL}?fail={status}&retry_after=3");
        let errors = [
            complete(&*provider, &model, &hello()).await.unwrap_err(),
            open(&*provider, &model, &hello()).await.err().unwrap(),
        ];
        for err in errors {
            assert!(matches!(err, ProviderError::Status { .. }), "{err}");
            assert_eq!(err.status(), Some(status));
            assert_eq!(err.kind(), kind, "status {status}");
            assert_eq!(err.retry_after(), Some(Duration::from_secs(3)));
            assert!(
                err.to_string().contains(&format!("mock failure {status}")),
                "{err}"
            );
        }
    }
}

#[tokio::test]
async fn pings_do_not_produce_chunks() {
    let (_mock, provider) = setup("").await;
    let quiet = stream_ok(&*provider, &format!("{MODEL}?pings=0"), &hello()).await;
    let pinged = stream_ok(
        &*provider,
        &format!("{MODEL}?pings=5&ttft_ms=50&keepalive_ms=10"),
        &hello(),
    )
    .await;
    assert_eq!(quiet.len(), pinged.len());
    assert_eq!(content_of(&pinged), DEFAULT_CONTENT);
    // Between the role chunk and the first content there is nothing.
    assert!(pinged[1].info.is_content_bearing());
}

#[tokio::test]
async fn error_event_mid_stream() {
    let (_mock, provider) = setup("").await;
    for (kind, expected) in [
        ("overloaded_error", ErrorKind::ServerError),
        ("api_error", ErrorKind::ServerError),
        ("rate_limit_error", ErrorKind::RateLimited),
        ("invalid_request_error", ErrorKind::ClientError),
    ] {
        let stream = open(&*provider, &format!("{MODEL}?error_event={kind}"), &hello())
            .await
            .unwrap();
        let (chunks, err) = drain(stream).await;
        let err = err.expect("the stream must fail");
        assert!(matches!(err, ProviderError::StreamError { .. }), "{err}");
        assert_eq!(err.kind(), expected, "{kind}");
        assert!(err.to_string().contains(kind), "{err}");
        // The role chunk and the first content delta came before it.
        assert_eq!(chunks.len(), 2);
        assert_eq!(content_of(&chunks), "Hello");
    }
}

#[tokio::test]
async fn truncated_stream_is_cut() {
    let (_mock, provider) = setup("").await;
    let stream = open(&*provider, &format!("{MODEL}?drop_after=1"), &hello())
        .await
        .unwrap();
    let (chunks, err) = drain(stream).await;
    let err = err.expect("the stream must fail");
    assert!(matches!(err, ProviderError::StreamCut { .. }), "{err}");
    assert_eq!(err.kind(), ErrorKind::Connect);
    assert_eq!(content_of(&chunks), "Hello");

    let err = complete(&*provider, &format!("{MODEL}?drop_after=1"), &hello())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ProviderError::StreamCut { .. } | ProviderError::Malformed { .. }
        ),
        "{err}"
    );
}

/// An SSE body from `events` (`(name, data)` pairs), as one byte stream.
fn sse(events: &[(&str, Value)]) -> ChunkStream {
    let text: String = events
        .iter()
        .map(|(name, data)| format!("event: {name}\ndata: {data}\n\n"))
        .collect();
    let pieces: Vec<Result<Bytes, std::io::Error>> = text
        .into_bytes()
        .chunks(7)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    anthropic_sse(futures_util::stream::iter(pieces), 1 << 20)
}

fn message_start() -> (&'static str, Value) {
    (
        "message_start",
        json!({"type": "message_start", "message": {"id": "msg_x", "type": "message", "role": "assistant", "content": [],
            "model": MODEL, "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": 3, "output_tokens": 1}}}),
    )
}

fn text_delta(text: &str) -> (&'static str, Value) {
    (
        "content_block_delta",
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}),
    )
}

#[tokio::test]
async fn unknown_events_are_ignored_and_a_clean_early_end_is_a_cut() {
    let (chunks, err) = drain(sse(&[
        message_start(),
        ("content_block_start", json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})),
        ("future_event", json!({"type": "future_event", "whatever": [1, 2]})),
        text_delta("Hi"),
        ("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "citations_delta", "citation": {}}})),
        ("content_block_stop", json!({"type": "content_block_stop", "index": 0})),
        ("message_delta", json!({"type": "message_delta", "delta": {"stop_reason": "stop_sequence", "stop_sequence": "END"}, "usage": {"output_tokens": 2}})),
        ("message_stop", json!({"type": "message_stop"})),
        // Nothing after message_stop is read.
        text_delta("ignored"),
    ]))
    .await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(chunks.len(), 4);
    assert_eq!(content_of(&chunks), "Hi");
    assert_eq!(chunks[2].info.finish_reason.as_deref(), Some("stop"));
    assert_eq!(chunks[3].info.usage.map(|u| u.total_tokens), Some(5));

    let (chunks, err) = drain(sse(&[message_start(), text_delta("Hi")])).await;
    assert_eq!(chunks.len(), 2);
    assert!(
        matches!(err, Some(ProviderError::StreamCut { .. })),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_unreadable_event_is_skipped_and_the_stream_goes_on() {
    let body = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"x\"}}\n\n\
                event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":\n\n";
    let stream = anthropic_sse(
        futures_util::stream::iter([Ok::<_, std::io::Error>(Bytes::from(body))]),
        1 << 20,
    );
    let (chunks, err) = drain(stream).await;
    assert_eq!(chunks.len(), 2, "the role chunk, then the skip marker");
    let why = chunks[1].info.skipped.as_deref().unwrap();
    assert!(why.contains("content_block_delta"), "{why}");
    // The body then ended without message_stop: that is still a cut.
    assert!(
        matches!(err, Some(ProviderError::StreamCut { .. })),
        "{err:?}"
    );
}

async fn json_body(response: reqwest::Response) -> Value {
    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
}

/// The mock itself speaks Anthropic's wire format.
#[tokio::test]
async fn mock_speaks_anthropic_wire_format() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .tls_backend_rustls()
        .build()
        .unwrap();
    let mock = MockProvider::start().await.unwrap();
    let url = format!("{}/v1/messages", mock.anthropic_base_url());
    let post = |body: Value, version: bool| {
        let mut request = client
            .post(&url)
            .header("content-type", "application/json")
            .body(body.to_string());
        if version {
            request = request.header("anthropic-version", "2023-06-01");
        }
        request.send()
    };
    let body = json!({"model": "claude-m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]});

    let response = post(body.clone(), true).await.unwrap();
    assert_eq!(response.status(), 200);
    let message: Value = json_body(response).await;
    assert!(message["id"].as_str().unwrap().starts_with("msg_mock_"));
    assert_eq!(message["type"], "message");
    assert_eq!(message["role"], "assistant");
    assert_eq!(message["model"], "claude-m");
    assert_eq!(
        message["content"],
        json!([{"type": "text", "text": DEFAULT_CONTENT}])
    );
    assert_eq!(message["stop_reason"], "end_turn");
    assert_eq!(message["stop_sequence"], Value::Null);
    assert_eq!(message["usage"]["output_tokens"], 4);

    let mut stream_body = body.clone();
    stream_body["stream"] = json!(true);
    stream_body["model"] = json!("claude-m?pings=2&chunks=2");
    let response = post(stream_body, true).await.unwrap();
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let text = response.text().await.unwrap();
    let names: Vec<&str> = text
        .split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|event| {
            let (name, data) = event.split_once('\n').unwrap();
            let name = name.strip_prefix("event: ").unwrap();
            let data: Value = serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
            assert_eq!(data["type"], name);
            name
        })
        .collect();
    assert_eq!(
        names,
        [
            "message_start",
            "ping",
            "ping",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
    );

    for (status, kind) in [
        (529, "overloaded_error"),
        (429, "rate_limit_error"),
        (401, "authentication_error"),
    ] {
        let mut failing = body.clone();
        failing["model"] = json!(format!("claude-m?fail={status}"));
        let response = post(failing, true).await.unwrap();
        assert_eq!(response.status().as_u16(), status);
        let error: Value = json_body(response).await;
        assert_eq!(error["type"], "error");
        assert_eq!(error["error"]["type"], kind);
    }

    // What Anthropic itself refuses, the mock refuses too.
    let response = post(body.clone(), false).await.unwrap();
    assert_eq!(response.status(), 400);
    let mut no_max = body.clone();
    no_max.as_object_mut().unwrap().remove("max_tokens");
    let response = post(no_max, true).await.unwrap();
    assert_eq!(response.status(), 400);
    let error: Value = json_body(response).await;
    assert_eq!(error["error"]["type"], "invalid_request_error");
    let mut system_role = body;
    system_role["messages"] = json!([{"role": "system", "content": "x"}]);
    assert_eq!(post(system_role, true).await.unwrap().status(), 400);
}
