//! Per-request scripting: the `key=value&...` directive language and the
//! resolution of its `*_times` gates into a concrete [`Plan`].
//!
//! A request's script is the server defaults, overlaid by the suffix of the
//! request's `model` field (`gpt-4o-mini?fail=503&times=2`), overlaid by the
//! `x-mock-script` header. Later directives win.

use std::str::FromStr;
use std::time::Duration;

use crate::mock::openai::Answer;

/// Default assistant text.
pub const DEFAULT_CONTENT: &str = "Hello from mock";
/// Default tool-call arguments.
pub const DEFAULT_ARGS: &str = r#"{"city":"Paris"}"#;
/// Default number of content chunks in a stream.
pub const DEFAULT_CHUNKS: usize = 3;
/// Default number of `ping` events in an Anthropic stream (the real API sends one).
pub const DEFAULT_PINGS: usize = 1;

/// How long a stalled request is held before the mock gives up on it.
pub(crate) const STALL_HOLD: Duration = Duration::from_secs(60);

/// Which JSON text replaces the assistant content (`json=...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonMode {
    /// `{"answer":"yes","confidence":0.9}`
    Valid,
    /// `{"answer": "yes", "confid` (truncated, does not parse).
    Invalid,
    /// `{"wrong":1}` (parses, but matches no sensible schema).
    SchemaViolation,
    /// `[1,2]` (parses, but is not an object).
    Array,
}

impl JsonMode {
    /// The assistant text this mode produces.
    pub fn text(self) -> &'static str {
        match self {
            JsonMode::Valid => r#"{"answer":"yes","confidence":0.9}"#,
            JsonMode::Invalid => r#"{"answer": "yes", "confid"#,
            JsonMode::SchemaViolation => r#"{"wrong":1}"#,
            JsonMode::Array => "[1,2]",
        }
    }
}

/// Why a script string was rejected. The mock answers such requests with a
/// 400 OpenAI error carrying this message, so typos in tests are loud.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScriptError {
    /// A directive name the mock does not know.
    #[error("unknown mock directive `{0}`")]
    UnknownDirective(String),
    /// A known directive with a value that does not parse or is out of range.
    #[error("mock directive `{name}` has invalid value `{value}`: {reason}")]
    InvalidValue {
        /// The directive name.
        name: String,
        /// The (decoded) value as given.
        value: String,
        /// What was expected.
        reason: &'static str,
    },
}

/// The behaviour of the mock for one request. Every field maps to one
/// directive of the same name; see the crate docs for their meaning.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    /// `fail=<status>`: answer this HTTP error status (400..=599).
    pub fail: Option<u16>,
    /// `times=N`: only the first N requests for the model string fail.
    pub times: Option<u64>,
    /// `fail_rate=<0..1>`: only this fraction of requests, drawn at random, fail.
    pub fail_rate: Option<f64>,
    /// `retry_after=<secs>`: `Retry-After` header on failure responses.
    pub retry_after: Option<u64>,
    /// `error_code=<code>`: the failure's error code, with the message a real provider sends
    /// with it (`context_length_exceeded`, `content_filter`, or any other code).
    pub error_code: Option<String>,
    /// `ttft_ms=<ms>`: delay before the first content (stream) or the whole response.
    pub ttft_ms: u64,
    /// `slow_times=N`: only the first N requests for the model string get `ttft_ms`.
    pub slow_times: Option<u64>,
    /// `slow_every=N`: every Nth request for the model string (the Nth, 2Nth, ...) waits
    /// `slow_ms` instead of `ttft_ms`.
    pub slow_every: Option<u64>,
    /// `slow_ms=<ms>`: the delay of the requests `slow_every` picks.
    pub slow_ms: u64,
    /// `keepalive_ms=<ms>`: SSE `: keep-alive` comments during the ttft wait (0 = none).
    pub keepalive_ms: u64,
    /// `chunks=<n>`: number of content chunks (at least 1).
    pub chunks: usize,
    /// `chunk_ms=<ms>`: gap between content chunks.
    pub chunk_ms: u64,
    /// `content=<text>`: the full assistant text.
    pub content: String,
    /// `json=valid|invalid|schema_violation|array`: replace the content with JSON text.
    pub json: Option<JsonMode>,
    /// `json_times=N`: only the first N requests get `json`; later ones get valid JSON.
    pub json_times: Option<u64>,
    /// `stall_after=<k>`: stop after k content chunks and hold the connection.
    pub stall_after: Option<usize>,
    /// `stall_times=N`: only the first N requests stall.
    pub stall_times: Option<u64>,
    /// `stall_rate=<0..1>`: only this fraction of requests, drawn at random, stall.
    pub stall_rate: Option<f64>,
    /// `drop_after=<k>`: abort the body after k content chunks.
    pub drop_after: Option<usize>,
    /// `drop_times=N`: only the first N requests are dropped.
    pub drop_times: Option<u64>,
    /// `garbage_after=<k>`: after k content chunks, one event whose data is not JSON (the
    /// stream then goes on).
    pub garbage_after: Option<usize>,
    /// `tool_call=<name>`: answer with a tool call to this function.
    pub tool_call: Option<String>,
    /// `args=<json text>`: the tool call's arguments string.
    pub args: String,
    /// `parallel_tools=<n>`: number of identical tool calls (at least 1).
    pub parallel_tools: usize,
    /// `error_event=<type>`: Anthropic streams only: an `event: error` of this type right
    /// after the first content delta, which ends the stream.
    pub error_event: Option<String>,
    /// `refuse_prefill=true`: a request ending with an assistant message (a prefill) is
    /// answered 400, as models that do not take prefills answer.
    pub refuse_prefill: bool,
    /// `pings=<n>`: Anthropic streams only: `ping` events before the first content delta,
    /// spread over the `ttft_ms` wait.
    pub pings: usize,
}

