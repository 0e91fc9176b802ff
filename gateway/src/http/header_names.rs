//! Every header name the gateway reads or writes, named once: a `&str` name is parsed and
//! checked on each insert and lookup (~700 instructions per header under callgrind).

use http::HeaderName;

/// The request's id (`x-switchboard-request-id`), on every answer.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-switchboard-request-id");
/// The provider that served the answer.
pub const PROVIDER: HeaderName = HeaderName::from_static("x-switchboard-provider");
/// The model that served the answer.
pub const MODEL: HeaderName = HeaderName::from_static("x-switchboard-model");
/// How many upstream attempts the request made.
pub const ATTEMPTS: HeaderName = HeaderName::from_static("x-switchboard-attempts");
/// How far down the target order the chain went.
pub const FALLBACK_INDEX: HeaderName = HeaderName::from_static("x-switchboard-fallback-index");
/// Set when a hedge raced the first attempt.
pub const HEDGED: HeaderName = HeaderName::from_static("x-switchboard-hedged");
/// The structured-output verdict, when checked.
pub const JSON_VALID: HeaderName = HeaderName::from_static("x-switchboard-json-valid");

/// The caller's customer (request).
pub const CUSTOMER_ID: HeaderName = HeaderName::from_static("x-switchboard-customer-id");
/// The caller's conversation, e.g. the phone call (request).
pub const THREAD_ID: HeaderName = HeaderName::from_static("x-switchboard-thread-id");
/// Custom properties as a JSON object (request).
pub const METADATA: HeaderName = HeaderName::from_static("x-switchboard-metadata");
/// Forward OpenAI's own `metadata` field instead of taking it as custom properties (request).
pub const FORWARD_METADATA: HeaderName = HeaderName::from_static("x-switchboard-forward-metadata");
/// W3C trace context (request).
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
/// W3C trace state (request).
pub const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");
