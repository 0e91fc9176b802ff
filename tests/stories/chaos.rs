//! Things break under load, and every record is counted end to end: Redis is SIGKILLed in the
//! middle of traffic, the gateway gets SIGTERM with a hundred streams open, the disk under the
//! spool fills up. Nothing is lost silently and nothing is stored twice.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use switchboard_store::{Filter, Store};
use switchboard_tests::binary::{Process, free_port, temp_dir};
use switchboard_tests::{Client, RedisServer, metric_value, mock};

const STREAM: &str = "switchboard:logs";

fn gateway_config(port: u16, mock_url: &str, redis_url: &str, dir: &Path, model: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:{port}"
shutdown_grace_ms = 20000

[logging]
redis_url = "{redis_url}"
spool_dir = "{spool}"
store = "sqlite://{store}"

[providers.openai]
kind = "openai"
base_url = "{mock_url}"

[models."voice-fast"]
targets = [{{ provider = "openai", model = "{model}" }}]
"#,
        spool = dir.join("spool").display(),
        store = dir.join("store.db").display(),
    )
}

fn ask(i: usize) -> Value {
    json!({"model": "voice-fast", "messages": [{"role": "user", "content": format!("turn {i}")}]})
}

/// Runs `switchboard consume` until the store holds `n` records (or 30 s pass), then stops it.
async fn consume_until(dir: &Path, n: u64) -> Store {
    let mut consumer = Process::spawn(&["consume", "--consumer", "chaos"], &[], dir);
    let url = format!("sqlite://{}", dir.join("store.db").display());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let stored = switchboard_store::open(&url)
            .and_then(|mut s| s.count(&Filter::default()))
            .unwrap_or(0);
        if stored >= n || tokio::time::Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A moment more: a duplicate would arrive now if one were coming.
    tokio::time::sleep(Duration::from_millis(500)).await;
    consumer.terminate();
    consumer.wait_exit(Duration::from_secs(10)).await;
    switchboard_store::open(&url).expect("the store opens")
}

