//! The Switchboard gateway: an OpenAI-compatible proxy with per-model fallback chains, retries,
//! first-token and stall timeouts, JSON validation, live counters and one log record per request.
//!
//! A request's path, in modules: [`server`] accepts, [`auth`] checks keys, [`routes`] dispatches,
//! [`chat_request`] and [`identity`] read the body, [`routing`] picks the chain, [`engine`] runs
//! it, [`request_log`] builds the [`record`] and hands it to the [`sink`].

pub mod auth;
pub mod body;
pub mod chat_request;
pub mod consume;
pub mod engine;
pub mod error;
pub mod identity;
pub mod metrics;
pub mod record;
pub mod redact;
pub mod request_log;
pub mod routes;
pub mod routing;
pub mod server;
pub mod sink;
pub mod sse;
pub mod state;

pub use error::{GatewayError, LogError};
pub use state::AppState;
