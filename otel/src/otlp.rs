//! The OTLP wire format (`opentelemetry/proto/collector/trace/v1`, protobuf), written straight
//! from the gateway's own span facts into one buffer per export.
//!
//! Written with prost's encoding primitives rather than through `opentelemetry_sdk`'s
//! `SpanData` and `opentelemetry-otlp`'s exporter because of what that path costs: measured
//! with callgrind (BENCHMARKS.md, "OpenTelemetry"), building `SpanData`, converting it to the
//! generated protobuf structs (a `String` per attribute key, a map per batch) and encoding them
//! took ~60,000 instructions per request of two spans, six times the `[otel]` budget. Here a
//! span is a few hundred bytes appended to a reused buffer. The stories decode every export
//! with the `opentelemetry-proto` definitions, so the bytes are checked against the schema.

use prost::encoding::{WireType, encoded_len_varint};

/// An attribute value.
#[derive(Debug, Clone, Copy)]
pub enum AttrValue<'a> {
    /// `string_value`.
    Str(&'a str),
    /// `bool_value`.
    Bool(bool),
    /// `int_value`.
    Int(i64),
    /// `double_value`.
    Double(f64),
    /// `array_value` of strings.
    StrArray(&'a [String]),
}

/// `Span.SpanKind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The gateway received the request.
    Server = 2,
    /// The gateway called a provider.
    Client = 3,
}

/// `Status.StatusCode` (ok is never set by instrumentation, per the conventions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusCode {
    /// Nothing to say.
    Unset = 0,
    /// It failed.
    Error = 2,
}

/// Encoded spans waiting for export, and the scratch space one span is written in.
#[derive(Debug, Default)]
pub struct SpanBuffer {
    /// `ScopeSpans.spans` entries, each already framed (tag 2, length, `Span`).
    spans: Vec<u8>,
    count: usize,
    /// The span being written.
    span: Vec<u8>,
    /// An event or status being written.
    nested: Vec<u8>,
}

impl SpanBuffer {
    /// Spans written since the last [`SpanBuffer::take_request`].
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when no span waits.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Starts a span; it is added by [`SpanWriter::finish`].
    pub fn span(&mut self) -> SpanWriter<'_> {
        self.span.clear();
        SpanWriter { buffer: self }
    }

    /// The whole `ExportTraceServiceRequest` of the spans written so far, under `head` (the
    /// encoded resource and scope); the buffer is left empty.
    pub fn take_request(&mut self, head: &ExportHead) -> Vec<u8> {
        let scope_spans_len = head.scope.len() + self.spans.len();
        let resource_spans_len =
            head.resource.len() + 1 + encoded_len_varint(scope_spans_len as u64) + scope_spans_len;
        let mut out = Vec::with_capacity(
            resource_spans_len + 2 * encoded_len_varint(resource_spans_len as u64) + 2,
        );
        // ExportTraceServiceRequest.resource_spans (1)
        encode_key(1, WireType::LengthDelimited, &mut out);
        encode_varint(resource_spans_len as u64, &mut out);
        out.extend_from_slice(&head.resource);
        // ResourceSpans.scope_spans (2)
        encode_key(2, WireType::LengthDelimited, &mut out);
        encode_varint(scope_spans_len as u64, &mut out);
        out.extend_from_slice(&head.scope);
        out.extend_from_slice(&self.spans);
        self.spans.clear();
        self.count = 0;
        out
    }
}

/// The parts of every export that do not change: `ResourceSpans.resource` and
/// `ScopeSpans.scope`, each framed.
#[derive(Debug, Clone)]
pub struct ExportHead {
    resource: Vec<u8>,
    scope: Vec<u8>,
}

