//! Every request is one record in the Redis stream, nothing sampled and nothing lost: not when
//! Redis goes away mid-load, not when a consumer is killed mid-batch, not at shutdown.

use std::collections::HashSet;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use switchboard_store::Filter;
use switchboard_tests::binary::{Process, free_port, temp_dir};
use switchboard_tests::{Gateway, RedisServer, metric_value, mock};

const STREAM: &str = "switchboard:logs";

fn config(mock_url: &str, logging: &str) -> String {
    format!(
        r#"
[server]
api_keys = ["sb-client-key-123"]

[logging]
{logging}

[providers.primary]
kind = "openai"
base_url = "{mock_url}"
api_key = "sk-provider-secret-456"

[providers.backup]
kind = "openai"
base_url = "{mock_url}"
api_key = "sk-provider-secret-456"

[models.ok]
targets = [{{ provider = "primary", model = "a" }}]

[models.flaky]
targets = [{{ provider = "primary", model = "a?fail=503" }}, {{ provider = "backup", model = "b" }}]
retries = 0

[models.stalls]
targets = [{{ provider = "primary", model = "a?stall_after=1&chunks=3" }}]
stall_timeout_ms = 100

[models.slow]
targets = [{{ provider = "primary", model = "a?chunks=5&chunk_ms=100" }}]
"#
    )
}

