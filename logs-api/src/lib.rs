//! The logs API (SPEC section 7), under `/api/`: listing, reading, threads, traces, scores,
//! export and ingest, over the store of `logging.store`. The binary mounts [`LogsApi`] into the
//! gateway's server, which has already checked the admin key (or loopback) by the time a request
//! arrives here. Everything here runs on the API's own runtime (one worker thread and its
//! blocking pool, see [`ApiRuntime`]), never on the proxy's: a big page or a million-row export
//! does not delay a live call (SPEC section 8). Store calls run on that runtime's blocking
//! threads through [`store_pool`].
//!
//! [`respan_log`] reads records sent in Respan's create-log shape, and `respan_api` serves
//! Respan's own paths under `/api/request-logs/`; [`export_format`] writes JSONL and CSV for the
//! HTTP export and for `switchboard export`.

mod error;
pub mod export_format;
mod respan_api;
pub mod respan_log;
mod routes;
pub mod store_pool;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use http::{Method, Request, Response};
use hyper::body::Incoming;
use serde_json::Value;
use switchboard_gateway::GatewayError;
use switchboard_gateway::http::body::ResponseBody;
use switchboard_gateway::http::read_body::read_limited;
use switchboard_gateway::routes::Mount;
use switchboard_record::LogSink;

pub use error::ApiError;
use routes::{export, ingest, logs, scores, stats, threads, traces};
use store_pool::StorePool;

/// What an API handler answers.
type Reply = Result<Response<ResponseBody>, ApiError>;

/// The logs API: the store it reads, the sink ingested records go to, the runtime it runs on.
pub struct LogsApi {
    store: Arc<StorePool>,
    sink: Arc<dyn LogSink>,
    max_body_bytes: usize,
    runtime: ApiRuntime,
}

impl LogsApi {
    /// Serves the store at `store_url` (`logging.store`), sending ingested records to `sink`;
    /// request bodies are held to `max_body_bytes` (`server.max_body_bytes`). Starts the API's
    /// runtime.
    pub fn new(
        store_url: &str,
        sink: Arc<dyn LogSink>,
        max_body_bytes: usize,
    ) -> Result<LogsApi, ApiError> {
        Ok(LogsApi {
            store: Arc::new(StorePool::new(store_url)),
            sink,
            max_body_bytes,
            runtime: ApiRuntime::start()?,
        })
    }
}

impl Mount for LogsApi {
    fn call(
        self: Arc<Self>,
        request: Request<Incoming>,
    ) -> Pin<Box<dyn Future<Output = Response<ResponseBody>> + Send>> {
        let api = self.clone();
        let task = self
            .runtime
            .handle()
            .spawn(async move { dispatch(&api, request).await });
        Box::pin(async move {
            task.await.unwrap_or_else(|e| {
                ApiError::Internal(format!("the logs API task failed: {e}")).response()
            })
        })
    }
}

/// The logs API's own runtime: one worker thread (requests are few; the store work is on its
/// blocking threads), apart from the proxy's so it never takes a proxy thread's turn, and at
/// the lowest CPU priority, so that where they share a core (a one-CPU gateway) an export
/// gets what the proxy leaves.
struct ApiRuntime(Option<tokio::runtime::Runtime>);

impl ApiRuntime {
    fn start() -> Result<ApiRuntime, ApiError> {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(8)
            .thread_name("switchboard-logs-api")
            .on_thread_start(lowest_priority)
            .enable_all()
            .build()
            .map(|runtime| ApiRuntime(Some(runtime)))
            .map_err(|e| ApiError::Internal(format!("cannot start the logs API runtime: {e}")))
    }

    fn handle(&self) -> tokio::runtime::Handle {
        match &self.0 {
            Some(runtime) => runtime.handle().clone(),
            // Only `drop` takes the runtime out.
            None => tokio::runtime::Handle::current(),
        }
    }
}

