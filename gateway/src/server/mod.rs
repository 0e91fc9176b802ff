//! The listener: accepts connections (TCP_NODELAY on, so a streamed head and its first chunk are
//! never held back by Nagle), serves HTTP/1.1 and HTTP/2 through the tower stack, enforces the
//! connection limits of SPEC section 8, and drains on shutdown.
//!
//! Layers, outermost first: the connection's [`PeerAddr`] put in each request's extensions and
//! its [`connection::InFlight`] mark, [`Guard::ClientKeys`] (client keys on the OpenAI routes),
//! [`Guard::AdminKey`] (the admin key, or loopback only, on `/api/*`), then the router
//! ([`crate::routes::dispatch`]). Body limits, the concurrency limit and request records live in
//! the chat handler, where the record of a rejected request can still be written.

pub mod connection;
pub mod guard;

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;
use tower::ServiceBuilder;

use crate::server::connection::{Watch, Watched, WatchedBody};
use crate::server::guard::{Guard, Keys, PeerAddr};
use crate::state::AppState;
use crate::telemetry::metrics;

/// Serves on `listener` until `shutdown` resolves. Then `/readyz` turns 503 at once, the
/// listener keeps accepting for `server.drain_delay_ms` and closes, and in-flight requests get
/// up to `grace` to finish. Returns true when every connection finished in time.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> bool {
    let max_connections = state.config.server.max_connections;
    let connections = Arc::new(Semaphore::new(max_connections));
    let (closing, closing_seen) = watch::channel(false);
    let drain_delay = Duration::from_millis(state.config.server.drain_delay_ms);
    let stack = Stack::new(&state);
    // The fleet's target overrides, kept in step from the start (ended with the runtime).
    if let Some(shared) = state.shared_overrides.clone() {
        tokio::spawn(shared.sync(state.targets.clone()));
    }
    tokio::pin!(shutdown);
    // Far away until shutdown: then the end of the drain delay.
    let drain_end = tokio::time::sleep(Duration::from_secs(365 * 24 * 3600));
    tokio::pin!(drain_end);
    let mut draining = false;
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment rather than spin.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown, if !draining => {
                draining = true;
                state.start_draining();
                tracing::info!("shutting down: /readyz answers 503; accepting for {drain_delay:?} more");
                drain_end.as_mut().reset(Instant::now() + drain_delay);
                continue;
            }
            () = &mut drain_end, if draining => break,
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            // Past server.max_connections: closed at once, without an answer.
            metrics::connection_rejected();
            drop(stream);
            continue;
        };
        stack.spawn(stream, peer, permit, closing_seen.clone());
    }
    drop(listener);
    let _ = closing.send(true);
    tracing::info!("listener closed; waiting up to {grace:?} for in-flight requests");
    // Every connection holds a permit until it ends: all of them back means all done.
    let all = u32::try_from(max_connections).unwrap_or(u32::MAX);
    tokio::time::timeout(grace, connections.acquire_many(all))
        .await
        .is_ok()
}

/// What every connection is served with.
struct Stack {
    builder: auto::Builder<TokioExecutor>,
    state: Arc<AppState>,
    client_keys: Guard,
    admin_key: Guard,
    header_timeout: Duration,
    idle_timeout: Duration,
}

impl Stack {
    fn new(state: &Arc<AppState>) -> Stack {
        let server = &state.config.server;
        Stack {
            builder: auto::Builder::new(TokioExecutor::new()),
            client_keys: Guard::client_keys(
                Keys::Live(state.live.clone()),
                Some(state.records.clone()),
            ),
            admin_key: Guard::admin_key(Keys::Live(state.live.clone())),
            header_timeout: Duration::from_millis(server.header_timeout_ms),
            idle_timeout: Duration::from_millis(server.idle_timeout_ms),
            state: state.clone(),
        }
    }

    /// Serves one connection on its own task until it ends, expires, or the server closes.
    fn spawn(
        &self,
        stream: TcpStream,
        peer: std::net::SocketAddr,
        permit: OwnedSemaphorePermit,
        mut closing: watch::Receiver<bool>,
    ) {
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!("cannot set TCP_NODELAY: {e}");
        }
        let watch = Watch::new(self.header_timeout, self.idle_timeout);
        let state = self.state.clone();
        let requests = watch.clone();
        let service = ServiceBuilder::new()
            .map_request(move |mut request: http::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(PeerAddr(peer));
                request
            })
            .layer(self.client_keys.clone())
            .layer(self.admin_key.clone())
            .service(tower::service_fn(move |request| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(crate::routes::dispatch(state, request).await) }
            }));
        let service = tower::service_fn(move |request| {
            let in_flight = requests.request();
            let mut service = service.clone();
            async move {
                use tower::Service;
                let response = service.call(request).await?;
                Ok::<_, Infallible>(response.map(|body| WatchedBody::new(body, in_flight)))
            }
        });
        let io = TokioIo::new(Watched::new(stream, watch.clone()));
        let connection = self
            .builder
            .serve_connection(io, TowerToHyperService::new(service))
            .into_owned();
        tokio::spawn(async move {
            let _permit = permit;
            tokio::pin!(connection);
            let mut shutting_down = false;
            loop {
                tokio::select! {
                    ended = connection.as_mut() => {
                        if let Err(e) = ended {
                            tracing::debug!("connection ended with an error: {e}");
                        }
                        return;
                    }
                    // Nothing is lost here: an expired connection has nothing in flight, or
                    // a client that stopped reading.
                    () = watch.expired() => return,
                    _ = closing.wait_for(|closed| *closed), if !shutting_down => {
                        shutting_down = true;
                        connection.as_mut().graceful_shutdown();
                    }
                }
            }
        });
    }
}
