//! The listener: accepts connections (TCP_NODELAY on, so a streamed head and its first chunk are
//! never held back by Nagle), serves HTTP/1.1 and HTTP/2 through the tower stack, and shuts down
//! gracefully.
//!
//! Layers, outermost first: the connection's [`PeerAddr`] put in each request's extensions,
//! [`Guard::ClientKeys`] (client keys on the OpenAI routes), [`Guard::AdminKey`] (the admin
//! key, or loopback only, on `/api/*`), then the router ([`crate::routes::dispatch`]). Body limits and
//! request records live in the chat handler, where the record of a rejected request can still be
//! written.

pub mod guard;

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceBuilder;

use crate::server::guard::{Guard, PeerAddr};
use crate::state::AppState;

/// Serves on `listener` until `shutdown` resolves, then lets in-flight requests finish for up
/// to `grace`. Returns true when every connection finished in time.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> bool {
    let builder = auto::Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    let client_keys = Guard::client_keys(&state.config.server.api_keys);
    let admin_key = Guard::admin_key(state.config.server.admin_key.as_deref());
    tokio::pin!(shutdown);
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
            () = &mut shutdown => break,
        };
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!("cannot set TCP_NODELAY: {e}");
        }
        let state = state.clone();
        let service = ServiceBuilder::new()
            .map_request(move |mut request: http::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(PeerAddr(peer));
                request
            })
            .layer(client_keys.clone())
            .layer(admin_key.clone())
            .service(tower::service_fn(move |request| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(crate::routes::dispatch(state, request).await) }
            }));
        let connection = builder
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("connection ended with an error: {e}");
            }
        });
    }
    drop(listener);
    tracing::info!(
        "shutting down: no new connections; waiting up to {grace:?} for in-flight requests"
    );
    tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_ok()
}
