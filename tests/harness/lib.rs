//! Test harness for Switchboard's user stories: a gateway served in-process on a real socket
//! (or the real binary), the scriptable mock provider, and small HTTP/SSE client helpers.

pub mod binary;
pub mod client;
pub mod gateway;
pub mod metrics;
pub mod otlp;
pub mod prometheus;
pub mod records;
pub mod redis_server;
pub mod sdk;

pub use client::{Client, Reply, SseStream};
pub use gateway::Gateway;
pub use metrics::metric_value;
pub use otlp::OtlpReceiver;
pub use prometheus::{Prometheus, promtool};
pub use records::MemorySink;
pub use redis_server::RedisServer;
pub use sdk::sdk_reads;
pub use switchboard_loadtest::{MockHandle, MockProvider};

/// Starts a mock provider (panics if it cannot bind: tests cannot go on without one).
pub async fn mock() -> MockHandle {
    MockProvider::start().await.expect("mock provider starts")
}

/// Installs rustls' ring provider for this process (the workspace builds reqwest without a
/// default one). Safe to call often.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