/// Every id in `store`, checking each appears once.
fn stored_ids(store: &mut Store) -> BTreeSet<String> {
    let (rows, _) = store.list(&Filter::default(), 1000, None).unwrap();
    let ids: Vec<String> = rows
        .iter()
        .map(|r| r["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    let unique: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(unique.len(), ids.len(), "an id is stored twice");
    unique
}

#[tokio::test]
async fn redis_sigkilled_mid_load_loses_and_duplicates_nothing_in_the_store() {
    let mock = mock().await;
    let mut redis = RedisServer::start().await;
    let dir = temp_dir("chaos-redis");
    let port = free_port();
    std::fs::write(
        dir.join("switchboard.toml"),
        gateway_config(port, &mock.base_url(), &redis.url(), &dir, "gpt-4o-mini"),
    )
    .unwrap();
    let mut gateway = Process::spawn(&["serve"], &[], &dir);
    let url = format!("http://127.0.0.1:{port}");
    gateway.wait_healthy(&url).await;
    let client = Client::new(&url);

    let mut ids = BTreeSet::new();
    for wave in 0..6 {
        if wave == 2 {
            redis.stop(); // SIGKILL, as abrupt as a crash
        }
        if wave == 4 {
            redis.restart().await;
        }
        let calls = (0..50).map(|i| {
            let client = client.clone();
            async move { client.chat(&ask(wave * 50 + i)).await }
        });
        for reply in futures_util::future::join_all(calls).await {
            assert_eq!(
                reply.status, 200,
                "the gateway keeps serving: {}",
                reply.text
            );
            ids.insert(reply.header("x-switchboard-request-id").unwrap().to_owned());
        }
    }
    // Redis is back: the spool replays (a gateway stopped before that keeps the rest in its
    // spool for the next start; here we wait, as an operator watching /readyz would).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while client.get("/readyz").await.json()["log_sink"] != "redis" {
        assert!(tokio::time::Instant::now() < deadline, "the spool replays");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    gateway.terminate();
    assert_eq!(
        gateway.wait_exit(Duration::from_secs(20)).await.code(),
        Some(0)
    );

    let mut store = consume_until(&dir, 300).await;
    assert_eq!(
        stored_ids(&mut store),
        ids,
        "every request is stored exactly once"
    );
}

#[tokio::test]
async fn sigterm_with_a_hundred_open_streams_finishes_them_and_flushes_every_record() {
    let mock = mock().await;
    let redis = RedisServer::start().await;
    let dir = temp_dir("chaos-sigterm");
    let port = free_port();
    std::fs::write(
        dir.join("switchboard.toml"),
        gateway_config(
            port,
            &mock.base_url(),
            &redis.url(),
            &dir,
            "gpt-4o-mini?chunks=12&chunk_ms=100",
        ),
    )
    .unwrap();
    let mut gateway = Process::spawn(&["serve"], &[], &dir);
    let url = format!("http://127.0.0.1:{port}");
    gateway.wait_healthy(&url).await;
    let client = Client::new(&url);

    let mut streams = Vec::new();
    for i in 0..100 {
        let mut stream = client.stream(&ask(i)).await;
        assert_eq!(stream.status, 200);
        assert!(stream.next_event().await.is_some(), "stream {i} started");
        streams.push(stream);
    }
    gateway.terminate();
    let ends = futures_util::future::join_all(streams.into_iter().map(|s| async move {
        let id = s.header("x-switchboard-request-id").unwrap().to_owned();
        (id, s.finish().await)
    }))
    .await;
    let mut ids = BTreeSet::new();
    for (id, end) in ends {
        assert!(end.done(), "stream {id} ran to [DONE]: {}", end.raw);
        ids.insert(id);
    }
    assert_eq!(
        gateway.wait_exit(Duration::from_secs(20)).await.code(),
        Some(0)
    );

    let in_stream: BTreeSet<String> = redis
        .stream_records(STREAM)
        .iter()
        .map(|r| r["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        in_stream, ids,
        "one record per stream, all flushed before exit"
    );
    assert_eq!(redis.xlen(STREAM), 100);
}

/// Mounts a tmpfs of `bytes` at `dir` (root only); unmounted on drop.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(dir: &Path, bytes: usize) -> SmallDisk {
        std::fs::create_dir_all(dir).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(dir)
            .status()
            .expect("mount runs");
        assert!(
            status.success(),
            "mounting a tmpfs needs root (CI and the dev machines run as root)"
        );
        SmallDisk(dir.to_owned())
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[tokio::test]
async fn a_full_disk_under_the_spool_drops_and_counts_but_never_corrupts() {
    let mock = mock().await;
    let mut redis = RedisServer::not_started();
    let dir = temp_dir("chaos-disk");
    let _disk = SmallDisk::mount(&dir.join("spool"), 64 * 1024);
    let port = free_port();
    std::fs::write(
        dir.join("switchboard.toml"),
        gateway_config(port, &mock.base_url(), &redis.url(), &dir, "gpt-4o-mini"),
    )
    .unwrap();
    let mut gateway = Process::spawn(&["serve"], &[], &dir);
    let url = format!("http://127.0.0.1:{port}");
    gateway.wait_healthy(&url).await;
    let client = Client::new(&url);
    let padding = "p".repeat(900);

    // Redis is down: records go to a spool whose disk fills after a few dozen.
    let total = 150;
    for i in 0..total {
        let body = json!({"model": "voice-fast", "messages": [{"role": "user", "content": format!("{i} {padding}")}]});
        assert_eq!(client.chat(&body).await.status, 200, "serving goes on");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let metrics = client.get("/metrics").await.text;
    let spooled = metric_value(&metrics, "switchboard_logs_spooled_total", &[]).unwrap_or(0.0);
    let dropped = metric_value(&metrics, "switchboard_logs_dropped_total", &[]).unwrap_or(0.0);
    assert!(dropped > 0.0, "the disk filled: {metrics}");
    assert!(spooled > 0.0, "some records fit: {metrics}");
    // What the spool holds is exactly what it accepted: no torn write left behind.
    let lines: Vec<String> = std::fs::read_dir(dir.join("spool"))
        .unwrap()
        .flatten()
        .flat_map(|e| {
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            text.lines().map(str::to_owned).collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(lines.len() as f64, spooled);
    assert!(
        lines
            .iter()
            .all(|l| serde_json::from_str::<Value>(l).is_ok())
    );
    assert_eq!(
        spooled + dropped,
        total as f64,
        "every record is spooled or counted as dropped"
    );

    // Redis comes back: the spool replays, and every spooled record is a whole one.
    redis.restart().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while (redis.xlen(STREAM) as f64) < spooled {
        assert!(tokio::time::Instant::now() < deadline, "the spool replays");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    gateway.terminate();
    gateway.wait_exit(Duration::from_secs(20)).await;
    let mut store = consume_until(&dir, spooled as u64).await;
    assert_eq!(stored_ids(&mut store).len() as f64, spooled);
    assert_eq!(
        redis.xlen(&format!("{STREAM}:dead")),
        0,
        "no torn record reached the stream"
    );
}
