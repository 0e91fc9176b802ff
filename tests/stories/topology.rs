//! The production set-up: two gateways on two ports, one Redis, two consumers, one PostgreSQL.
//! Calls spread over both gateways land in the shared store once each, even when PostgreSQL
//! restarts in the middle, either gateway's logs API replays a call made through both, and the
//! CLI exports datasets (JSONL, Parquet) from it.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use switchboard_store::Filter;
use switchboard_test_services::PostgresServer;
use switchboard_tests::binary::{Process, free_port, temp_dir};
use switchboard_tests::{Client, RedisServer, mock};

const CLIENT_KEY: &str = "sb-client-key-123";
const ADMIN_KEY: &str = "sb-admin-key-456";
/// Calls made, spread over both gateways, 16 at a time.
const CALLS: usize = 600;

fn gateway_config(port: u16, mock_url: &str, redis_url: &str, store_url: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:{port}"
api_keys = ["{CLIENT_KEY}"]
admin_key = "{ADMIN_KEY}"

[logging]
redis_url = "{redis_url}"
store = "{store_url}"

[providers.primary]
kind = "openai"
base_url = "{mock_url}"
api_key = "sk-provider-secret-789"

[models.voice]
targets = [{{ provider = "primary", model = "a" }}]
"#
    )
}

/// The `n`th call: one of 30 phone calls (threads), tagged with its own sequence number.
fn call(n: usize) -> Value {
    json!({
        "model": "voice",
        "messages": [{"role": "user", "content": format!("turn {n}")}],
        "thread_identifier": format!("call_{}", n % 30),
        "metadata": {"seq": n.to_string(), "run": "topology"},
    })
}

