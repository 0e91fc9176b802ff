//! A private Prometheus per test (Debian's `prometheus` package, installed by
//! `scripts/test.sh`), on a free port with its data in a temp directory, scraping what the test
//! names every second and evaluating the given rule files every second. Stopped when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::binary::{free_port, temp_dir};

/// A running Prometheus.
pub struct Prometheus {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub url: String,
    dir: PathBuf,
    http: reqwest::Client,
}

impl Prometheus {
    /// Starts one scraping `target` (`host:port`, path `/metrics`) and loading `rule_files`;
    /// waits until it is ready.
    pub async fn start(target: &str, rule_files: &[&Path]) -> Prometheus {
        crate::install_crypto();
        let port = free_port();
        let dir = temp_dir(&format!("prometheus-{port}"));
        let rules: Vec<String> = rule_files
            .iter()
            .map(|p| {
                format!(
                    "  - {}",
                    std::fs::canonicalize(p).expect("rule file").display()
                )
            })
            .collect();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n{}\nscrape_configs:\n  - job_name: switchboard\n    static_configs:\n      - targets: [\"{target}\"]\n",
            rules.join("\n")
        );
        std::fs::write(dir.join("prometheus.yml"), config).expect("write prometheus.yml");
        let child = Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus runs (scripts/test.sh installs Debian's prometheus package)");
        let mut prometheus = Prometheus {
            child,
            url: format!("http://127.0.0.1:{port}"),
            dir,
            http: reqwest::Client::new(),
        };
        for _ in 0..300 {
            if let Ok(Some(status)) = prometheus.child.try_wait() {
                panic!("prometheus exited early with {status}");
            }
            let ready = prometheus
                .http
                .get(format!("{}/-/ready", prometheus.url))
                .send()
                .await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return prometheus;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("prometheus did not become ready at {}", prometheus.url);
    }

    /// `GET /api/v1/<path>` with `query` parameters, as JSON (the whole answer, status included).
    pub async fn api(&self, path: &str, query: &[(&str, &str)]) -> Value {
        let url = reqwest::Url::parse_with_params(&format!("{}/api/v1/{path}", self.url), query)
            .expect("a query URL");
        self.http
            .get(url)
            .send()
            .await
            .expect("prometheus answers")
            .text()
            .await
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .expect("prometheus answers JSON")
    }

    /// An instant query: Prometheus's whole answer.
    pub async fn query(&self, expr: &str) -> Value {
        self.api("query", &[("query", expr)]).await
    }
}

/// Runs `promtool args...` in `dir`: (success, what it printed).
pub fn promtool(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("promtool runs (scripts/test.sh installs Debian's prometheus package)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
