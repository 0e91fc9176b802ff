//! The accept loop: one task per connection (HTTP/1.1 or h2c), all owned by
//! the server task so that stopping it closes every connection.

use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

use crate::mock::router::{Shared, handle};

/// Back-off after a failed `accept` (e.g. out of file descriptors).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(20);

/// Serves `listener` until `stop` fires or its sender is dropped. Returning
/// drops the connection set, which aborts every open connection.
pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stop: oneshot::Receiver<()>,
) {
    let builder = auto::Builder::new(TokioExecutor::new());
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stop => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((socket, _peer)) => {
                    // Best effort: a socket that refuses NODELAY still works.
                    let _ = socket.set_nodelay(true);
                    shared.journal.connection_accepted();
                    let builder = builder.clone();
                    let shared = Arc::clone(&shared);
                    connections.spawn(async move {
                        let service = service_fn(move |req| handle(Arc::clone(&shared), req));
                        if let Err(e) = builder.serve_connection(TokioIo::new(socket), service).await {
                            tracing::debug!(error = %e, "mock connection ended with an error");
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "mock accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
        }
    }
}