impl Default for Script {
    fn default() -> Self {
        Script {
            fail: None,
            times: None,
            fail_rate: None,
            retry_after: None,
            error_code: None,
            ttft_ms: 0,
            slow_times: None,
            slow_every: None,
            slow_ms: 0,
            keepalive_ms: 0,
            chunks: DEFAULT_CHUNKS,
            chunk_ms: 0,
            content: DEFAULT_CONTENT.to_owned(),
            json: None,
            json_times: None,
            stall_after: None,
            stall_times: None,
            stall_rate: None,
            drop_after: None,
            drop_times: None,
            garbage_after: None,
            tool_call: None,
            args: DEFAULT_ARGS.to_owned(),
            parallel_tools: 1,
            error_event: None,
            refuse_prefill: false,
            pings: DEFAULT_PINGS,
        }
    }
}

impl FromStr for Script {
    type Err = ScriptError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Script::parse(s)
    }
}

impl Script {
    /// Parses `fail=503&times=2` (a leading `?` is allowed) over [`Script::default`].
    pub fn parse(s: &str) -> Result<Self, ScriptError> {
        let mut script = Script::default();
        script.apply(s)?;
        Ok(script)
    }

    /// Splits a model string into the echoed model name and its script suffix:
    /// `"gpt?fail=503"` → `("gpt", Some("fail=503"))`.
    pub fn split_model(model: &str) -> (&str, Option<&str>) {
        match model.split_once('?') {
            Some((name, suffix)) => (name, Some(suffix)),
            None => (model, None),
        }
    }

    /// Overlays the directives of `s` onto `self`; later directives win.
    /// Values (and names) are percent-decoded. Empty segments are ignored.
    pub fn apply(&mut self, s: &str) -> Result<(), ScriptError> {
        let s = s.strip_prefix('?').unwrap_or(s);
        for segment in s.split('&').filter(|seg| !seg.is_empty()) {
            let (raw_name, raw_value) = segment.split_once('=').unwrap_or((segment, ""));
            let name = decode(raw_name, raw_name)?;
            let value = decode(&name, raw_value)?;
            self.set(&name, value)?;
        }
        Ok(())
    }