impl ExportHead {
    /// The resource (`service.name`, `service.version`) and instrumentation scope.
    pub fn new(service_name: &str, version: &str) -> ExportHead {
        let mut attributes = Vec::new();
        key_value(
            &mut attributes,
            1,
            "service.name",
            AttrValue::Str(service_name),
        );
        key_value(
            &mut attributes,
            1,
            "service.version",
            AttrValue::Str(version),
        );
        let mut resource = Vec::new();
        message(&mut resource, 1, &attributes);
        let mut scope_body = Vec::new();
        string(&mut scope_body, 1, "switchboard");
        string(&mut scope_body, 2, version);
        let mut scope = Vec::new();
        message(&mut scope, 1, &scope_body);
        ExportHead { resource, scope }
    }
}

/// One span being written; fields may come in any order.
pub struct SpanWriter<'a> {
    buffer: &'a mut SpanBuffer,
}

impl SpanWriter<'_> {
    /// Trace id, span id, parent span id (absent for a root) and the W3C `tracestate`.
    pub fn ids(
        &mut self,
        trace_id: [u8; 16],
        span_id: [u8; 8],
        parent: Option<[u8; 8]>,
        trace_state: Option<&str>,
    ) -> &mut Self {
        let span = &mut self.buffer.span;
        bytes(span, 1, &trace_id);
        bytes(span, 2, &span_id);
        if let Some(state) = trace_state.filter(|s| !s.is_empty()) {
            string(span, 3, state);
        }
        if let Some(parent) = parent {
            bytes(span, 4, &parent);
        }
        self
    }

    /// The name, written as `prefix` then `rest` (e.g. `chat ` and a model).
    pub fn name(&mut self, prefix: &str, rest: &str) -> &mut Self {
        let span = &mut self.buffer.span;
        encode_key(5, WireType::LengthDelimited, span);
        encode_varint((prefix.len() + rest.len()) as u64, span);
        span.extend_from_slice(prefix.as_bytes());
        span.extend_from_slice(rest.as_bytes());
        self
    }

    /// The kind.
    pub fn kind(&mut self, kind: Kind) -> &mut Self {
        encode_key(6, WireType::Varint, &mut self.buffer.span);
        encode_varint(kind as u64, &mut self.buffer.span);
        self
    }

    /// Start and end, in Unix nanoseconds.
    pub fn times(&mut self, start: u64, end: u64) -> &mut Self {
        fixed64(&mut self.buffer.span, 7, start);
        fixed64(&mut self.buffer.span, 8, end);
        self
    }

    /// `Span.flags`: sampled, and whether the parent is remote (known).
    pub fn flags(&mut self, parent_is_remote: bool) -> &mut Self {
        // W3C trace flags in bits 0-7 (sampled), then SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE (0x100)
        // and SPAN_FLAGS_CONTEXT_IS_REMOTE (0x200).
        let flags: u32 = 0x01 | 0x100 | if parent_is_remote { 0x200 } else { 0 };
        encode_key(16, WireType::ThirtyTwoBit, &mut self.buffer.span);
        self.buffer.span.extend_from_slice(&flags.to_le_bytes());
        self
    }

    /// An attribute.
    pub fn attr(&mut self, key: &str, value: AttrValue<'_>) -> &mut Self {
        key_value(&mut self.buffer.span, 9, key, value);
        self
    }

    /// An event at `time` (Unix nanoseconds) with `attributes`.
    pub fn event(
        &mut self,
        name: &str,
        time: u64,
        attributes: &[(&str, AttrValue<'_>)],
    ) -> &mut Self {
        let nested = &mut self.buffer.nested;
        nested.clear();
        fixed64(nested, 1, time);
        string(nested, 2, name);
        for (key, value) in attributes {
            key_value(nested, 3, key, *value);
        }
        message(&mut self.buffer.span, 11, nested);
        self
    }

    /// The status (an unset one is left out, as its default).
    pub fn status(&mut self, code: StatusCode, message_text: &str) -> &mut Self {
        if code == StatusCode::Unset && message_text.is_empty() {
            return self;
        }
        let nested = &mut self.buffer.nested;
        nested.clear();
        if !message_text.is_empty() {
            string(nested, 2, message_text);
        }
        encode_key(3, WireType::Varint, nested);
        encode_varint(code as u64, nested);
        message(&mut self.buffer.span, 15, nested);
        self
    }

    /// Adds the span to the buffer.
    pub fn finish(self) {
        let SpanBuffer {
            spans, span, count, ..
        } = self.buffer;
        message(spans, 2, span);
        *count += 1;
    }
}

/// A varint. By hand, beside prost's `encode_varint`: that one writes through the generic
/// `BufMut` (a capacity check and a chunk per byte), which was a third of the cost of an
/// attribute; into a `Vec` a push per byte does the same.
#[inline]
fn encode_varint(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// A field's key: its tag and wire type, as a varint.
#[inline]
fn encode_key(tag: u32, wire_type: WireType, out: &mut Vec<u8>) {
    encode_varint(u64::from(tag << 3 | wire_type as u32), out);
}

fn string(out: &mut Vec<u8>, tag: u32, text: &str) {
    bytes(out, tag, text.as_bytes());
}

fn bytes(out: &mut Vec<u8>, tag: u32, data: &[u8]) {
    encode_key(tag, WireType::LengthDelimited, out);
    encode_varint(data.len() as u64, out);
    out.extend_from_slice(data);
}

fn message(out: &mut Vec<u8>, tag: u32, body: &[u8]) {
    bytes(out, tag, body);
}

fn fixed64(out: &mut Vec<u8>, tag: u32, value: u64) {
    encode_key(tag, WireType::SixtyFourBit, out);
    out.extend_from_slice(&value.to_le_bytes());
}

/// `len(tag + length + data)` of a length-delimited field with a one-byte tag.
fn framed_len(len: usize) -> usize {
    1 + encoded_len_varint(len as u64) + len
}

/// The encoded length of `AnyValue` holding `value`.
fn any_value_len(value: AttrValue<'_>) -> usize {
    match value {
        AttrValue::Str(s) => framed_len(s.len()),
        AttrValue::Bool(_) => 2,
        AttrValue::Int(i) => 1 + encoded_len_varint(i as u64),
        AttrValue::Double(_) => 9,
        AttrValue::StrArray(items) => framed_len(array_len(items)),
    }
}

/// The encoded length of an `ArrayValue` of strings.
fn array_len(items: &[String]) -> usize {
    items.iter().map(|s| framed_len(framed_len(s.len()))).sum()
}

fn any_value(out: &mut Vec<u8>, value: AttrValue<'_>) {
    match value {
        AttrValue::Str(s) => string(out, 1, s),
        AttrValue::Bool(b) => {
            encode_key(2, WireType::Varint, out);
            out.push(u8::from(b));
        }
        AttrValue::Int(i) => {
            encode_key(3, WireType::Varint, out);
            // int64 is written as its two's complement, as a varint.
            encode_varint(i as u64, out);
        }
        AttrValue::Double(d) => {
            encode_key(4, WireType::SixtyFourBit, out);
            out.extend_from_slice(&d.to_le_bytes());
        }
        AttrValue::StrArray(items) => {
            encode_key(5, WireType::LengthDelimited, out);
            encode_varint(array_len(items) as u64, out);
            for item in items {
                // ArrayValue.values (1), each an AnyValue holding a string.
                encode_key(1, WireType::LengthDelimited, out);
                encode_varint(framed_len(item.len()) as u64, out);
                string(out, 1, item);
            }
        }
    }
}

/// A `KeyValue` as field `tag` of the message in `out`; its length is computed, not buffered.
fn key_value(out: &mut Vec<u8>, tag: u32, key: &str, value: AttrValue<'_>) {
    let value_len = any_value_len(value);
    let len = framed_len(key.len()) + framed_len(value_len);
    encode_key(tag, WireType::LengthDelimited, out);
    encode_varint(len as u64, out);
    string(out, 1, key);
    encode_key(2, WireType::LengthDelimited, out);
    encode_varint(value_len as u64, out);
    any_value(out, value);
}
