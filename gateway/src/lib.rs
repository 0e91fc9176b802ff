//! The Switchboard gateway: an OpenAI-compatible proxy with per-model fallback chains, retries,
//! first-token and stall timeouts, JSON validation, live counters and one log record per request.
//!
//! A request's path, in modules: [`server`] accepts, [`auth`] checks keys, [`routes`] dispatches,
//! [`chat_request`] and [`identity`] read the body, [`routing`] picks the chain, [`engine`] runs
//! it, [`request_log`] builds the [`record`] and hands it to the [`sink`].
//!
//! The logs API (`/api/*`, SPEC section 7): [`admin`] guards it, [`routes`] serves it over the
//! [`store_pool`]; [`ingest`] reads records sent to it, [`export`] writes JSONL/CSV for the HTTP
//! export and the `switchboard export` command ([`export_cli`]).

pub mod admin;
pub mod auth;
pub mod body;
pub mod chat_request;
pub mod consume;
pub mod engine;
pub mod error;
pub mod export;
pub mod export_cli;
pub mod export_resume;
pub mod identity;
pub mod ingest;
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
pub mod store_pool;

pub use error::{GatewayError, LogError};
pub use state::AppState;
