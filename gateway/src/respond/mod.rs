//! Answers the client: runs the engine over the route, then turns the chain's end into a
//! response (a whole body, a stream handed to the [`relay`], or an error), with the
//! `x-switchboard-*` headers.

pub mod continuation;
pub mod relay;

use http::{HeaderValue, Response, StatusCode};
use std::sync::Arc;

use switchboard_config::{MidStream, StreamJson};
use tokio::time::Instant;

use crate::http::body::{self, ResponseBody};
use crate::http::error::GatewayError;
use crate::http::header_names;
use crate::live::Live;
use crate::request::chat_request::ChatRequest;
use crate::request::routing::Route;
use crate::request_log::{RequestLog, Served};
use switchboard_record::RequestStatus;

use crate::engine::attempt::{self, AttemptContext, Committed};
use crate::engine::fallback::{self, Chain, ChainEnd, Failure};
use crate::engine::json_check::JsonCheck;
use continuation::{ChunkIdentity, Continuation};
use relay::Relay;

/// How many SSE frames may wait for a slow client before the relay pauses.
const STREAM_BUFFER: usize = 64;

/// Serves a chat request over `route`, writing its record to `log`.
pub async fn serve(
    live: &Arc<Live>,
    route: &Arc<Route>,
    request: ChatRequest,
    mut log: RequestLog,
) -> Response<ResponseBody> {
    let mut warnings = Vec::new();
    // The checks run only under `validate_json`; without it their schemas are not compiled.
    let check = if route.policy.validate_json {
        JsonCheck::from_request(&request.body.fields, &mut warnings)
    } else {
        JsonCheck::none()
    };
    log.warnings.append(&mut warnings);
    let budget_end = Instant::from_std(log.started()) + route.policy.budget();
    let ChatRequest {
        body,
        stream,
        include_usage,
        ..
    } = request;
    let body = &*log.body.insert(body);
    let ctx = AttemptContext {
        body,
        policy: &route.policy,
        budget_end,
        check: &check,
        redactor: &live.redactor,
        trace: log.trace.as_ref(),
    };
    if stream {
        let buffer = route.policy.stream_json == StreamJson::Buffer
            && route.policy.validate_json
            && check.json_mode();
        let chain = Chain {
            route,
            labels: &log.labels,
            budget_end,
            stream: true,
        };
        // Each attempt is boxed where it starts: inline, the chain's future (and the hedge
        // race's, which holds two) would carry the whole upstream call, and every request
        // would copy all of it into the connection's boxed future.
        let end = fallback::run(chain, &mut log.chain, |i, start| {
            Box::pin(ctx.stream(&route.targets[i], start, buffer))
        })
        .await;
        let continuation = (route.policy.mid_stream == MidStream::Continue).then(|| Continuing {
            live: live.clone(),
            route: route.clone(),
            budget_end,
        });
        stream_response(route, end, log, include_usage, check, continuation)
    } else {
        let chain = Chain {
            route,
            labels: &log.labels,
            budget_end,
            stream: false,
        };
        let end = fallback::run(chain, &mut log.chain, |i, start| {
            Box::pin(ctx.complete(&route.targets[i], start))
        })
        .await;
        complete_response(route, end, log)
    }
}

/// The target at `index` as the record names it; its series become the request's.
fn served(route: &Route, index: usize, log: &mut RequestLog) -> Served {
    log.metrics = route.targets[index].metrics.labelled(&log.labels);
    let target = &route.targets[index].target;
    Served {
        provider: target.provider.clone(),
        model: target.model.clone(),
        input_cost_per_mtok: target.input_cost_per_mtok,
        output_cost_per_mtok: target.output_cost_per_mtok,
    }
}

/// Names, in the record's warnings, the request fields the serving target's provider left out
/// because its API has no equivalent (none for OpenAI-compatible providers).
fn warn_dropped_fields(route: &Route, index: usize, log: &mut RequestLog) {
    let (Some(target), Some(body)) = (route.targets.get(index), log.body.as_ref()) else {
        return;
    };
    let dropped = target.provider.dropped_fields(&body.fields);
    if !dropped.is_empty() {
        log.warnings.push(format!(
            "provider {} ignores: {}",
            target.target.provider,
            dropped.join(", ")
        ));
    }
}

/// What to serve from a chain's end: the winner, or, when every attempt failed a check
/// (invalid JSON), the last answer, flagged by the chain's summary in the record's warnings.
/// `Err` (the last failure, its target, the summary) when there is nothing to serve.
fn to_serve<T>(
    end: ChainEnd<T>,
    log: &mut RequestLog,
) -> Result<(T, usize), (Failure<T>, usize, String)> {
    match end {
        ChainEnd::Won {
            value,
            target_index,
        } => Ok((value, target_index)),
        ChainEnd::Lost {
            last: Failure {
                payload: Some(value),
                ..
            },
            target_index,
            summary,
        } => {
            log.warnings.push(summary);
            Ok((value, target_index))
        }
        ChainEnd::Lost {
            last,
            target_index,
            summary,
        } => Err((last, target_index, summary)),
    }
}

