//! Typed configuration of the Switchboard gateway (SPEC section 2).
//!
//! A config is TOML; every string may use `${ENV_VAR}`; unknown keys are errors; values are
//! validated at load and every problem names the file, the key and the fix.

mod error;
pub mod error_kind;
mod hedge;
mod interpolate;
mod known_keys;
mod load;
mod prefill;
pub mod redact;
mod resolved;
pub mod schema;
mod validate;
mod value_errors;

pub use error::{ConfigError, Problem};
pub use error_kind::ErrorKind;
pub use hedge::HedgeAfter;
pub use load::{EMBEDDED_DEFAULT, EMBEDDED_ORIGIN, process_env};
pub use prefill::Prefill;
pub use resolved::{Config, ModelRoute, Policy};
pub use schema::{
    LoadBalance, LoggingConfig, MetricsConfig, MidStream, OtelConfig, ProviderConfig, ProviderKind,
    ServerConfig, StreamJson, Target,
};
