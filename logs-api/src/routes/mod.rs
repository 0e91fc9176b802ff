//! One module per resource of the logs API.

pub mod export;
pub mod ingest;
pub mod logs;
pub mod scores;
pub mod stats;
pub mod threads;
pub mod traces;