/// Waits until the stream holds `n` entries (panics after `within`).
async fn wait_xlen(redis: &RedisServer, n: usize, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let len = redis.xlen(STREAM);
        if len >= n {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "stream has {len} of {n} records"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn ask(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hola"}],
           "metadata": {"language": "es"}, "thread_identifier": "call_1"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_mixed_requests_make_exactly_a_thousand_records() {
    let mock = mock().await;
    let redis = RedisServer::start().await;
    let dir = temp_dir("thousand");
    let gateway = Gateway::start_logging(&config(
        &mock.base_url(),
        &format!(
            "redis_url = \"{}\"\nspool_dir = \"{}\"",
            redis.url(),
            dir.join("spool").display()
        ),
    ))
    .await;
    let client = gateway.client().with_key("sb-client-key-123");

    // 500 successes, 200 fallbacks, 100 stalls, 100 malformed bodies, 100 clients that hang up.
    let mut kinds = Vec::new();
    kinds.extend(std::iter::repeat_n("ok", 250));
    kinds.extend(std::iter::repeat_n("ok-stream", 250));
    kinds.extend(std::iter::repeat_n("flaky", 200));
    kinds.extend(std::iter::repeat_n("stalls", 100));
    kinds.extend(std::iter::repeat_n("malformed", 100));
    kinds.extend(std::iter::repeat_n("hang-up", 100));
    futures_util::stream::iter(kinds)
        .for_each_concurrent(32, |kind| {
            let client = client.clone();
            async move {
                match kind {
                    "ok" | "flaky" => assert_eq!(
                        client
                            .chat(&ask(kind.trim_end_matches("-stream")))
                            .await
                            .status,
                        200
                    ),
                    "ok-stream" => assert!(client.stream(&ask("ok")).await.finish().await.done()),
                    "stalls" => assert!(!client.stream(&ask("stalls")).await.finish().await.done()),
                    "malformed" => assert_eq!(
                        client
                            .post_raw("/v1/chat/completions", "{\"model\":")
                            .await
                            .status,
                        400
                    ),
                    _ => {
                        let mut stream = client.stream(&ask("slow")).await;
                        assert!(stream.next_event().await.is_some());
                        drop(stream);
                    }
                }
            }
        })
        .await;

    wait_xlen(&redis, 1000, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let records = redis.stream_records(STREAM);
    assert_eq!(records.len(), 1000, "exactly one record per request");
    let ids: HashSet<&str> = records.iter().filter_map(|r| r["id"].as_str()).collect();
    assert_eq!(ids.len(), 1000, "ids are unique");

    let count = |pred: &dyn Fn(&Value) -> bool| records.iter().filter(|r| pred(r)).count();
    assert_eq!(count(&|r| r["status"] == "success"), 700);
    assert_eq!(count(&|r| r["status"] == "client_disconnected"), 100);
    assert_eq!(
        count(&|r| r["status"] == "error" && r["status_code"] == 400),
        100
    );
    assert_eq!(
        count(&|r| r["status"] == "error" && r["attempts"][0]["error_kind"] == "stall"),
        100
    );
    assert_eq!(
        count(&|r| r["fallback_used"] == true && r["provider_id"] == "backup"),
        200
    );
    assert_eq!(
        count(&|r| r["stream"] == true && r["time_to_first_token"].is_f64()),
        450
    );
    assert_eq!(
        count(&|r| r["metadata"]["language"] == "es" && r["thread_identifier"] == "call_1"),
        900
    );

    let text = serde_json::to_string(&records).unwrap();
    assert!(
        !text.contains("sk-provider-secret-456"),
        "a provider key reached a record"
    );
    assert!(
        !text.contains("sb-client-key-123"),
        "a client key reached a record"
    );
    for request in mock.requests() {
        assert!(
            request.body.get("metadata").is_none()
                && request.body.get("thread_identifier").is_none()
        );
    }
    gateway.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_going_away_mid_load_loses_nothing_and_keeps_order() {
    let mock = mock().await;
    let mut redis = RedisServer::start().await;
    let dir = temp_dir("redis-down");
    let gateway = Gateway::start_logging(&config(
        &mock.base_url(),
        &format!(
            "redis_url = \"{}\"\nspool_dir = \"{}\"",
            redis.url(),
            dir.join("spool").display()
        ),
    ))
    .await;
    let client = gateway.client().with_key("sb-client-key-123");

    let mut sent = Vec::new();
    for i in 0..150 {
        if i == 50 {
            redis.stop();
        }
        if i == 100 {
            redis.restart().await;
        }
        let reply = client.chat(&ask("ok")).await;
        assert_eq!(
            reply.status, 200,
            "the gateway keeps answering while Redis is away"
        );
        sent.push(reply.header("x-switchboard-request-id").unwrap().to_owned());
        if i == 75 {
            let ready = client.get("/readyz").await;
            assert_eq!(ready.status, 200);
            assert_eq!(ready.json()["log_sink"], "spooling");
        }
    }
    wait_xlen(&redis, 150, Duration::from_secs(20)).await;
    // A batch cut off by the crash may be sent twice; the consumer is idempotent on `id`.
    let mut seen = HashSet::new();
    let arrived: Vec<String> = redis
        .stream_records(STREAM)
        .iter()
        .filter_map(|r| r["id"].as_str().map(str::to_owned))
        .filter(|id| seen.insert(id.clone()))
        .collect();
    assert_eq!(
        arrived, sent,
        "every record arrived, in the order the gateway wrote them"
    );
    assert_eq!(client.get("/readyz").await.json()["log_sink"], "redis");
    gateway.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_spool_drops_new_records_and_counts_them() {
    let mock = mock().await;
    let dir = temp_dir("spool-cap");
    let spool = dir.join("spool");
    let gateway = Gateway::start_logging(&config(
        &mock.base_url(),
        &format!(
            "redis_url = \"redis://127.0.0.1:{}\"\nspool_dir = \"{}\"\nspool_max_bytes = 6000",
            free_port(),
            spool.display()
        ),
    ))
    .await;
    let client = gateway.client().with_key("sb-client-key-123");
    for _ in 0..12 {
        assert_eq!(client.chat(&ask("ok")).await.status, 200);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let spooled: usize = std::fs::read_dir(&spool)
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.unwrap().path()).ok())
        .map(|text| text.lines().count())
        .sum();
    assert!(spooled > 0 && spooled < 12, "{spooled} records spooled");
    let metrics = client.get("/metrics").await.text;
    let dropped = metric_value(
        &metrics,
        "switchboard_logs_dropped_total",
        &[("sink", "redis")],
    )
    .unwrap_or(0.0);
    assert!(
        dropped >= (12 - spooled) as f64,
        "dropped {dropped}, spooled {spooled}:\n{metrics}"
    );
    gateway.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_records_land_in_the_embedded_store() {
    let mock = mock().await;
    let dir = temp_dir("embedded");
    let db = dir.join("switchboard.db");
    let gateway = Gateway::start_logging(&config(
        &mock.base_url(),
        &format!(
            "store = \"sqlite://{}\"\nspool_dir = \"{}\"",
            db.display(),
            dir.join("spool").display()
        ),
    ))
    .await;
    let client = gateway.client().with_key("sb-client-key-123");
    assert_eq!(client.get("/readyz").await.json()["log_sink"], "embedded");
    for _ in 0..20 {
        assert_eq!(client.chat(&ask("flaky")).await.status, 200);
    }
    gateway.shutdown().await;
    let mut store = switchboard_store::open(&format!("sqlite://{}", db.display())).unwrap();
    assert_eq!(store.count(&Filter::default()).unwrap(), 20);
    let filter =
        Filter::from_pairs([("fallback_used", "true"), ("metadata.language", "es")]).unwrap();
    assert_eq!(store.count(&filter).unwrap(), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_killed_mid_batch_stores_every_record_exactly_once() {
    let redis = RedisServer::start().await;
    let dir = temp_dir("consumer-kill");
    let db = dir.join("store.db");
    // 20,000 records in the stream, as gateways would have written them.
    {
        let client = redis::Client::open(redis.url()).unwrap();
        let mut connection = client.get_connection().unwrap();
        for chunk in 0..20 {
            let mut pipe = redis::pipe();
            for i in 0..1000 {
                let n = chunk * 1000 + i;
                let record = json!({"id": format!("rec-{n:06}"), "start_time": "2026-11-27T10:00:00Z",
                                    "model": "m", "status": "success", "metadata": {"n": n.to_string()}});
                pipe.cmd("XADD")
                    .arg(STREAM)
                    .arg("*")
                    .arg("log")
                    .arg(record.to_string())
                    .ignore();
            }
            pipe.query::<()>(&mut connection).unwrap();
        }
    }
    let config_path = dir.join("consume.toml");
    std::fs::write(
        &config_path,
        format!(
            "[logging]\nredis_url = \"{}\"\nstore = \"sqlite://{}\"\n",
            redis.url(),
            db.display()
        ),
    )
    .unwrap();
    let store_url = format!("sqlite://{}", db.display());
    let count = || {
        switchboard_store::open(&store_url)
            .and_then(|mut s| s.count(&Filter::default()))
            .unwrap_or(0)
    };
    let config_arg = config_path.to_str().unwrap();

    let mut first = Process::spawn(
        &["consume", "--config", config_arg, "--consumer", "c1"],
        &[],
        &dir,
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while count() == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the consumer stored nothing"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    first.child.kill().unwrap(); // SIGKILL, mid-stream
    let _ = first.child.wait();
    let after_kill = count();
    assert!(
        after_kill < 20_000,
        "the kill came too late to test anything ({after_kill} stored)"
    );

    // A new consumer under another name claims what c1 left pending.
    let _second = Process::spawn(
        &[
            "consume",
            "--config",
            config_arg,
            "--consumer",
            "c2",
            "--claim-idle-ms",
            "300",
        ],
        &[],
        &dir,
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while count() < 20_000 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "stuck at {} records",
            count()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(count(), 20_000, "every record exactly once");
    let pending = redis.cli(&["XPENDING", STREAM, "switchboard"]);
    assert!(
        pending.starts_with('0'),
        "entries left unacknowledged: {pending}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_flushes_every_queued_record_before_exit() {
    let mock = mock().await;
    let redis = RedisServer::start().await;
    let dir = temp_dir("sigterm-flush");
    let port = free_port();
    let config_path = dir.join("switchboard.toml");
    std::fs::write(
        &config_path,
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n{}",
            config(
                &mock.base_url(),
                &format!("redis_url = \"{}\"", redis.url())
            )
            .replace("[server]\n", "")
        ),
    )
    .unwrap();
    let mut gateway = Process::spawn(
        &["serve", "--config", config_path.to_str().unwrap()],
        &[],
        &dir,
    );
    let url = format!("http://127.0.0.1:{port}");
    gateway.wait_healthy(&url).await;
    let client = switchboard_tests::Client::new(&url).with_key("sb-client-key-123");
    futures_util::stream::iter(0..300)
        .for_each_concurrent(16, |_| {
            let client = client.clone();
            async move { assert_eq!(client.chat(&ask("ok")).await.status, 200) }
        })
        .await;
    gateway.terminate();
    let status = gateway.wait_exit(Duration::from_secs(15)).await;
    assert!(status.success(), "exit {status}");
    assert_eq!(
        redis.xlen(STREAM),
        300,
        "every record was flushed before exit"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_past_retention_days_are_removed_when_the_gateway_starts() {
    let dir = temp_dir("retention");
    let db = dir.join("logs.db");
    // Three weeks of a call center's logs: 300 older than 14 days, 200 within.
    {
        let mut store = switchboard_store::open(&format!("sqlite://{}", db.display())).unwrap();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let records: Vec<String> = (0..500)
            .map(|n| {
                let days_ago = if n < 300 { 20 } else { 2 };
                json!({
                    "id": format!("ret-{n:04}"), "model": "voice-fast", "status": "success",
                    "start_time": now - days_ago * 86_400 + n,
                    "metadata": {"age": if n < 300 { "old" } else { "recent" }},
                })
                .to_string()
            })
            .collect();
        let texts: Vec<&str> = records.iter().map(String::as_str).collect();
        store.insert_batch(&texts).unwrap();
    }
    let port = free_port();
    std::fs::write(
        dir.join("switchboard.toml"),
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n\n[logging]\nstore = \"sqlite://{}\"\nspool_dir = \"{}\"\nretention_days = 14\n",
            db.display(),
            dir.join("spool").display()
        ),
    )
    .unwrap();
    let mut gateway = Process::spawn(&["serve"], &[], &dir);
    let url = format!("http://127.0.0.1:{port}");
    gateway.wait_healthy(&url).await;
    let client = switchboard_tests::Client::new(&url);
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let metrics = client.get("/metrics").await.text;
        if metric_value(&metrics, "switchboard_store_records_expired_total", &[]) == Some(300.0) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the retention pass did not remove the 300 old logs:\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut store = switchboard_store::open(&format!("sqlite://{}", db.display())).unwrap();
    assert_eq!(store.count(&Filter::default()).unwrap(), 200);
    let old = Filter::from_pairs([("metadata.age", "old")]).unwrap();
    assert_eq!(store.count(&old).unwrap(), 0);
    gateway.terminate();
}
