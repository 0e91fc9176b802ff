//! Reading a client's request: the chat body, its identity and metadata, and the route it names.

pub mod chat_request;
pub mod identity;
pub mod routing;
pub mod trace;