fn complete_response(
    route: &Route,
    end: ChainEnd<attempt::Answer>,
    mut log: RequestLog,
) -> Response<ResponseBody> {
    let (answer, index) = match to_serve(end, &mut log) {
        Ok(serve) => serve,
        Err((last, index, summary)) => return failed(route, log, &last, index, summary),
    };
    warn_dropped_fields(route, index, &mut log);
    let mut served = served(route, index, &mut log);
    if let Some(model) = answer.completion.served_model() {
        served.model = model.to_owned();
    }
    log.usage = answer.completion.usage();
    log.json_valid = answer.json_valid;
    if log.trace.is_some() {
        log.response_id = answer.completion.id().map(str::to_owned);
        log.finish_reasons = answer.completion.finish_reasons().to_vec();
    }
    // The client gets the provider's bytes as they came; the record takes the parsed message.
    let mut completion = answer.completion;
    log.output = completion.take_message();
    let body = completion.body;
    let mut response = Response::new(body::full(body));
    set_headers(&mut response, &log, &served, index, answer.json_valid);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    log.served = Some(served);
    log.finish(RequestStatus::Success, 200, None);
    response
}

/// A stream chunk's `id`.
fn chunk_id(data: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Id {
        id: Option<String>,
    }
    serde_json::from_slice::<Id>(data).ok()?.id
}

/// What a stream needs to continue on another target (`mid_stream = "continue"`).
struct Continuing {
    live: Arc<Live>,
    route: Arc<Route>,
    budget_end: Instant,
}

fn stream_response(
    route: &Route,
    end: ChainEnd<Committed>,
    mut log: RequestLog,
    include_usage: bool,
    check: JsonCheck,
    continuing: Option<Continuing>,
) -> Response<ResponseBody> {
    let (committed, index) = match to_serve(end, &mut log) {
        Ok(serve) => serve,
        Err((last, index, summary)) => return failed(route, log, &last, index, summary),
    };
    warn_dropped_fields(route, index, &mut log);
    let served = served(route, index, &mut log);
    if log.trace.is_some() {
        log.response_id = committed.held.first().and_then(|c| chunk_id(&c.data));
    }
    if let Some(first) = committed.clock.first_content {
        let ttft = first.into_std().saturating_duration_since(log.started());
        log.time_to_first_token = Some(ttft);
        log.metrics.first_token(ttft);
    }
    let (tx, body) = body::channel(STREAM_BUFFER);
    let mut response = Response::new(body);
    set_headers(&mut response, &log, &served, index, committed.json_valid);
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache"),
    );
    log.served = Some(served);
    log.status_sent = Some(200);
    let continuation = continuing.and_then(|c| {
        let identity = ChunkIdentity::from_chunk(&committed.held.first()?.data)?;
        let mut tried = vec![false; c.route.targets.len()];
        tried[index] = true;
        Some(Continuation {
            tried,
            live: c.live,
            route: c.route,
            serving: index,
            budget_end: c.budget_end,
            identity,
        })
    });
    let relay = Relay {
        committed,
        tx,
        log,
        include_usage,
        check,
        validate_json: route.policy.validate_json,
        continuation,
    };
    // Boxed where it is built: the relay's future is kilobytes, and tokio moves a task's
    // future three times while spawning it (~6,000 instructions of memcpy per stream).
    tokio::spawn(Box::pin(relay.run()));
    response
}

fn failed<T>(
    route: &Route,
    mut log: RequestLog,
    last: &Failure<T>,
    index: usize,
    summary: String,
) -> Response<ResponseBody> {
    let kind = last.kind;
    // A request no target could express is the client's problem: 400, not a gateway error.
    let upstream_status = if last.untranslatable {
        Some(400)
    } else {
        last.status
    };
    let status = match upstream_status.and_then(|s| StatusCode::from_u16(s).ok()) {
        Some(status) if status.as_u16() >= 400 => status,
        _ if kind.is_timeout() => StatusCode::GATEWAY_TIMEOUT,
        _ => StatusCode::BAD_GATEWAY,
    };
    let served = served(route, index, &mut log);
    let error = GatewayError::Upstream {
        status,
        kind,
        message: summary,
    };
    let mut response = error.response();
    set_headers(&mut response, &log, &served, index, None);
    log.served = Some(served);
    log.finish(
        RequestStatus::Error,
        status.as_u16(),
        Some(error.to_string()),
    );
    response
}

fn set_headers(
    response: &mut Response<ResponseBody>,
    log: &RequestLog,
    served: &Served,
    index: usize,
    json_valid: Option<bool>,
) {
    let headers = response.headers_mut();
    let text =
        |s: &str| HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static("invalid"));
    headers.insert(header_names::REQUEST_ID, text(&log.id));
    headers.insert(header_names::PROVIDER, text(&served.provider));
    headers.insert(header_names::MODEL, text(&served.model));
    headers.insert(
        header_names::ATTEMPTS,
        HeaderValue::from(log.chain.attempts.len()),
    );
    // How far down the order the chain went (the config index, unless weighted).
    let position = log
        .chain
        .attempts
        .last()
        .map_or(index, |noted| noted.position);
    headers.insert(header_names::FALLBACK_INDEX, HeaderValue::from(position));
    if log.chain.hedged {
        headers.insert(header_names::HEDGED, HeaderValue::from_static("true"));
    }
    if let Some(valid) = json_valid {
        headers.insert(
            header_names::JSON_VALID,
            HeaderValue::from_static(if valid { "true" } else { "false" }),
        );
    }
}
