//! A voice team traces every phone call with OpenTelemetry: their edge opens the call's trace
//! and sends `traceparent` with each LLM call. They point `[otel] endpoint` at their collector
//! and find each call of the gateway inside the phone call's trace: a `chat {model}` span with
//! the GenAI attributes, one child per upstream attempt with its error kind and first token,
//! and the provider's own request naming that attempt as its parent. When the collector is
//! slow, failing or gone, calls go on as before and the lost spans are counted.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use switchboard_tests::binary::{Process, free_port, temp_dir};
use switchboard_tests::otlp::ReceivedSpan;
use switchboard_tests::{Client, MockHandle, OtlpReceiver, metric_value, mock};

const TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const CALLER_SPAN: &str = "b7ad6b7169203331";

/// A gateway binary exporting to `collector` with `otel_extra` added to `[otel]`.
async fn gateway(
    mock: &MockHandle,
    collector: &str,
    otel_extra: &str,
    tag: &str,
) -> (Process, Client) {
    let dir = temp_dir(tag);
    let port = free_port();
    write_config(&dir, port, mock, collector, otel_extra);
    let mut process = Process::spawn(&["serve"], &[], &dir);
    let url = format!("http://127.0.0.1:{port}");
    process.wait_healthy(&url).await;
    (process, Client::new(&url))
}

fn write_config(dir: &Path, port: u16, mock: &MockHandle, collector: &str, otel_extra: &str) {
    let data = dir.join("data");
    std::fs::write(
        dir.join("switchboard.toml"),
        format!(
            r#"
[server]
listen = "127.0.0.1:{port}"

[logging]
spool_dir = "{data}/spool"
store = "sqlite://{data}/store.db"
redact = ["email"]

[otel]
endpoint = "{collector}"
service_name = "voice-gateway"
export_interval_ms = 50
{otel_extra}

[providers.openai]
kind = "openai"
base_url = "{mock}"
api_key = "sk-test"

[models."voice-fast"]
targets = [{{ provider = "openai", model = "gpt-4o-mini" }}]

[models."voice-fallback"]
targets = [
  {{ provider = "openai", model = "gpt-4o-mini?fail=503" }},
  {{ provider = "openai", model = "gpt-4o" }},
]
retries = 0

[providers.selfhosted]
kind = "openai"
base_url = "{mock}"
prefill = true

[models."voice-hedged"]
targets = [
  {{ provider = "openai", model = "gpt-4o-mini?ttft_ms=2000" }},
  {{ provider = "openai", model = "gpt-4o" }},
]
hedge_after_ms = 50

[models."voice-continued"]
targets = [
  {{ provider = "openai", model = "gpt-4o-mini?chunks=5&drop_after=3" }},
  {{ provider = "selfhosted", model = "llama-3.1-8b" }},
]
mid_stream = "continue"
"#,
            data = data.display(),
            mock = mock.base_url(),
        ),
    )
    .expect("write the config");
}

fn find<'a>(spans: &'a [ReceivedSpan], name: &str) -> &'a ReceivedSpan {
    spans
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no span {name} in {spans:#?}"))
}

