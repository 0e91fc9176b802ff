//! A private PostgreSQL server: `initdb` into a fresh temporary directory, `postgres` on a free
//! 127.0.0.1 port with durability off (a test's data is thrown away, so fsync only costs time;
//! benchmarks set `SWITCHBOARD_PG_DURABLE=1` for production settings).
//! Never the machine's own server on 5432: tests get a cluster nobody else writes to, and can
//! crash and restart it to simulate an outage.
//!
//! The directory `switchboard-pg-<pid>-<n>` under [`std::env::temp_dir`] holds the data
//! directory (`data/`), the server's log (`postgres.log`) and its Unix socket. Its name is
//! also the server's `cluster_name`, which PostgreSQL puts in the process title of every
//! backend: that is how a crash simulation finds the backends a killed postmaster left behind.
//!
//! Every server has a watchdog, a `sh` loop that outlives the test process if it must: when
//! the test process is gone (statics are never dropped, and a killed process runs no `Drop`)
//! it stops the server and removes its directory.

use std::fs::{self, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::net::TcpListener;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const INSTALL_HINT: &str = "scripts/test.sh installs Debian's postgresql";

/// How long a (re)start may take to accept connections, crash recovery included.
const READY_WITHIN: Duration = Duration::from_secs(30);
/// How long [`PostgresServer::restart`] keeps retrying while a killed server's leftovers (its
/// `postmaster.pid`, its shared memory) still block a new postmaster.
const RESTART_WITHIN: Duration = Duration::from_secs(20);

/// Numbers the servers (their directories) of this process.
static NEXT_SERVER: AtomicU64 = AtomicU64::new(0);
/// Numbers the databases of this process.
static NEXT_DATABASE: AtomicU64 = AtomicU64::new(0);

/// Stops the server of `dir` once the test process `$1` is gone, unless the directory `$2` was
/// removed first (the server was dropped). `runs` tells whether a pid is still a postmaster of
/// this data directory: not when the pid of a killed server was reused, nor once it exited (a
/// zombie has no command line; the process that adopted it may be slow to reap it). SIGQUIT is
/// PostgreSQL's immediate shutdown; SIGKILL after 10 s.
const WATCHDOG: &str = r#"trap '' INT HUP
test_pid=$1 dir=$2 data=$2/data
runs() { tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null | grep -qxF -e "$data"; }
while kill -0 "$test_pid" 2>/dev/null && [ -d "$dir" ]; do sleep 0.2; done
[ -d "$dir" ] || exit 0
pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null)
if [ -n "$pid" ] && runs "$pid"; then
  kill -s QUIT "$pid" 2>/dev/null
  n=0
  while runs "$pid" && [ "$n" -lt 50 ]; do sleep 0.2; n=$((n + 1)); done
  runs "$pid" && kill -s KILL "$pid" 2>/dev/null
fi
rm -rf -- "$dir"
"#;

/// A private PostgreSQL server (trust authentication, superuser `postgres`) on a free
/// 127.0.0.1 port. Dropping it shuts it down immediately and removes its directory.
pub struct PostgresServer {
    /// The running postmaster, `None` while killed.
    postmaster: Option<Child>,
    port: u16,
    /// `switchboard-pg-<pid>-<n>` under the temp dir: `data/`, `postgres.log`, the socket.
    dir: PathBuf,
    data: PathBuf,
    /// The directory's name, also the server's `cluster_name`.
    tag: String,
    bins: &'static Binaries,
    /// The `postgres` OS user's uid and gid when this process is root (initdb and postgres
    /// refuse to run as root).
    owner: Option<(u32, u32)>,
    /// The `sh` that stops the server if the test process dies (see [`WATCHDOG`]).
    watchdog: Option<Child>,
}