/// Counts stored records straight from the database (0 while it is down). The store's driver
/// blocks, so it runs off the runtime's worker.
fn stored(url: &str) -> u64 {
    tokio::task::block_in_place(|| {
        switchboard_store::open(url)
            .and_then(|mut store| store.count(&Filter::default()))
            .unwrap_or(0)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_and_two_consumers_share_one_postgres_through_a_restart() {
    let mut postgres = PostgresServer::start();
    let store_url = postgres.create_database();
    let redis = RedisServer::start().await;
    let mock = mock().await;
    let dir = temp_dir("topology");

    let mut gateways = Vec::new();
    let mut urls = Vec::new();
    for name in ["a", "b"] {
        let port = free_port();
        let path = dir.join(format!("gateway-{name}.toml"));
        std::fs::write(
            &path,
            gateway_config(port, &mock.base_url(), &redis.url(), &store_url),
        )
        .unwrap();
        let mut gateway = Process::spawn(&["serve", "--config", path.to_str().unwrap()], &[], &dir);
        let url = format!("http://127.0.0.1:{port}");
        gateway.wait_healthy(&url).await;
        gateways.push(gateway);
        urls.push(url);
    }
    let consume_config = dir.join("consume.toml");
    std::fs::write(
        &consume_config,
        format!(
            "[logging]\nredis_url = \"{}\"\nstore = \"{store_url}\"\n",
            redis.url()
        ),
    )
    .unwrap();
    let mut consumers: Vec<Process> = ["c1", "c2"]
        .iter()
        .map(|name| {
            Process::spawn(
                &[
                    "consume",
                    "--config",
                    consume_config.to_str().unwrap(),
                    "--consumer",
                    name,
                    "--claim-idle-ms",
                    "2000",
                ],
                &[],
                &dir,
            )
        })
        .collect();

    // Traffic over both gateways; a third of the way in, PostgreSQL dies for two seconds (the
    // gateways keep answering: their records wait in Redis).
    let clients: Vec<Client> = urls
        .iter()
        .map(|url| Client::new(url).with_key(CLIENT_KEY))
        .collect();
    let traffic = futures_util::stream::iter(0..CALLS).for_each_concurrent(16, |n| {
        let client = clients[n % 2].clone();
        async move {
            let reply = client.chat(&call(n)).await;
            assert_eq!(reply.status, 200, "call {n}: {}", reply.text);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let outage = async {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while stored(&store_url) < (CALLS / 3) as u64 {
            if tokio::time::Instant::now() > deadline {
                for consumer in &mut consumers {
                    let _ = consumer.child.kill();
                    eprintln!("consumer: {}", consumer.stderr());
                }
                panic!("the consumers stored {} records", stored(&store_url));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        postgres.kill();
        tokio::time::sleep(Duration::from_secs(2)).await;
        tokio::task::block_in_place(|| postgres.restart());
        stored(&store_url)
    };
    let ((), before_restart) = tokio::join!(traffic, outage);
    assert!(
        before_restart < CALLS as u64,
        "the outage came after the last record ({before_restart} stored)"
    );

    // Every call is stored, once.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while stored(&store_url) < CALLS as u64 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of {CALLS} records stored a minute after the traffic ended",
            stored(&store_url)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut seqs: HashMap<String, usize> = HashMap::new();
    tokio::task::block_in_place(|| {
        switchboard_store::open(&store_url)?.for_each(
            &Filter::default(),
            switchboard_store::Order::OldestFirst,
            None,
            &mut |record, _| {
                let record: Value = serde_json::from_str(record)?;
                let seq = record["metadata"]["seq"].as_str().unwrap_or("?").to_owned();
                *seqs.entry(seq).or_default() += 1;
                Ok(())
            },
        )
    })
    .unwrap();
    assert_eq!(seqs.len(), CALLS, "one record per call");
    assert!(
        seqs.values().all(|&n| n == 1),
        "a call stored twice: {seqs:?}"
    );
    assert_eq!(stored(&store_url), CALLS as u64);

    // Either gateway serves the logs API from the shared store: a phone call made through both
    // replays whole from each.
    for url in &urls {
        let admin = Client::new(url).with_key(ADMIN_KEY);
        let thread = admin.get("/api/threads/call_7").await;
        assert_eq!(thread.status, 200, "{}", thread.text);
        let turns: Vec<String> = thread.json()["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|r| r["metadata"]["seq"].as_str().unwrap_or("?").to_owned())
            .collect();
        assert_eq!(turns.len(), CALLS / 30, "{url}: {turns:?}");
        let listed = admin
            .get("/api/logs?metadata.run=topology&metadata.seq=42")
            .await
            .json();
        assert_eq!(listed["data"].as_array().map(Vec::len), Some(1), "{url}");
    }

    // A data team exports datasets from the shared store with the CLI, as from SQLite.
    let out = dir.join("calls.jsonl");
    let mut export = Process::spawn(
        &[
            "export",
            "--config",
            consume_config.to_str().unwrap(),
            "--filter",
            "metadata.run=topology",
            "--format",
            "jsonl",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
        &dir,
    );
    let status = export.wait_exit(Duration::from_secs(60)).await;
    assert!(status.success(), "export: {}", export.stderr());
    let lines = std::fs::read_to_string(&out).unwrap();
    assert_eq!(lines.lines().count(), CALLS, "one line per call");
    let parquet = dir.join("calls.parquet");
    let mut export = Process::spawn(
        &[
            "export",
            "--config",
            consume_config.to_str().unwrap(),
            "--format",
            "parquet",
            "--out",
            parquet.to_str().unwrap(),
        ],
        &[],
        &dir,
    );
    let status = export.wait_exit(Duration::from_secs(60)).await;
    assert!(status.success(), "parquet export: {}", export.stderr());
    let file = std::fs::File::open(&parquet).unwrap();
    let rows = parquet::file::reader::SerializedFileReader::new(file)
        .map(|reader| {
            use parquet::file::reader::FileReader;
            reader.metadata().file_metadata().num_rows()
        })
        .unwrap();
    assert_eq!(rows, CALLS as i64);
    drop(gateways);
}
