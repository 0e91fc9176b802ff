//! A private `redis-server` per test, on a free port, stopped when dropped. Tests never touch a
//! Redis someone else started.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::binary::{free_port, temp_dir};

/// A running `redis-server`.
pub struct RedisServer {
    child: Option<Child>,
    /// Its port on 127.0.0.1.
    pub port: u16,
    dir: PathBuf,
}

impl RedisServer {
    /// Starts one with append-only persistence in a fresh directory (so a restart keeps data).
    pub async fn start() -> RedisServer {
        for _ in 0..5 {
            let mut server = RedisServer::not_started();
            if server.try_start().await {
                return server;
            }
        }
        panic!("no free port for a private redis-server after 5 tries");
    }

    /// Starts it; false when the port turned out to be another Redis's.
    async fn try_start(&mut self) -> bool {
        self.restart_within(false).await
    }

    /// One whose port is chosen but which is not running yet (a Redis that is down when the
    /// gateway starts); [`RedisServer::restart`] starts it.
    pub fn not_started() -> RedisServer {
        let port = free_port();
        RedisServer {
            child: None,
            port,
            dir: temp_dir(&format!("redis-{port}")),
        }
    }

    /// `redis://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Stops it (SIGKILL: as abrupt as a crash; the append-only file keeps what was written).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and directory, waiting until it answers.
    pub async fn restart(&mut self) {
        self.restart_within(true).await;
    }

    async fn restart_within(&mut self, must: bool) -> bool {
        self.stop();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server runs (scripts/test.sh installs it)");
        self.child = Some(child);
        for _ in 0..200 {
            if self.cli(&["PING"]).trim() == "PONG" && self.is_ours() {
                return true;
            }
            if !must
                && self
                    .child
                    .as_mut()
                    .is_some_and(|c| matches!(c.try_wait(), Ok(Some(_))))
            {
                return false; // it could not bind: the port is someone else's
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        if !must {
            self.stop();
            return false;
        }
        panic!("redis-server did not start on port {}", self.port);
    }

    /// True when the Redis answering on the port is the one this value started (another
    /// test's could hold the port when two picked the same free port): it must be running and
    /// keep its files in this value's directory.
    fn is_ours(&mut self) -> bool {
        let running = self
            .child
            .as_mut()
            .is_some_and(|child| matches!(child.try_wait(), Ok(None)));
        let dir = self.cli(&["CONFIG", "GET", "dir"]);
        let ours = std::fs::canonicalize(&self.dir)
            .map(|d| dir.contains(&*d.to_string_lossy()))
            .unwrap_or(false);
        running && ours
    }

    /// Runs `redis-cli -p PORT args...` and returns its output.
    pub fn cli(&self, args: &[&str]) -> String {
        Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// Every `log` field of the stream, oldest first, parsed.
    pub fn stream_records(&self, stream: &str) -> Vec<serde_json::Value> {
        let client = redis::Client::open(self.url()).expect("redis url");
        let mut connection = client.get_connection().expect("connect to the test redis");
        let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
            .arg(stream)
            .arg("-")
            .arg("+")
            .query(&mut connection)
            .expect("XRANGE");
        reply
            .ids
            .iter()
            .map(|entry| {
                let text: String = entry.get("log").unwrap_or_default();
                serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
            })
            .collect()
    }

    /// `XLEN stream`.
    pub fn xlen(&self, stream: &str) -> usize {
        self.cli(&["XLEN", stream]).trim().parse().unwrap_or(0)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
