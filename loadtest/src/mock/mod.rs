//! A scriptable mock of an OpenAI-compatible provider over real HTTP, which
//! also speaks Anthropic's Messages API on `POST .../v1/messages`.
//!
//! Start it with [`MockProvider::start`] (or the [`MockProvider`] builder),
//! point a client at [`MockHandle::base_url`], and steer each request with a
//! script in the model name (`gpt-4o-mini?fail=503&times=2`) or the
//! `x-mock-script` header (see [`Script`]).

mod anthropic;
mod anthropic_stream;
mod error_codes;
mod journal;
mod messages;
mod openai;
mod prefill;
mod router;
mod script;
mod server;
mod stream;

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use journal::ReceivedRequest;
pub use router::SCRIPT_HEADER;
pub use script::{DEFAULT_ARGS, DEFAULT_CHUNKS, DEFAULT_CONTENT, JsonMode, Script, ScriptError};

use journal::Journal;
use router::Shared;

/// Builder of a mock provider server. Defaults: `127.0.0.1:0`,
/// [`Script::default`], journal on.
#[derive(Debug, Clone)]
pub struct MockProvider {
    addr: SocketAddr,
    defaults: Script,
    journal: bool,
}

impl Default for MockProvider {
    fn default() -> Self {
        MockProvider {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            defaults: Script::default(),
            journal: true,
        }
    }
}

impl MockProvider {
    /// Binds 127.0.0.1:0 and serves until the handle is dropped (or `shutdown`).
    pub async fn start() -> io::Result<MockHandle> {
        MockProvider::default().serve().await
    }

    /// Binds `addr` and serves with `defaults` under every request's script.
    pub async fn start_on(addr: SocketAddr, defaults: Script) -> io::Result<MockHandle> {
        MockProvider::default()
            .listen(addr)
            .defaults(defaults)
            .serve()
            .await
    }

    /// A builder with the defaults above.
    pub fn new() -> Self {
        MockProvider::default()
    }

    /// Sets the address to bind.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// Sets the script applied under every request's own directives.
    pub fn defaults(mut self, defaults: Script) -> Self {
        self.defaults = defaults;
        self
    }

    /// Whether to record every request (needed by [`MockHandle::requests`];
    /// turn off for load tests).
    pub fn journal(mut self, on: bool) -> Self {
        self.journal = on;
        self
    }

    /// Binds and starts serving on the current tokio runtime.
    pub async fn serve(self) -> io::Result<MockHandle> {
        let listener = TcpListener::bind(self.addr).await?;
        let addr = listener.local_addr()?;
        let journal = Arc::new(Journal::new(self.journal));
        let shared = Arc::new(Shared {
            defaults: self.defaults,
            journal: Arc::clone(&journal),
        });
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(server::serve(listener, shared, stopped));
        Ok(MockHandle {
            addr,
            journal,
            stop: Some(stop),
            task,
        })
    }
}

/// A running mock server. Dropping it stops the server and closes its
/// connections.
#[derive(Debug)]
pub struct MockHandle {
    addr: SocketAddr,
    journal: Arc<Journal>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl MockHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>/v1`, the base URL an OpenAI client expects.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// `http://<addr>`, the base URL an Anthropic client expects (it adds
    /// `/v1/messages` itself).
    pub fn anthropic_base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request received so far, in arrival order (empty if the journal is off).
    pub fn requests(&self) -> Vec<ReceivedRequest> {
        self.journal.requests()
    }

    /// Received requests whose `model` (as sent, with suffix) starts with `model_prefix`.
    pub fn requests_for(&self, model_prefix: &str) -> Vec<ReceivedRequest> {
        self.journal.requests_for(model_prefix)
    }

    /// TCP connections the mock accepted (a client reusing its pool opens few).
    pub fn connections(&self) -> usize {
        self.journal.connections()
    }

    /// Streams whose client went away before the mock finished writing them.
    pub fn cancelled_streams(&self) -> usize {
        self.journal.cancelled_streams()
    }

    /// Polls until [`cancelled_streams`](Self::cancelled_streams) reaches `n`;
    /// false if it did not within `within`.
    pub async fn wait_cancelled(&self, n: usize, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if self.cancelled_streams() >= n {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Stops the server now (same as dropping the handle).
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for MockHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            // The server may already be gone; nothing to do then.
            let _ = stop.send(());
        }
        self.task.abort();
    }
}
