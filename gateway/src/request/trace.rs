//! The request's place in its caller's trace (SPEC section 13), when `[otel]` records spans:
//! the ids the record already read (a `traceparent`, or the body's `trace_unique_id`,
//! `span_parent_id` and `span_unique_id` when they are W3C ids) and the `tracestate` header.

use http::HeaderMap;
use switchboard_otel::{CallerTrace, TraceContext};

use super::identity::{Identity, header};
use crate::http::header_names;

/// The request's trace context from its headers and, once the body is read, its identity.
pub fn trace_context(identity: Option<&Identity>, headers: &HeaderMap) -> TraceContext {
    let traceparent =
        header(headers, header_names::TRACEPARENT).and_then(switchboard_otel::parse_traceparent);
    let (trace_id, parent_id, span_id) = match identity {
        Some(identity) => (
            identity.trace_unique_id.as_deref(),
            identity.span_parent_id.as_deref(),
            identity.span_unique_id.as_deref(),
        ),
        None => (
            traceparent.map(|t| t.trace_id),
            traceparent.map(|t| t.parent_id),
            None,
        ),
    };
    let not_sampled = traceparent.is_some_and(|t| !t.sampled && trace_id == Some(t.trace_id));
    TraceContext::for_request(CallerTrace {
        trace_id,
        parent_id,
        span_id,
        not_sampled,
        tracestate: header(headers, header_names::TRACESTATE),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn context(traceparent: &str, body: serde_json::Value) -> TraceContext {
        let mut headers = HeaderMap::new();
        headers.insert("traceparent", traceparent.parse().unwrap());
        headers.insert("tracestate", "vendor=1".parse().unwrap());
        let mut body = body;
        let identity = Identity::take(body.as_object_mut().unwrap(), &headers).unwrap();
        trace_context(Some(&identity), &headers)
    }

    #[test]
    fn the_callers_traceparent_is_the_parent() {
        let trace = context(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            json!({}),
        );
        assert!(trace.sampled);
        assert_eq!(
            trace.trace_id.to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(trace.parent_id.unwrap().to_string(), "00f067aa0ba902b7");
        assert_eq!(trace.tracestate.as_deref(), Some("vendor=1"));
    }

    #[test]
    fn an_unsampled_caller_is_followed_unless_the_body_names_another_trace() {
        let unsampled = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
        assert!(!context(unsampled, json!({})).sampled);
        let other = json!({"trace_unique_id": "11111111111111111111111111111111"});
        let trace = context(unsampled, other);
        assert!(trace.sampled);
        assert_eq!(
            trace.trace_id.to_string(),
            "11111111111111111111111111111111"
        );
    }
}
