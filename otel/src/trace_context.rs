//! W3C trace context (<https://www.w3.org/TR/trace-context/>): the `traceparent` a caller
//! sends, the request's own span, and the `traceparent` each upstream attempt carries.

use opentelemetry::trace::{SpanId, TraceId, TraceState};

/// A `traceparent` header's fields, as written (lowercase hex checked, not yet decoded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Traceparent<'a> {
    /// 32 hex digits, not all zero.
    pub trace_id: &'a str,
    /// 16 hex digits, not all zero: the caller's span.
    pub parent_id: &'a str,
    /// The caller recorded its span (flag bit 0).
    pub sampled: bool,
}

/// Reads `version-traceid-parentid-flags`; `None` when it is malformed. Fields after the
/// fourth, which later versions may add, are ignored, as the recommendation asks.
pub fn parse_traceparent(value: &str) -> Option<Traceparent<'_>> {
    let mut parts = value.trim().split('-');
    let version = parts.next()?;
    let trace_id = parts.next()?;
    let parent_id = parts.next()?;
    let flags = parts.next()?;
    let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    let valid = hex(version, 2)
        && version != "ff"
        && (version != "00" || parts.next().is_none())
        && hex(trace_id, 32)
        && trace_id.bytes().any(|b| b != b'0')
        && hex(parent_id, 16)
        && parent_id.bytes().any(|b| b != b'0')
        && hex(flags, 2);
    let flags = u8::from_str_radix(flags, 16).ok()?;
    valid.then_some(Traceparent {
        trace_id,
        parent_id,
        sampled: flags & 1 == 1,
    })
}

/// Where one request's spans sit in a trace.
#[derive(Debug, Clone)]
pub struct TraceContext {
    /// The trace: the caller's, or a new one.
    pub trace_id: TraceId,
    /// The request's span (`chat {model}`).
    pub span_id: SpanId,
    /// The caller's span, when the request came with one.
    pub parent_id: Option<SpanId>,
    /// The caller's `tracestate`, forwarded upstream as it came (when it is well formed).
    pub tracestate: Option<String>,
    /// False when the caller does not sample this trace: the gateway then records no span of
    /// it either (the parent-based decision every OpenTelemetry SDK makes), and passes the
    /// caller's own `traceparent` upstream.
    pub sampled: bool,
}

/// What a caller said about the trace of a request (the `traceparent` header, or the body's
/// `trace_unique_id`, `span_parent_id` and `span_unique_id` when they are W3C ids).
#[derive(Debug, Clone, Copy, Default)]
pub struct CallerTrace<'a> {
    /// The trace id.
    pub trace_id: Option<&'a str>,
    /// The caller's span.
    pub parent_id: Option<&'a str>,
    /// An id the caller chose for this request's own span.
    pub span_id: Option<&'a str>,
    /// `false` when a `traceparent` said the caller does not sample this trace.
    pub not_sampled: bool,
    /// The `tracestate` header.
    pub tracestate: Option<&'a str>,
}

impl TraceContext {
    /// The request's place in the caller's trace, or in a new one when the caller sent no W3C
    /// trace id.
    pub fn for_request(caller: CallerTrace<'_>) -> TraceContext {
        let trace_id = caller
            .trace_id
            .filter(|t| t.len() == 32)
            .and_then(|t| TraceId::from_hex(t).ok())
            .filter(|t| *t != TraceId::INVALID);
        let parent_id = trace_id.and(caller.parent_id).and_then(span_id_of);
        let tracestate = caller
            .tracestate
            .filter(|s| !s.is_empty() && s.parse::<TraceState>().is_ok())
            .map(str::to_owned);
        TraceContext {
            trace_id: trace_id.unwrap_or_else(new_trace_id),
            span_id: caller
                .span_id
                .and_then(span_id_of)
                .unwrap_or_else(new_span_id),
            parent_id,
            tracestate,
            sampled: !(caller.not_sampled && parent_id.is_some()),
        }
    }

    /// The `traceparent` an upstream call made as the span `span` sends: that span as the
    /// parent (version 00, sampled), or for a trace the caller does not sample, the caller's
    /// own span, unsampled, since the gateway records none.
    pub fn traceparent(&self, span: SpanId) -> String {
        let (parent, flags) = match (self.sampled, self.parent_id) {
            (false, Some(parent)) => (parent, "-00"),
            _ => (span, "-01"),
        };
        let mut out = String::with_capacity(55);
        out.push_str("00-");
        push_hex(&mut out, &self.trace_id.to_bytes());
        out.push('-');
        push_hex(&mut out, &parent.to_bytes());
        out.push_str(flags);
        out
    }

