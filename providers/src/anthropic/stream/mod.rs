//! An Anthropic Messages API event stream translated into OpenAI `chat.completion.chunk`s.
//!
//! `message_start` gives the role chunk, text deltas content chunks, `tool_use` blocks and their
//! `input_json_delta`s tool-call deltas, `message_delta` the finish chunk and `message_stop` a
//! usage chunk (always; the gateway drops it when the client did not ask for usage), after
//! which the stream ends. `ping`s and unknown events yield nothing.
//!
//! [`anthropic_sse`] drives the SSE body; the [`Translator`] in `translator` turns each event
//! (the structs in `events`) into chunks (the structs in `chunk_out`).

mod chunk_out;
mod events;
mod translator;

#[cfg(test)]
mod tests;

use bytes::Bytes;
use futures_util::StreamExt;
use switchboard_config::ErrorKind;

use crate::anthropic::response::unix_now;
use crate::chunk::StreamChunk;
use crate::error::ProviderError;
use crate::provider::ChunkStream;
use crate::sse_decode::sse_events;
use translator::Translator;

/// The retry kind of an Anthropic error `type` (from an `error` event or body):
/// `rate_limit_error` -> rate limited; `invalid_request_error`, `authentication_error`,
/// `permission_error`, `not_found_error`, `request_too_large` -> client error; anything else
/// (`overloaded_error`, `api_error`, unknown) -> server error.
pub fn error_kind(error_type: &str) -> ErrorKind {
    match error_type {
        "rate_limit_error" => ErrorKind::RateLimited,
        "invalid_request_error"
        | "authentication_error"
        | "permission_error"
        | "not_found_error"
        | "request_too_large" => ErrorKind::ClientError,
        _ => ErrorKind::ServerError,
    }
}

/// Decodes an Anthropic SSE body into OpenAI chunks. An `error` event fails the stream with
/// [`ProviderError::StreamError`], and an end (or break) before `message_stop` with
/// [`ProviderError::StreamCut`]; an event whose data cannot be read is yielded as a
/// [`StreamChunk::skipped`] marker.
pub fn anthropic_sse<S, E>(body: S, limit: usize) -> ChunkStream
where
    S: futures_util::Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: Into<ProviderError> + Send + 'static,
{
    struct State<T> {
        events: T,
        translator: Translator,
        done: bool,
    }
    let state = State {
        events: sse_events(Box::pin(body), limit),
        translator: Translator::new(unix_now()),
        done: false,
    };
    Box::pin(futures_util::stream::unfold(
        state,
        |mut state| async move {
            loop {
                if let Some(chunk) = state.translator.pending.pop_front() {
                    return Some((Ok(chunk), state));
                }
                if state.done || state.translator.stopped {
                    return None;
                }
                let event = match state.events.next().await {
                    Some(Ok(event)) => event,
                    None => {
                        state.done = true;
                        return Some((Err(ProviderError::closed_before("message_stop")), state));
                    }
                    Some(Err(e)) => {
                        state.done = true;
                        return Some((Err(e.into()), state));
                    }
                };
                let Ok(data) = std::str::from_utf8(&event.data) else {
                    let why = format!("the data of event `{}` is not UTF-8", event.name());
                    return Some((Ok(StreamChunk::skipped(why)), state));
                };
                match state.translator.event(event.name(), data) {
                    Ok(()) => {}
                    // One unreadable event does not end a healthy stream (SPEC 10.1).
                    Err(ProviderError::UnreadableEvent { message }) => {
                        return Some((Ok(StreamChunk::skipped(message)), state));
                    }
                    Err(err) => {
                        state.done = true;
                        return Some((Err(err), state));
                    }
                }
            }
        },
    ))
}
