//! What the gateway answers with: response bodies, server-sent events, JSON and errors in
//! OpenAI's shape; and the bounded reading of request bodies.

pub mod body;
pub mod error;
pub mod header_names;
pub mod json;
pub mod read_body;
pub mod sse;