/// Nice 19 for the calling thread only (Linux applies `setpriority` to one thread when given
/// its id). Lowering one's own priority needs no privilege; if it fails anyway the thread runs
/// at normal priority, which is only slower for the proxy, never wrong.
fn lowest_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid and setpriority take plain integers and touch no memory of ours.
        let done = unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            libc::setpriority(libc::PRIO_PROCESS, tid, 19)
        };
        if done != 0 {
            tracing::debug!("logs API thread keeps normal priority: setpriority failed");
        }
    }
}

impl Drop for ApiRuntime {
    fn drop(&mut self) {
        // Dropped from inside the proxy's runtime at shutdown, where a blocking drop panics.
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// Answers one request under `/api/`.
async fn dispatch(api: &LogsApi, request: Request<Incoming>) -> Response<ResponseBody> {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let reply = match segments(&path) {
        Ok(segments) => route(api, &method, &path, &segments, request).await,
        Err(e) => Err(e),
    };
    reply.unwrap_or_else(|e| e.response())
}

async fn route(
    api: &LogsApi,
    method: &Method,
    path: &str,
    segments: &[String],
    request: Request<Incoming>,
) -> Reply {
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    match (method, segments.as_slice()) {
        (&Method::GET, ["logs"]) => logs::list(api, &query_pairs(&request)).await,
        (&Method::POST, ["logs"]) => ingest::create(api, request).await,
        (&Method::GET, ["logs", id]) => logs::get(api, id).await,
        (&Method::POST, ["logs", id, "scores"]) => scores::put(api, id, request).await,
        (&Method::GET, ["threads", thread]) => threads::get(api, thread).await,
        (&Method::GET, ["traces", trace]) => traces::get(api, trace).await,
        (&Method::GET, ["export"]) => export::stream(api, &query_pairs(&request)).await,
        (&Method::GET, ["stats"]) => stats::get(api, &query_pairs(&request)).await,
        // Respan's API: its paths end in a slash (a last empty segment); without one too.
        (&Method::POST, ["request-logs"] | ["request-logs", ""]) => {
            respan_api::create(api, request).await
        }
        (&Method::POST, ["request-logs", "bulk"] | ["request-logs", "bulk", ""]) => {
            respan_api::bulk(api, request).await
        }
        (&Method::POST, ["request-logs", "list"] | ["request-logs", "list", ""]) => {
            let pairs = query_pairs(&request);
            respan_api::list(api, &pairs, request).await
        }
        (&Method::GET, ["request-logs", id] | ["request-logs", id, ""]) => {
            respan_api::get(api, id).await
        }
        _ => Err(ApiError::Request(GatewayError::NotFound {
            method: method.to_string(),
            path: path.to_owned(),
        })),
    }
}

/// The path after `/api/`, split on `/` and percent-decoded.
fn segments(path: &str) -> Result<Vec<String>, ApiError> {
    let rest = path.strip_prefix("/api/").unwrap_or("");
    rest.split('/')
        .map(|segment| {
            percent_encoding::percent_decode_str(segment)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| {
                    ApiError::InvalidRequest(format!(
                        "the path segment {segment:?} is not UTF-8 once decoded"
                    ))
                })
        })
        .collect()
}

/// The query string's pairs, decoded, in order.
fn query_pairs<B>(request: &Request<B>) -> Vec<(String, String)> {
    request
        .uri()
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default()
}

/// Reads a JSON request body of at most `server.max_body_bytes`.
async fn read_json(api: &LogsApi, request: Request<Incoming>) -> Result<Value, ApiError> {
    let bytes = read_limited(request.into_body(), api.max_body_bytes).await?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::InvalidRequest(format!("the body is not valid JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_queries_are_decoded() {
        assert_eq!(
            segments("/api/threads/call%2F7%20x").unwrap(),
            vec!["threads", "call/7 x"]
        );
        assert!(segments("/api/logs/%FF").is_err());
        let request = Request::builder()
            .uri("/api/logs?metadata.lang=es%20MX&limit=5&cursor=a%2Bb")
            .body(())
            .unwrap();
        assert_eq!(
            query_pairs(&request),
            vec![
                ("metadata.lang".to_owned(), "es MX".to_owned()),
                ("limit".to_owned(), "5".to_owned()),
                ("cursor".to_owned(), "a+b".to_owned()),
            ]
        );
    }
}