    /// The trace id as 32 lowercase hex digits.
    pub fn trace_id_hex(&self) -> String {
        hex(&self.trace_id.to_bytes())
    }

    /// The request span's id as 16 lowercase hex digits.
    pub fn span_id_hex(&self) -> String {
        hex(&self.span_id.to_bytes())
    }
}

/// Lowercase hex of `bytes`. By hand: the ids' `Display` goes through the integer formatter
/// (`{:032x}`), several times the cost on every traced request.
fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    push_hex(&mut out, bytes);
    out
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
}

fn span_id_of(text: &str) -> Option<SpanId> {
    (text.len() == 16)
        .then(|| SpanId::from_hex(text).ok())
        .flatten()
        .filter(|s| *s != SpanId::INVALID)
}

/// A new random span id (never the invalid all-zero one).
pub fn new_span_id() -> SpanId {
    SpanId::from(fastrand::u64(1..))
}

/// A new random trace id (never the invalid all-zero one).
pub fn new_trace_id() -> TraceId {
    TraceId::from(fastrand::u128(1..))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

    #[test]
    fn a_traceparent_is_read_and_checked() {
        let header = format!("00-{TRACE}-00f067aa0ba902b7-01");
        let parsed = parse_traceparent(&header).unwrap();
        assert_eq!(parsed.trace_id, TRACE);
        assert_eq!(parsed.parent_id, "00f067aa0ba902b7");
        assert!(parsed.sampled);
        let header = format!("00-{TRACE}-00f067aa0ba902b7-00");
        assert!(!parse_traceparent(&header).unwrap().sampled);
        for bad in [
            "",
            "00-xyz-00f067aa0ba902b7-01",
            &format!("00-{TRACE}-0000000000000000-01"),
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            &format!("ff-{TRACE}-00f067aa0ba902b7-01"),
            &format!("00-{TRACE}-00f067aa0ba902b7-01-extra"),
            &format!("00-{TRACE}-00f067aa0ba902b7"),
        ] {
            assert_eq!(parse_traceparent(bad), None, "{bad}");
        }
        // A later version may carry more fields.
        assert!(parse_traceparent(&format!("01-{TRACE}-00f067aa0ba902b7-01-what")).is_some());
    }

    #[test]
    fn the_request_joins_the_callers_trace_and_names_its_attempts_upstream() {
        let context = TraceContext::for_request(CallerTrace {
            trace_id: Some(TRACE),
            parent_id: Some("00f067aa0ba902b7"),
            tracestate: Some("vendor=abc"),
            ..CallerTrace::default()
        });
        assert_eq!(context.trace_id.to_string(), TRACE);
        assert_eq!(context.trace_id_hex(), TRACE);
        assert_eq!(context.span_id_hex(), context.span_id.to_string());
        assert_eq!(
            context.parent_id,
            Some(SpanId::from_hex("00f067aa0ba902b7").unwrap())
        );
        assert_eq!(context.tracestate.as_deref(), Some("vendor=abc"));
        let attempt = SpanId::from_hex("1111222233334444").unwrap();
        assert_eq!(
            context.traceparent(attempt),
            format!("00-{TRACE}-1111222233334444-01")
        );
    }

    #[test]
    fn ids_that_are_not_w3c_start_a_new_trace() {
        let context = TraceContext::for_request(CallerTrace {
            trace_id: Some("call-42"),
            parent_id: Some("parent"),
            span_id: Some("mine"),
            tracestate: Some("not a tracestate"),
            ..CallerTrace::default()
        });
        assert_ne!(context.trace_id, TraceId::INVALID);
        assert_eq!(context.parent_id, None);
        assert_eq!(context.tracestate, None);
        assert_ne!(context.span_id, SpanId::INVALID);
    }

    #[test]
    fn an_unsampled_callers_context_goes_upstream_as_it_came() {
        let context = TraceContext::for_request(CallerTrace {
            trace_id: Some(TRACE),
            parent_id: Some("00f067aa0ba902b7"),
            not_sampled: true,
            ..CallerTrace::default()
        });
        assert!(!context.sampled);
        assert_eq!(
            context.traceparent(new_span_id()),
            format!("00-{TRACE}-00f067aa0ba902b7-00")
        );
    }
}
