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
        let mut server = RedisServer::not_started();
        server.restart().await;
        server
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
            if self.cli(&["PING"]).trim() == "PONG" {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("redis-server did not start on port {}", self.port);
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
