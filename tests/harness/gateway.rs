//! The gateway served in-process on 127.0.0.1:0, with records kept in a [`MemorySink`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use switchboard_config::Config;
use switchboard_gateway::AppState;
use tokio::sync::oneshot;

use crate::client::Client;
use crate::records::MemorySink;

/// A running gateway; stops when dropped.
pub struct Gateway {
    addr: SocketAddr,
    /// Every record the gateway wrote.
    pub records: MemorySink,
    stop: Option<oneshot::Sender<()>>,
}

impl Gateway {
    /// Serves `config_toml` (the `[server] listen` key is ignored: it binds a free port).
    pub async fn start(config_toml: &str) -> Gateway {
        let env = |name: &str| std::env::var(name).ok();
        let config = match Config::from_toml_str(config_toml, "test.toml", &env) {
            Ok(config) => config,
            Err(e) => panic!("test config is invalid:\n{e}\n---\n{config_toml}"),
        };
        let records = MemorySink::default();
        let state = AppState::new(config, Arc::new(records.clone())).expect("providers build");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a free port");
        let addr = listener.local_addr().expect("local addr");
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(switchboard_gateway::server::serve(
            listener,
            Arc::new(state),
            async move {
                let _ = stopped.await;
            },
            Duration::from_secs(5),
        ));
        Gateway {
            addr,
            records,
            stop: Some(stop),
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A client for this gateway.
    pub fn client(&self) -> Client {
        Client::new(&self.url())
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
