//! The private PostgreSQL server: its databases, an outage and a restart, the shared server,
//! and the watchdog that stops a server when its test process is gone.

use std::io::{ErrorKind, Read};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use switchboard_test_services::PostgresServer;

/// Set for the child test process of `the_shared_server_stops_when_its_process_exits`.
const CHILD: &str = "SWITCHBOARD_TEST_SERVICES_CHILD";

fn accepts_tcp(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok()
}

#[test]
fn databases_survive_a_kill_and_a_restart() {
    let mut server = PostgresServer::start();
    let port = server.port();
    assert_ne!(port, 5432, "never the machine's own PostgreSQL");

    let first = server.create_database();
    let second = server.create_database();
    assert_ne!(first, second);
    let prefix = format!("postgres://postgres@127.0.0.1:{port}/");
    let name = first.strip_prefix(&prefix).expect("a URL of this server");
    assert_eq!(server.url(name), first);
    assert_eq!(server.psql(&first, "select 1"), Ok("1".to_owned()));
    let second_name = second.strip_prefix(&prefix).expect("a URL of this server");
    assert_eq!(
        server.psql(&second, "select current_database()"),
        Ok(second_name.to_owned())
    );
    server
        .psql(
            &first,
            "create table kept (n int); insert into kept values (42)",
        )
        .expect("write a row");

    server.kill();
    assert!(
        !accepts_tcp(port),
        "a killed server still accepts connections"
    );
    assert!(server.psql(&first, "select 1").is_err());

    server.restart();
    assert_eq!(server.port(), port);
    assert_eq!(server.psql(&first, "select 1"), Ok("1".to_owned()));
    assert_eq!(
        server.psql(&first, "select n from kept"),
        Ok("42".to_owned()),
        "the data directory is kept across a kill"
    );

    // A second outage, with a connection open (a backend waiting for its startup packet).
    let mut open = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    open.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    server.kill();
    // It may get a last error message from its dying backend, then the connection ends.
    let mut rest = Vec::new();
    match open.read_to_end(&mut rest) {
        Ok(_) => {}
        Err(e) if e.kind() != ErrorKind::WouldBlock && e.kind() != ErrorKind::TimedOut => {}
        Err(e) => panic!("the open connection survived the kill: {e}"),
    }
    assert!(!accepts_tcp(port));
    server.restart();
    assert_eq!(server.psql(&second, "select 1"), Ok("1".to_owned()));
}

#[test]
fn shared_is_one_server_per_process() {
    let a = PostgresServer::shared();
    let b = PostgresServer::shared();
    assert!(std::ptr::eq(a, b));
    assert_eq!(a.port(), b.port());
    assert_ne!(a.port(), 5432);
    let url = a.create_database();
    assert_eq!(a.psql(&url, "select 1"), Ok("1".to_owned()));
}

/// Only does something in the child process that the next test starts: prints the port of the
/// child's shared server, then lets the process exit with the server still running.
#[test]
fn child_starts_the_shared_server() {
    if std::env::var_os(CHILD).is_some() {
        println!("shared-port={}", PostgresServer::shared().port());
    }
}

#[test]
fn the_shared_server_stops_when_its_process_exits() {
    let child = Command::new(std::env::current_exe().expect("test executable"))
        .args(["--exact", "child_starts_the_shared_server", "--nocapture"])
        .env(CHILD, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run this test executable again");
    let child_pid = child.id();
    let output = child.wait_with_output().expect("the child test process");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "child failed:\n{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let port: u16 = stdout
        .lines()
        .find_map(|line| line.strip_prefix("shared-port="))
        .and_then(|port| port.trim().parse().ok())
        .unwrap_or_else(|| panic!("no port in the child's output:\n{stdout}"));
    let dir = std::env::temp_dir().join(format!("switchboard-pg-{child_pid}-0"));

    let deadline = Instant::now() + Duration::from_secs(15);
    while (dir.exists() || accepts_tcp(port)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!accepts_tcp(port), "the child's shared server still runs");
    assert!(!dir.exists(), "{} was not removed", dir.display());
}