    fn set(&mut self, name: &str, value: String) -> Result<(), ScriptError> {
        match name {
            "fail" => {
                let status: u16 = number(name, &value)?;
                if !(400..=599).contains(&status) {
                    return Err(invalid(
                        name,
                        value,
                        "expected an HTTP error status 400-599",
                    ));
                }
                self.fail = Some(status);
            }
            "times" => self.times = Some(number(name, &value)?),
            "fail_rate" => self.fail_rate = Some(fraction(name, &value)?),
            "retry_after" => self.retry_after = Some(number(name, &value)?),
            "error_code" => {
                if value.is_empty() {
                    return Err(invalid(name, value, "expected an error code"));
                }
                self.error_code = Some(value);
            }
            "ttft_ms" => self.ttft_ms = number(name, &value)?,
            "slow_times" => self.slow_times = Some(number(name, &value)?),
            "slow_every" => match number(name, &value)? {
                0 => return Err(invalid(name, value, "must be at least 1")),
                n => self.slow_every = Some(n),
            },
            "slow_ms" => self.slow_ms = number(name, &value)?,
            "keepalive_ms" => self.keepalive_ms = number(name, &value)?,
            "chunks" => {
                let n: usize = number(name, &value)?;
                if n == 0 {
                    return Err(invalid(name, value, "expected at least 1"));
                }
                self.chunks = n;
            }
            "chunk_ms" => self.chunk_ms = number(name, &value)?,
            "content" => self.content = value,
            "json" => {
                self.json = Some(match value.as_str() {
                    "valid" => JsonMode::Valid,
                    "invalid" => JsonMode::Invalid,
                    "schema_violation" => JsonMode::SchemaViolation,
                    "array" => JsonMode::Array,
                    _ => {
                        return Err(invalid(
                            name,
                            value,
                            "expected valid|invalid|schema_violation|array",
                        ));
                    }
                })
            }
            "json_times" => self.json_times = Some(number(name, &value)?),
            "stall_after" => self.stall_after = Some(number(name, &value)?),
            "stall_times" => self.stall_times = Some(number(name, &value)?),
            "stall_rate" => self.stall_rate = Some(fraction(name, &value)?),
            "drop_after" => self.drop_after = Some(number(name, &value)?),
            "drop_times" => self.drop_times = Some(number(name, &value)?),
            "garbage_after" => self.garbage_after = Some(number(name, &value)?),
            "tool_call" => {
                if value.is_empty() {
                    return Err(invalid(name, value, "expected a function name"));
                }
                self.tool_call = Some(value);
            }
            "args" => self.args = value,
            "parallel_tools" => {
                let n: usize = number(name, &value)?;
                if n == 0 {
                    return Err(invalid(name, value, "expected at least 1"));
                }
                self.parallel_tools = n;
            }
            "error_event" => {
                if value.is_empty() {
                    return Err(invalid(name, value, "expected an Anthropic error type"));
                }
                self.error_event = Some(value);
            }
            "pings" => self.pings = number(name, &value)?,
            "refuse_prefill" => {
                self.refuse_prefill = match value.as_str() {
                    "" | "true" | "1" => true,
                    "false" | "0" => false,
                    _ => return Err(invalid(name, value, "expected true or false")),
                }
            }
            _ => return Err(ScriptError::UnknownDirective(name.to_owned())),
        }
        Ok(())
    }

    /// Whether any `*_times` gate is set, i.e. whether the per-model-string
    /// request counter must be consulted for this script.
    pub fn is_gated(&self) -> bool {
        self.fail.is_some() && self.times.is_some()
            || self.slow_times.is_some()
            || self.slow_every.is_some()
            || self.json_times.is_some()
            || self.stall_times.is_some()
            || self.drop_times.is_some()
    }

    /// Resolves the gates for the `ordinal`-th (1-based) request of this model
    /// string. Ungated scripts ignore `ordinal`. `*_rate` gates draw at random.
    pub(crate) fn plan(&self, ordinal: u64) -> Plan {
        let open = |limit: Option<u64>| limit.is_none_or(|n| ordinal <= n);
        let drawn = |rate: Option<f64>| rate.is_none_or(|p| fastrand::f64() < p);
        let fail = self
            .fail
            .filter(|_| open(self.times) && drawn(self.fail_rate));
        let ttft_ms = if self.slow_every.is_some_and(|n| ordinal.is_multiple_of(n)) {
            self.slow_ms
        } else if open(self.slow_times) {
            self.ttft_ms
        } else {
            0
        };
        let answer = match &self.tool_call {
            Some(name) => Answer::Tools {
                name: name.clone(),
                args: self.args.clone(),
                count: self.parallel_tools,
            },
            None => Answer::Text(match self.json {
                Some(mode) if open(self.json_times) => mode.text().to_owned(),
                Some(_) => JsonMode::Valid.text().to_owned(),
                None => self.content.clone(),
            }),
        };
        Plan {
            fail,
            retry_after: self.retry_after,
            error_code: self.error_code.clone(),
            ttft: Duration::from_millis(ttft_ms),
            keepalive: (self.keepalive_ms > 0).then(|| Duration::from_millis(self.keepalive_ms)),
            chunks: self.chunks,
            chunk_gap: Duration::from_millis(self.chunk_ms),
            answer,
            stall_after: self
                .stall_after
                .filter(|_| open(self.stall_times) && drawn(self.stall_rate)),
            drop_after: self.drop_after.filter(|_| open(self.drop_times)),
            garbage_after: self.garbage_after,
            error_event: self.error_event.clone(),
            refuse_prefill: self.refuse_prefill,
            pings: self.pings,
        }
    }
}

/// A script with its gates resolved for one request.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub fail: Option<u16>,
    pub retry_after: Option<u64>,
    pub error_code: Option<String>,
    pub ttft: Duration,
    pub keepalive: Option<Duration>,
    pub chunks: usize,
    pub chunk_gap: Duration,
    pub answer: Answer,
    pub stall_after: Option<usize>,
    pub drop_after: Option<usize>,
    pub garbage_after: Option<usize>,
    pub error_event: Option<String>,
    pub refuse_prefill: bool,
    pub pings: usize,
}

