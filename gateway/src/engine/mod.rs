//! The attempt engine: runs a request's fallback chain. No HTTP here; [`crate::respond`] turns
//! the chain's end into the client's answer.
//!
//! - [`fallback`] walks the chain (retries, backoff, Retry-After, budget) under [`policy`];
//! - [`attempt`] makes one upstream call under its [`stream_timing`] clock;
//! - [`hedge`] races a slow attempt with the next target's;
//! - [`json_check`] checks structured output; [`output`] assembles streamed messages.

pub mod attempt;
pub mod fallback;
pub mod hedge;
pub mod json_check;
pub mod output;
pub mod policy;
pub mod stream_timing;
