//! The real `switchboard` binary, for stories about the CLI, signals and the embedded default.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Path of the built binary: `target/<profile>/switchboard`, beside this test executable.
/// `scripts/test.sh` (and `cargo test --workspace`) build it before the tests run.
pub fn path() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/<profile>/switchboard
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile> directory");
    let bin = profile_dir.join(format!("switchboard{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --workspace` first (scripts/test.sh does)",
        bin.display()
    );
    bin
}

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A `switchboard` child process, killed when dropped.
pub struct Process {
    /// The child.
    pub child: Child,
}

impl Process {
    /// Starts `switchboard <args>` with `envs`, stderr piped.
    pub fn spawn(args: &[&str], envs: &[(&str, &str)], dir: &std::path::Path) -> Process {
        let child = Command::new(path())
            .args(args)
            .envs(envs.iter().copied())
            .env_remove("SWITCHBOARD_CONFIG")
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn switchboard");
        Process { child }
    }

    /// Waits until `GET url/healthz` answers (panics after 10 s).
    pub async fn wait_healthy(&mut self, url: &str) {
        crate::install_crypto();
        let http = reqwest::Client::new();
        for _ in 0..200 {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("switchboard exited early with {status}");
            }
            if http.get(format!("{url}/healthz")).send().await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("switchboard did not become healthy at {url}");
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh empty directory under the system temp dir, unique to this process and `tag`
/// (removed first if a previous run left it).
pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("switchboard-tests-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a temp dir");
    dir
}

impl Process {
    /// Waits for the process to exit (panics after `within`, leaving it to `Drop` to kill).
    pub async fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("child status") {
                return status;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!("switchboard did not exit within {within:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Everything the process wrote to stderr (call after it exited).
    pub fn stderr(&mut self) -> String {
        use std::io::Read;
        let mut text = String::new();
        if let Some(mut stderr) = self.child.stderr.take() {
            let _ = stderr.read_to_string(&mut text);
        }
        text
    }
}