/// The record of `id`, from the gateway's logs API (loopback needs no admin key).
async fn record(client: &Client, id: &str) -> Value {
    for _ in 0..100 {
        let reply = client.get(&format!("/api/logs/{id}")).await;
        if reply.status == 200 {
            return reply.json();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("record {id} never reached the store");
}

#[tokio::test]
async fn a_streamed_call_appears_inside_the_phone_calls_trace() {
    let mock = mock().await;
    let collector = OtlpReceiver::start().await;
    let (process, client) = gateway(&mock, &collector.endpoint(), "", "otel-stream").await;

    let traceparent = format!("00-{TRACE}-{CALLER_SPAN}-01");
    let body = json!({
        "model": "voice-fast",
        "messages": [{"role": "user", "content": "Is the clinic open on Sunday?"}],
        "temperature": 0.3,
        "max_tokens": 50,
    });
    let stream = client
        .stream_with(
            &body,
            &[
                ("traceparent", &traceparent),
                ("tracestate", "edge=call42"),
                ("x-switchboard-thread-id", "call-7"),
            ],
        )
        .await;
    let request_id = stream
        .header("x-switchboard-request-id")
        .expect("request id")
        .to_owned();
    let end = stream.finish().await;
    assert!(end.done(), "{}", end.raw);

    let spans = collector.wait_for_spans(2).await;
    assert_eq!(spans.len(), 2, "{spans:#?}");
    let chat = find(&spans, "chat voice-fast");
    let attempt = find(&spans, "chat gpt-4o-mini");

    // The request span sits under the caller's span, in the caller's trace.
    assert_eq!(chat.trace_id, TRACE);
    assert_eq!(chat.parent_span_id, CALLER_SPAN);
    assert_eq!(chat.kind, "server");
    assert_eq!(chat.service_name, "voice-gateway");
    assert_eq!(chat.status, "unset");
    let expect = [
        ("gen_ai.operation.name", json!("chat")),
        ("gen_ai.provider.name", json!("openai")),
        ("gen_ai.request.model", json!("voice-fast")),
        ("gen_ai.response.model", json!("gpt-4o-mini")),
        ("gen_ai.request.stream", json!(true)),
        ("gen_ai.request.temperature", json!(0.3)),
        ("gen_ai.request.max_tokens", json!(50)),
        ("gen_ai.response.finish_reasons", json!(["stop"])),
        ("gen_ai.conversation.id", json!("call-7")),
        ("http.response.status_code", json!(200)),
        ("switchboard.request.id", json!(request_id)),
        ("switchboard.provider", json!("openai")),
        ("switchboard.status", json!("success")),
        ("switchboard.fallback_used", json!(false)),
    ];
    for (key, value) in expect {
        assert_eq!(chat.attr(key), &value, "{key} of {chat:#?}");
    }
    assert!(
        chat.attr("gen_ai.response.id")
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
    assert!(
        chat.attr("gen_ai.response.time_to_first_chunk")
            .as_f64()
            .is_some_and(|t| t > 0.0)
    );
    assert!(chat.attributes.get("error.type").is_none());

    // The usage is the record's.
    let record = record(&client, &request_id).await;
    let usage = &record["usage"];
    assert!(
        usage["prompt_tokens"].as_u64().is_some_and(|n| n > 0),
        "{record}"
    );
    assert_eq!(
        chat.attr("gen_ai.usage.input_tokens"),
        &usage["prompt_tokens"]
    );
    assert_eq!(
        chat.attr("gen_ai.usage.output_tokens"),
        &usage["completion_tokens"]
    );
    // And the record names its span.
    assert_eq!(record["trace_unique_id"], json!(TRACE));
    assert_eq!(record["span_parent_id"], json!(CALLER_SPAN));
    assert_eq!(record["span_unique_id"], json!(chat.span_id));

    // The attempt is the request span's child, with its first token.
    assert_eq!(attempt.trace_id, TRACE);
    assert_eq!(attempt.parent_span_id, chat.span_id);
    assert_eq!(attempt.kind, "client");
    assert_eq!(attempt.attr("gen_ai.provider.name"), &json!("openai"));
    assert_eq!(attempt.attr("gen_ai.request.model"), &json!("gpt-4o-mini"));
    assert_eq!(attempt.attr("http.response.status_code"), &json!(200));
    assert_eq!(attempt.attr("switchboard.attempt.hedge"), &json!(false));
    assert_eq!(attempt.attr("switchboard.attempt.cancelled"), &json!(false));
    assert_eq!(
        attempt.attr("switchboard.attempt.continuation"),
        &json!(false)
    );
    let ttft = attempt
        .attr("gen_ai.response.time_to_first_chunk")
        .as_f64()
        .expect("TTFT");
    let first_token = attempt
        .events
        .iter()
        .find(|(name, _)| name == "first_token")
        .expect("a first_token event");
    assert!(first_token.1.is_empty());
    assert!(attempt.start_ns >= chat.start_ns && attempt.end_ns <= chat.end_ns);
    assert!(ttft > 0.0 && ttft <= (attempt.end_ns - attempt.start_ns) as f64 / 1e9);
    // No body is on a span unless asked for.
    assert!(chat.events.is_empty(), "{:?}", chat.events);

    // The provider got the trace with the attempt as the parent, and the caller's tracestate.
    let upstream = mock.requests();
    let sent = upstream.last().expect("the mock got the call");
    assert_eq!(
        sent.headers
            .get("traceparent")
            .and_then(|v| v.to_str().ok()),
        Some(format!("00-{TRACE}-{}-01", attempt.span_id).as_str())
    );
    assert_eq!(
        sent.headers.get("tracestate").and_then(|v| v.to_str().ok()),
        Some("edge=call42")
    );
    process.terminate();
}

#[tokio::test]
async fn a_fallback_shows_each_attempt_and_why_it_failed() {
    let mock = mock().await;
    let collector = OtlpReceiver::start().await;
    let (process, client) = gateway(&mock, &collector.endpoint(), "", "otel-fallback").await;

    // No traceparent: the gateway starts the trace.
    let reply = client
        .chat(&json!({"model": "voice-fallback", "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let spans = collector.wait_for_spans(3).await;
    let chat = find(&spans, "chat voice-fallback");
    assert_eq!(chat.parent_span_id, "", "a root span");
    assert_eq!(chat.trace_id.len(), 32);
    assert_eq!(chat.attr("switchboard.fallback_used"), &json!(true));
    assert_eq!(chat.attr("gen_ai.response.model"), &json!("gpt-4o"));
    assert_eq!(chat.attr("gen_ai.request.stream"), &json!(false));
    assert_eq!(
        chat.attr("gen_ai.response.finish_reasons"),
        &json!(["stop"])
    );

    let failed = find(&spans, "chat gpt-4o-mini?fail=503");
    let served = find(&spans, "chat gpt-4o");
    for attempt in [failed, served] {
        assert_eq!(attempt.trace_id, chat.trace_id);
        assert_eq!(attempt.parent_span_id, chat.span_id);
    }
    assert_eq!(failed.status, "error");
    assert_eq!(failed.attr("error.type"), &json!("5xx"));
    assert_eq!(failed.attr("http.response.status_code"), &json!(503));
    assert!(failed.start_ns <= served.start_ns);
    assert_eq!(served.status, "unset");
    assert!(served.attributes.get("error.type").is_none());

    // Each upstream request named its own attempt.
    let parents: Vec<String> = mock
        .requests()
        .iter()
        .filter_map(|r| {
            r.headers
                .get("traceparent")?
                .to_str()
                .ok()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(
        parents,
        vec![
            format!("00-{}-{}-01", chat.trace_id, failed.span_id),
            format!("00-{}-{}-01", chat.trace_id, served.span_id),
        ]
    );

    // A failed request's span says so.
    let refused = client
        .chat(&json!({"model": "no-such-model", "messages": []}))
        .await;
    assert_eq!(refused.status, 404);
    let spans = collector.wait_for_spans(4).await;
    let span = find(&spans, "chat no-such-model");
    assert_eq!(span.status, "error");
    assert_eq!(span.attr("error.type"), &json!("404"));
    assert_eq!(span.attr("switchboard.status"), &json!("error"));
    process.terminate();
}

#[tokio::test]
async fn a_hedge_race_and_a_continued_stream_show_every_attempt() {
    let mock = mock().await;
    let collector = OtlpReceiver::start().await;
    let (process, client) = gateway(&mock, &collector.endpoint(), "", "otel-tail").await;
    let ask =
        |model: &str| json!({"model": model, "messages": [{"role": "user", "content": "hi"}]});

    // The primary is late: a hedge starts on the backup, wins, and the primary is hung up on.
    let end = client.stream(&ask("voice-hedged")).await.finish().await;
    assert!(end.done(), "{}", end.raw);
    let spans = collector.wait_for_spans(3).await;
    let chat = find(&spans, "chat voice-hedged");
    let late = find(&spans, "chat gpt-4o-mini?ttft_ms=2000");
    let hedge = find(&spans, "chat gpt-4o");
    assert_eq!(late.parent_span_id, chat.span_id);
    assert_eq!(hedge.parent_span_id, chat.span_id);
    assert_eq!(late.attr("switchboard.attempt.cancelled"), &json!(true));
    assert_eq!(late.attr("switchboard.attempt.hedge"), &json!(false));
    assert_eq!(late.status, "unset", "a hedge's loser did not fail");
    assert_eq!(hedge.attr("switchboard.attempt.hedge"), &json!(true));
    assert_eq!(hedge.attr("switchboard.attempt.cancelled"), &json!(false));
    assert!(hedge.events.iter().any(|(name, _)| name == "first_token"));
    assert!(hedge.start_ns > late.start_ns);
    // Even the attempt hung up on had told its provider which span it was.
    let sent = mock.requests_for("gpt-4o-mini");
    assert_eq!(
        sent[0]
            .headers
            .get("traceparent")
            .and_then(|v| v.to_str().ok()),
        Some(format!("00-{}-{}-01", chat.trace_id, late.span_id).as_str())
    );

    // A stream cut after three chunks is finished by a target that takes prefills.
    let end = client.stream(&ask("voice-continued")).await.finish().await;
    assert!(end.done(), "{}", end.raw);
    let spans = collector.wait_for_spans(6).await;
    let chat = find(&spans, "chat voice-continued");
    let cut = find(&spans, "chat gpt-4o-mini?chunks=5&drop_after=3");
    let rest = find(&spans, "chat llama-3.1-8b");
    assert_eq!(cut.parent_span_id, chat.span_id);
    assert_eq!(rest.parent_span_id, chat.span_id);
    assert_eq!(cut.status, "error");
    assert_eq!(cut.attr("error.type"), &json!("connect"));
    assert_eq!(cut.attr("switchboard.attempt.continuation"), &json!(false));
    assert_eq!(rest.attr("switchboard.attempt.continuation"), &json!(true));
    assert_eq!(chat.attr("switchboard.status"), &json!("success"));
    assert!(rest.start_ns >= cut.start_ns);
    process.terminate();
}

#[tokio::test]
async fn bodies_go_on_spans_only_when_asked_for_and_redacted_as_records_are() {
    let mock = mock().await;
    let collector = OtlpReceiver::start().await;
    let (process, client) = gateway(
        &mock,
        &collector.endpoint(),
        "capture_bodies = true",
        "otel-bodies",
    )
    .await;
    let prompt = "Book me in, my email is ana.diaz@example.com";
    let body = json!({"model": "voice-fast", "messages": [{"role": "user", "content": prompt}]});
    assert_eq!(client.chat(&body).await.status, 200);
    let spans = collector.wait_for_spans(2).await;
    let chat = find(&spans, "chat voice-fast");
    let (name, bodies) = chat.events.first().expect("the bodies event");
    assert_eq!(name, "gen_ai.client.inference.operation.details");
    let input: Value = serde_json::from_str(
        bodies["gen_ai.input.messages"]
            .as_str()
            .expect("input messages"),
    )
    .expect("input messages are JSON");
    assert_eq!(
        input,
        json!([{"role": "user", "content": "Book me in, my email is [redacted:email]"}])
    );
    let output: Value = serde_json::from_str(
        bodies["gen_ai.output.messages"]
            .as_str()
            .expect("output messages"),
    )
    .expect("output messages are JSON");
    assert_eq!(output[0]["role"], json!("assistant"));
    assert!(
        output[0]["content"].as_str().is_some_and(|c| !c.is_empty()),
        "{output}"
    );
    let raw = collector.exports();
    assert!(
        raw.iter()
            .all(|e| !e.body.windows(9).any(|w| w == b"ana.diaz@")),
        "the address never reaches the collector"
    );

    // A request that keeps its bodies out of the record keeps them off its span too.
    let mut private = body.clone();
    private["disable_log"] = json!(true);
    assert_eq!(client.chat(&private).await.status, 200);
    let spans = collector.wait_for_spans(4).await;
    let second = spans
        .iter()
        .filter(|s| s.name == "chat voice-fast")
        .nth(1)
        .expect("the second request's span");
    assert!(second.events.is_empty(), "{:?}", second.events);
    process.terminate();
}

#[tokio::test]
async fn a_caller_that_does_not_sample_gets_no_spans_and_its_context_goes_upstream() {
    let mock = mock().await;
    let collector = OtlpReceiver::start().await;
    let (process, client) = gateway(&mock, &collector.endpoint(), "", "otel-unsampled").await;
    let unsampled = format!("00-{TRACE}-{CALLER_SPAN}-00");
    let body = json!({"model": "voice-fast", "messages": [{"role": "user", "content": "hi"}]});
    let reply = client
        .chat_with(&body, &[("traceparent", &unsampled)])
        .await;
    assert_eq!(reply.status, 200);
    // A sampled call after it: once its spans are in, the unsampled one's would be too.
    let reply = client.chat(&body).await;
    assert_eq!(reply.status, 200);
    let spans = collector.wait_for_spans(2).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(collector.trace(TRACE).is_empty(), "{spans:#?}");
    assert_eq!(collector.spans().len(), 2);
    let sent = &mock.requests()[0];
    assert_eq!(
        sent.headers
            .get("traceparent")
            .and_then(|v| v.to_str().ok()),
        Some(unsampled.as_str())
    );
    process.terminate();
}

#[tokio::test]
async fn a_collector_that_fails_or_hangs_costs_spans_never_calls() {
    let mock = mock().await;
    let mut collector = OtlpReceiver::start().await;
    let (mut process, client) = gateway(
        &mock,
        &collector.endpoint(),
        "export_timeout_ms = 2000\nqueue_capacity = 2",
        "otel-down",
    )
    .await;
    let body = json!({"model": "voice-fast", "messages": [{"role": "user", "content": "hi"}]});

    // The collector refuses every export.
    collector.answer_with(503);
    for _ in 0..3 {
        assert_eq!(client.chat(&body).await.status, 200);
    }
    let dropped = |text: &str, reason: &str| {
        metric_value(
            text,
            "switchboard_otel_spans_dropped_total",
            &[("reason", reason)],
        )
        .unwrap_or(0.0)
    };
    // Each call's two spans are lost: in a refused export, or (while the exporter retries)
    // at the full queue.
    let lost = |text: &str| dropped(text, "export_failed") + dropped(text, "queue_full");
    let mut metrics = String::new();
    for _ in 0..100 {
        metrics = client.get("/metrics").await.text;
        if lost(&metrics) >= 6.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(lost(&metrics), 6.0, "{metrics}");
    assert!(dropped(&metrics, "export_failed") >= 2.0, "{metrics}");
    assert!(collector.spans().is_empty());

    // It hangs: while an export waits for its timeout, the queue fills; calls do not wait.
    collector.answer_with(0);
    let before = collector.exports().len();
    assert_eq!(client.chat(&body).await.status, 200);
    for _ in 0..100 {
        if collector.exports().len() > before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(collector.exports().len() > before, "an export is hanging");
    let calls: Vec<_> = (0..12).map(|_| client.chat(&body)).collect();
    for reply in futures_util::future::join_all(calls).await {
        assert_eq!(reply.status, 200);
    }
    let mut metrics = String::new();
    for _ in 0..100 {
        metrics = client.get("/metrics").await.text;
        if dropped(&metrics, "queue_full") > 0.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(dropped(&metrics, "queue_full") > 0.0, "{metrics}");

    // It is gone: still nothing but counted drops.
    collector.stop();
    for _ in 0..3 {
        assert_eq!(client.chat(&body).await.status, 200);
    }
    assert!(client.get("/readyz").await.status == 200);
    process.terminate();
    let status = process.wait_exit(Duration::from_secs(15)).await;
    assert!(status.success(), "{}", process.stderr());
}