impl PostgresServer {
    /// Runs `initdb` into a fresh temp dir and starts `postgres` on a free 127.0.0.1 port,
    /// returning once it accepts connections. Panics when PostgreSQL is not installed.
    pub fn start() -> PostgresServer {
        let bins = binaries();
        let owner = run_as();
        let tag = format!(
            "switchboard-pg-{}-{}",
            std::process::id(),
            NEXT_SERVER.fetch_add(1, Ordering::Relaxed)
        );
        let dir = std::env::temp_dir().join(&tag);
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
                .unwrap_or_else(|e| panic!("chown postgres {}: {e}", dir.display()));
        }
        let mut server = PostgresServer {
            postmaster: None,
            port: 0,
            data: dir.join("data"),
            dir,
            tag,
            bins,
            owner,
            watchdog: None,
        };
        // From here on a panic drops `server`, which cleans up; the watchdog covers a kill.
        server.watchdog = Some(server.spawn_watchdog());
        server.initdb();
        for _ in 0..10 {
            server.port = free_port();
            match server.spawn_postgres() {
                Ok(()) => return server,
                Err(failure) if failure.port_in_use => continue,
                Err(failure) => panic!("{}", failure.describe(&server)),
            }
        }
        panic!("no free port for a private postgres after 10 tries");
    }

    /// The server of this test process, started on first use and shared by all its tests
    /// (give each test its own [`PostgresServer::create_database`]). A watchdog stops it and
    /// removes its directory when the process exits.
    pub fn shared() -> &'static PostgresServer {
        static SHARED: OnceLock<PostgresServer> = OnceLock::new();
        SHARED.get_or_init(PostgresServer::start)
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Creates a new empty database, named `test_<pid>_<n>` (unique in the process), and
    /// returns its URL, `postgres://postgres@127.0.0.1:PORT/NAME`.
    pub fn create_database(&self) -> String {
        let name = format!(
            "test_{}_{}",
            std::process::id(),
            NEXT_DATABASE.fetch_add(1, Ordering::Relaxed)
        );
        let port = self.port.to_string();
        let output = client_command(&self.bins.createdb)
            .args(["-h", "127.0.0.1", "-p", &port, "-U", "postgres", &name])
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", self.bins.createdb.display()));
        assert!(
            output.status.success(),
            "createdb {name} on 127.0.0.1:{port} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
        self.url(&name)
    }

    /// The URL of its existing database `database`: `postgres://postgres@127.0.0.1:PORT/NAME`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Runs `sql` with `psql -c` against the database at `url` (one of this server's URLs);
    /// returns psql's unaligned, tuples-only output, trimmed, or its error message.
    pub fn psql(&self, url: &str, sql: &str) -> Result<String, String> {
        let output = client_command(&self.bins.psql)
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args(["-d", url, "-c", sql])
            .output()
            .map_err(|e| format!("run {}: {e}", self.bins.psql.display()))?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).trim().to_owned())
        }
    }

    /// Stops it abruptly, like a crash: SIGKILL of the postmaster, then of the backends it
    /// leaves behind, so every connection breaks now. The data directory is kept.
    pub fn kill(&mut self) {
        if let Some(mut postmaster) = self.postmaster.take() {
            let _ = postmaster.kill();
            let _ = postmaster.wait();
        }
        self.kill_leftovers();
    }

    /// Starts it again on the same port and data directory (after crash recovery if it was
    /// killed; a running server is killed first); returns once it accepts connections.
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + RESTART_WITHIN;
        loop {
            match self.spawn_postgres() {
                Ok(()) => return,
                // The old postmaster.pid or shared memory may block it for a moment.
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(200))
                }
                Err(failure) => panic!("{}", failure.describe(self)),
            }
        }
    }

    fn initdb(&self) {
        let output = self
            .server_command(&self.bins.initdb)
            .arg("-D")
            .arg(&self.data)
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ])
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e} ({INSTALL_HINT})", self.bins.initdb.display()));
        assert!(
            output.status.success(),
            "initdb -D {} failed ({}):\n{}{}",
            self.data.display(),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Starts the postmaster on `self.port` and waits until it accepts connections.
    fn spawn_postgres(&mut self) -> Result<(), StartFailure> {
        let log_path = self.log_path();
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .unwrap_or_else(|e| panic!("open {}: {e}", log_path.display()));
        let log_from = log.metadata().map(|m| m.len()).unwrap_or(0);
        let stdout = log.try_clone().expect("clone the log file handle");
        let port = self.port.to_string();
        // Benchmarks (not tests) ask for a server that is durable as in production and has
        // the memory of a small real one: SWITCHBOARD_PG_DURABLE=1.
        let durable = std::env::var_os("SWITCHBOARD_PG_DURABLE").is_some_and(|v| v == "1");
        let settings: &[&str] = if durable {
            &[
                "fsync=on",
                "full_page_writes=on",
                "shared_buffers=2GB",
                "max_wal_size=8GB",
            ]
        } else {
            &["fsync=off", "full_page_writes=off", "shared_buffers=128MB"]
        };
        let postmaster = self
            .server_command(&self.bins.postgres)
            .arg("-D")
            .arg(&self.data)
            .args(["-p", &port, "-c", "listen_addresses=127.0.0.1", "-k"])
            .arg(&self.dir)
            // No synchronous_commit=off: with fsync off a commit's WAL write costs next to
            // nothing, and without it a kill (a crash) would lose the last commits.
            .args(settings.iter().flat_map(|setting| ["-c", setting]))
            .args(["-c", "max_connections=200", "-c", "logging_collector=off"])
            .arg("-c")
            .arg(format!("cluster_name={}", self.tag))
            .stdout(stdout)
            .stderr(log)
            // Its own process group: a Ctrl-C meant for the tests does not reach it.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("run {}: {e} ({INSTALL_HINT})", self.bins.postgres.display())
            });
        self.postmaster = Some(postmaster);
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            let exited = self
                .postmaster
                .as_mut()
                .and_then(|p| p.try_wait().ok().flatten());
            if let Some(status) = exited {
                self.postmaster = None;
                let log = self.log_since(log_from);
                return Err(StartFailure {
                    port_in_use: log.contains("could not bind") || log.contains("already in use"),
                    reason: format!("postgres exited with {status}"),
                    log,
                });
            }
            if self.accepts_connections() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                self.kill();
                return Err(StartFailure {
                    port_in_use: false,
                    reason: format!("postgres did not accept connections within {READY_WITHIN:?}"),
                    log: self.log_since(log_from),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// True when our postmaster reports itself ready in `postmaster.pid` (so the server
    /// answering on the port is ours, not one that took the port first) and `pg_isready`
    /// gets an answer on 127.0.0.1:PORT.
    fn accepts_connections(&self) -> bool {
        let Some(pid) = self.postmaster.as_ref().map(Child::id) else {
            return false;
        };
        let pid_file = fs::read_to_string(self.data.join("postmaster.pid")).unwrap_or_default();
        let lines: Vec<&str> = pid_file.lines().map(str::trim).collect();
        if lines.first() != Some(&pid.to_string().as_str()) || lines.get(7) != Some(&"ready") {
            return false;
        }
        let port = self.port.to_string();
        client_command(&self.bins.pg_isready)
            .args([
                "-q",
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-d",
                "postgres",
            ])
            .args(["-t", "2"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// SIGKILLs whatever still runs of this server (backends outlive a killed postmaster for a
    /// moment) and waits until it is gone.
    fn kill_leftovers(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let pids = self.cluster_processes();
            if pids.is_empty() || Instant::now() >= deadline {
                return;
            }
            signal("KILL", &pids);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// This server's processes: the postmaster (its arguments hold the data directory) and
    /// its children (their process titles start with `postgres: <cluster_name>:`).
    fn cluster_processes(&self) -> Vec<u32> {
        let title = format!("postgres: {}:", self.tag);
        let data = self.data.as_os_str().as_bytes();
        let me = std::process::id();
        let Ok(entries) = fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .filter_map(Result::ok)
            .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
            .filter(|&pid| pid != me)
            .filter(|pid| {
                fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| {
                    cmdline.starts_with(title.as_bytes())
                        || cmdline.split(|&b| b == 0).any(|arg| arg == data)
                })
            })
            .collect()
    }

    fn spawn_watchdog(&self) -> Child {
        Command::new("sh")
            .arg("-c")
            .arg(WATCHDOG)
            .arg("switchboard-pg-watchdog")
            .arg(std::process::id().to_string())
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group: a Ctrl-C that kills the tests does not kill it.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("run sh (the watchdog of a test postgres): {e}"))
    }

    /// A command for initdb or postgres: run as the `postgres` OS user when we are root, from
    /// the server's directory (they fail when they cannot read the current directory).
    fn server_command(&self, program: &Path) -> Command {
        let mut command = without_pg_env(program);
        command.current_dir(&self.dir);
        if let Some((uid, gid)) = self.owner {
            command.uid(uid).gid(gid);
        }
        command
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("postgres.log")
    }

    /// The log from byte `from` on (what one start wrote).
    fn log_since(&self, from: u64) -> String {
        let mut text = Vec::new();
        if let Ok(mut file) = fs::File::open(self.log_path()) {
            let _ = file.seek(SeekFrom::Start(from));
            let _ = file.read_to_end(&mut text);
        }
        String::from_utf8_lossy(&text).into_owned()
    }
}

impl Drop for PostgresServer {
    /// Immediate shutdown (SIGQUIT, SIGKILL after 10 s), then removes the directory.
    fn drop(&mut self) {
        if let Some(mut watchdog) = self.watchdog.take() {
            signal("KILL", &[format!("-{}", watchdog.id())]); // its group: the sh and its sleep
            let _ = watchdog.wait();
        }
        if let Some(mut postmaster) = self.postmaster.take() {
            signal("QUIT", &[postmaster.id()]);
            let deadline = Instant::now() + Duration::from_secs(10);
            while matches!(postmaster.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = postmaster.kill();
            let _ = postmaster.wait();
        }
        self.kill_leftovers();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Why a start failed.
struct StartFailure {
    /// The port was taken: another one may work.
    port_in_use: bool,
    reason: String,
    /// What the server logged during the attempt.
    log: String,
}

impl StartFailure {
    fn describe(&self, server: &PostgresServer) -> String {
        let lines: Vec<&str> = self.log.lines().collect();
        let tail = lines[lines.len().saturating_sub(30)..].join("\n");
        format!(
            "private postgres on 127.0.0.1:{} (data {}): {}; its log:\n{tail}",
            server.port,
            server.data.display(),
            self.reason
        )
    }
}

/// The PostgreSQL programs, from the newest `/usr/lib/postgresql/<version>/bin` (Debian's
/// layout, where `initdb` and `postgres` are not on PATH), else from PATH.
struct Binaries {
    initdb: PathBuf,
    postgres: PathBuf,
    createdb: PathBuf,
    pg_isready: PathBuf,
    psql: PathBuf,
}

fn binaries() -> &'static Binaries {
    static BINARIES: OnceLock<Binaries> = OnceLock::new();
    BINARIES.get_or_init(|| {
        let versioned = newest_versioned_bin_dir();
        let find = |name: &str| {
            versioned
                .iter()
                .map(|dir| dir.join(name))
                .chain(on_path(name))
                .find(|path| path.is_file())
                .unwrap_or_else(|| {
                    panic!(
                        "PostgreSQL's `{name}` is missing from /usr/lib/postgresql/*/bin and PATH: \
                         tests start a private PostgreSQL server ({INSTALL_HINT})"
                    )
                })
        };
        Binaries {
            initdb: find("initdb"),
            postgres: find("postgres"),
            createdb: find("createdb"),
            pg_isready: find("pg_isready"),
            psql: find("psql"),
        }
    })
}

/// `/usr/lib/postgresql/<version>/bin` of the highest version that has `initdb`.
fn newest_versioned_bin_dir() -> Option<PathBuf> {
    fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name();
            let version: Vec<u32> = name
                .to_str()?
                .split('.')
                .map(|part| part.parse().ok())
                .collect::<Option<_>>()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, bin)| bin)
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// The `postgres` user's uid and gid when this process runs as root (`id -u` says 0).
fn run_as() -> Option<(u32, u32)> {
    static RUN_AS: OnceLock<Option<(u32, u32)>> = OnceLock::new();
    *RUN_AS.get_or_init(|| {
        if id(&["-u"]) != Some(0) {
            return None;
        }
        let user = id(&["-u", "postgres"]).zip(id(&["-g", "postgres"]));
        Some(user.unwrap_or_else(|| {
            panic!(
                "running as root, which initdb and postgres refuse, and there is no `postgres` \
                 OS user to run them as ({INSTALL_HINT}, which creates it)"
            )
        }))
    })
}

/// What `id <args>` prints, as a number.
fn id(args: &[&str]) -> Option<u32> {
    let output = Command::new("id")
        .args(args)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    String::from_utf8_lossy(&output.stdout).trim().parse().ok()
}

/// A free 127.0.0.1 port (bound, then released), never PostgreSQL's standard 5432.
fn free_port() -> u16 {
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|address| address.port())
            .expect("bind a free port on 127.0.0.1");
        if port != 5432 {
            return port;
        }
    }
}

/// `program` without the caller's `PG*` environment (PGHOST, PGPORT, PGDATA...), which must
/// not point a test at another server.
fn without_pg_env(program: &Path) -> Command {
    let mut command = Command::new(program);
    for (key, _) in std::env::vars_os() {
        if key.as_bytes().starts_with(b"PG") {
            command.env_remove(key);
        }
    }
    command.stdin(Stdio::null());
    command
}

/// A client program (psql, createdb, pg_isready) that gives up on a server that does not
/// answer within 5 s.
fn client_command(program: &Path) -> Command {
    let mut command = without_pg_env(program);
    command.env("PGCONNECT_TIMEOUT", "5");
    command
}

/// Sends SIGname to `targets` (pids, or `-pgid` for a process group), ignoring failures.
fn signal<T: ToString>(name: &str, targets: &[T]) {
    let _ = Command::new("sh")
        .args(["-c", r#"kill -s "$0" -- "$@" 2>/dev/null"#, name])
        .args(targets.iter().map(ToString::to_string))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}