fn decode(name: &str, raw: &str) -> Result<String, ScriptError> {
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map(|v| v.into_owned())
        .map_err(|_| invalid(name, raw.to_owned(), "not UTF-8 after percent-decoding"))
}

fn number<T: FromStr>(name: &str, value: &str) -> Result<T, ScriptError> {
    value
        .parse()
        .map_err(|_| invalid(name, value.to_owned(), "expected a non-negative integer"))
}

fn fraction(name: &str, value: &str) -> Result<f64, ScriptError> {
    match value.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(invalid(
            name,
            value.to_owned(),
            "expected a fraction between 0 and 1",
        )),
    }
}

fn invalid(name: &str, value: String, reason: &'static str) -> ScriptError {
    ScriptError::InvalidValue {
        name: name.to_owned(),
        value,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_every_picks_every_nth_request() {
        let script = Script::parse("ttft_ms=20&slow_every=20&slow_ms=3000").unwrap();
        assert!(script.is_gated());
        let waits: Vec<u128> = (1..=40).map(|n| script.plan(n).ttft.as_millis()).collect();
        for (i, wait) in waits.iter().enumerate() {
            let expected = if (i + 1) % 20 == 0 { 3000 } else { 20 };
            assert_eq!(*wait, expected, "request {}", i + 1);
        }
        assert!(Script::parse("slow_every=0").is_err());
    }

    #[test]
    fn parses_and_layers() {
        let mut s: Script = "fail=503&times=2&content=caf%C3%A9%20ok".parse().unwrap();
        assert_eq!(s.fail, Some(503));
        assert_eq!(s.times, Some(2));
        assert_eq!(s.content, "café ok");
        s.apply("?fail=429").unwrap();
        assert_eq!(s.fail, Some(429));
        assert_eq!(s.times, Some(2));
    }

    #[test]
    fn rejects_unknown_and_bad_values() {
        assert_eq!(
            Script::parse("fial=503"),
            Err(ScriptError::UnknownDirective("fial".into()))
        );
        assert!(Script::parse("fail=200").is_err());
        assert!(Script::parse("chunks=x").is_err());
        assert!(Script::parse("json=maybe").is_err());
        assert!(Script::parse("error_event=").is_err());
        assert!(Script::parse("pings=-1").is_err());
        let s = Script::parse("error_event=overloaded_error&pings=3").unwrap();
        assert_eq!(s.error_event.as_deref(), Some("overloaded_error"));
        assert_eq!(s.pings, 3);
    }

    #[test]
    fn gates_by_ordinal() {
        let s = Script::parse("fail=503&times=2&json=invalid&json_times=3").unwrap();
        assert!(s.is_gated());
        assert_eq!(s.plan(2).fail, Some(503));
        assert_eq!(s.plan(3).fail, None);
        assert!(matches!(s.plan(3).answer, Answer::Text(ref t) if t == JsonMode::Invalid.text()));
        assert!(matches!(s.plan(4).answer, Answer::Text(ref t) if t == JsonMode::Valid.text()));
        assert!(!Script::parse("fail=500").unwrap().is_gated());
    }

    #[test]
    fn rates_gate_at_random() {
        assert!(Script::parse("fail_rate=1.5").is_err());
        assert!(Script::parse("stall_rate=-0.1").is_err());
        assert!(Script::parse("fail_rate=x").is_err());
        let s = Script::parse("fail=503&fail_rate=0.05&stall_after=0&stall_rate=0.1").unwrap();
        assert_eq!(s.fail_rate, Some(0.05));
        assert!(!s.is_gated(), "rates need no per-model counter");
        let n = 20_000;
        let plans: Vec<Plan> = (1..=n).map(|i| s.plan(i)).collect();
        let failed = plans.iter().filter(|p| p.fail == Some(503)).count();
        let stalled = plans.iter().filter(|p| p.stall_after == Some(0)).count();
        // Expected 1,000 and 2,000; the bounds are more than 9 standard deviations wide.
        assert!((700..=1300).contains(&failed), "{failed}");
        assert!((1600..=2400).contains(&stalled), "{stalled}");
        let never = Script::parse("fail=503&fail_rate=0").unwrap();
        assert!((1..=1000).all(|i| never.plan(i).fail.is_none()));
        let always = Script::parse("fail=500&fail_rate=1&times=3").unwrap();
        assert_eq!(always.plan(3).fail, Some(500));
        assert_eq!(always.plan(4).fail, None, "times still applies");
    }

    #[test]
    fn splits_model() {
        assert_eq!(Script::split_model("gpt?x=1"), ("gpt", Some("x=1")));
        assert_eq!(Script::split_model("gpt"), ("gpt", None));
    }
}
