//! Load-testing tools for Switchboard: a scriptable mock OpenAI-compatible
//! provider, usable in-process ([`MockProvider`]) or as the `mock-provider`
//! binary, and the load generator behind the `loadgen` binary ([`load`]). It also speaks Anthropic's Messages API on `POST .../v1/messages`
//! (point an Anthropic client at [`MockHandle::anthropic_base_url`]): same
//! directives, Anthropic's bodies, events and error shapes.
//!
//! # Script directives
//!
//! A request's behaviour is the server's default [`Script`], overlaid by the
//! suffix of its `model` field after `?`, overlaid by the `x-mock-script`
//! header (`key=value&key=value`, values percent-decoded). Unknown directives
//! and bad values are answered with 400.
//!
//! | directive | effect |
//! | --- | --- |
//! | `fail=<400..599>` | answer that status with an OpenAI (or Anthropic) error body |
//! | `times=N` | only the first N requests of this model string fail |
//! | `fail_rate=<0..1>` | only this fraction of requests, drawn at random, fail (with `fail`) |
//! | `retry_after=<secs>` | `Retry-After` on failure responses |
//! | `error_code=<code>` | the failure's error code (`context_length_exceeded`, `content_filter`, ...), with the provider's own message for it |
//! | `ttft_ms=<ms>` | stream: delay before first content; non-stream: delay the response |
//! | `slow_times=N` | only the first N requests get `ttft_ms` |
//! | `slow_every=N` | every Nth request waits `slow_ms` instead of `ttft_ms` |
//! | `slow_ms=<ms>` | the delay of the requests `slow_every` picks |
//! | `keepalive_ms=<ms>` | stream: `: keep-alive` SSE comments during the ttft wait |
//! | `chunks=<n>` | content chunks (default 3) |
//! | `chunk_ms=<ms>` | gap between content chunks |
//! | `content=<text>` | the assistant text (default `Hello from mock`) |
//! | `json=valid\|invalid\|schema_violation\|array` | JSON text as content |
//! | `json_times=N` | only the first N requests get `json`, later ones valid JSON |
//! | `stall_after=<k>` | stream: hold after k chunks (60 s); non-stream: answer after 60 s |
//! | `stall_times=N` | only the first N requests stall |
//! | `stall_rate=<0..1>` | only this fraction of requests, drawn at random, stall (with `stall_after`) |
//! | `drop_after=<k>` | stream: cut the body after k chunks; non-stream: cut the body halfway |
//! | `drop_times=N` | only the first N requests are cut |
//! | `garbage_after=<k>` | stream: after k chunks, one event whose data is not JSON, then the rest |
//! | `tool_call=<name>` | answer with a tool call to `<name>` |
//! | `args=<json>` | the tool call's arguments (default `{"city":"Paris"}`) |
//! | `parallel_tools=<n>` | n identical tool calls |
//! | `error_event=<type>` | Anthropic stream: an `error` event of that type after the first content delta, then the end |
//! | `refuse_prefill=true` | a request ending with an assistant message (a prefill) gets a 400 |
//! | `pings=<n>` | Anthropic stream: n `ping` events (default 1) spread over the ttft wait |
//!
//! A request that ends with an assistant message (a prefill) is continued: when the scripted
//! text begins with that message's text, the answer is the rest of it, as a model picking up
//! mid-sentence would answer.
//!
//! On the Anthropic endpoint `chunks`, `chunk_ms`, `stall_after` and
//! `drop_after` count content deltas (`text_delta` / `input_json_delta`).
//!
//! "The first N requests" are counted per full model string (including the
//! suffix, plus the `x-mock-script` header if any), in one counter shared by
//! every gate.

#![warn(missing_docs)]

pub mod load;
pub mod mock;

pub use mock::{
    DEFAULT_ARGS, DEFAULT_CHUNKS, DEFAULT_CONTENT, JsonMode, MockHandle, MockProvider,
    ReceivedRequest, SCRIPT_HEADER, Script, ScriptError,
};
