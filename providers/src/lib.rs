//! Provider adapters of the Switchboard gateway: one per wire format, each speaking OpenAI's
//! chat format to the gateway. No routing, retries or logging here.

pub mod anthropic;
pub mod body_limit;
pub mod chunk;
mod error;
mod headers;
pub mod http_client;
pub mod json_text;
pub mod openai;
mod post_json;
mod provider;
mod registry;
pub mod request_body;
pub mod sse_decode;
pub mod upstream_error;

pub use chunk::{ChunkInfo, StreamChunk, ToolCallDelta, Usage};
pub use error::ProviderError;
pub use provider::{ChatRequest, ChunkStream, Completion, Provider, UpstreamTrace};
pub use registry::Providers;
pub use request_body::RequestBody;
