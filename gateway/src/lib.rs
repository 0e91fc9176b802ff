//! The Switchboard proxy: an OpenAI-compatible gateway with per-model fallback chains,
//! retries, first-token and stall timeouts, JSON validation, live counters and one log record
//! per request.
//!
//! A request's path, in modules: [`server`] accepts and guards, [`routes`] dispatches,
//! [`request`] reads the body and picks the chain, [`engine`] runs it, [`respond`] answers the
//! client (and relays a stream), [`request_log`] builds the record and hands it to the sink.
//! [`http`] holds the answer types every module speaks; [`telemetry`] the metrics and redaction.
//!
//! The logs API is not here: the binary mounts it under `/api/` through [`routes::Mount`].

pub mod engine;
pub mod http;
pub mod live;
pub mod request;
pub mod request_log;
pub mod respond;
pub mod routes;
pub mod server;
pub mod state;
pub mod targets;
pub mod telemetry;

pub use http::error::GatewayError;
pub use state::AppState;
