//! The gateway served in-process on 127.0.0.1:0, with records kept in a [`MemorySink`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use switchboard_config::Config;
use switchboard_gateway::AppState;
use switchboard_logs_api::LogsApi;
use switchboard_record::LogSink;
use switchboard_sink::LogPipeline;
use tokio::sync::oneshot;

use crate::client::Client;
use crate::records::MemorySink;

/// A running gateway; stops when dropped.
pub struct Gateway {
    addr: SocketAddr,
    /// Every record the gateway wrote (empty with [`Gateway::start_logging`]).
    pub records: MemorySink,
    stop: Option<oneshot::Sender<()>>,
    done: Option<oneshot::Receiver<()>>,
    pipeline: Option<LogPipeline>,
}

impl Gateway {
    /// Serves `config_toml` (the `[server] listen` key is ignored: it binds a free port),
    /// keeping records in memory.
    pub async fn start(config_toml: &str) -> Gateway {
        let records = MemorySink::default();
        Gateway::serve(parse(config_toml), Arc::new(records.clone()), records, None).await
    }

    /// Serves `config_toml` with the real log pipeline of its `[logging]` section.
    pub async fn start_logging(config_toml: &str) -> Gateway {
        let config = parse(config_toml);
        switchboard_gateway::telemetry::metrics::install();
        let pipeline = LogPipeline::start(&config.logging).expect("log pipeline starts");
        let sink = pipeline.sink();
        Gateway::serve(config, sink, MemorySink::default(), Some(pipeline)).await
    }

    async fn serve(
        config: Config,
        sink: Arc<dyn LogSink>,
        records: MemorySink,
        pipeline: Option<LogPipeline>,
    ) -> Gateway {
        // As `switchboard serve` builds it: the proxy with the logs API mounted.
        let api = LogsApi::new(
            &config.logging.store,
            sink.clone(),
            config.server.max_body_bytes,
        )
        .expect("the logs API starts");
        let state = AppState::new(config, sink)
            .expect("providers build")
            .with_api(Arc::new(api));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a free port");
        let addr = listener.local_addr().expect("local addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let (finished, done) = oneshot::channel::<()>();
        tokio::spawn(async move {
            switchboard_gateway::server::serve(
                listener,
                Arc::new(state),
                async move {
                    let _ = stopped.await;
                },
                Duration::from_secs(5),
            )
            .await;
            let _ = finished.send(());
        });
        Gateway {
            addr,
            records,
            stop: Some(stop),
            done: Some(done),
            pipeline,
        }
    }

    /// Stops serving (in-flight requests finish) and flushes the log pipeline, as SIGTERM does.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(done) = self.done.take() {
            let _ = done.await;
        }
        if let Some(pipeline) = self.pipeline.take() {
            tokio::task::spawn_blocking(move || pipeline.shutdown(Duration::from_secs(10)))
                .await
                .expect("pipeline shutdown");
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
        if let Some(pipeline) = self.pipeline.take() {
            pipeline.shutdown(Duration::from_secs(2));
        }
    }
}

fn parse(config_toml: &str) -> Config {
    let env = |name: &str| std::env::var(name).ok();
    match Config::from_toml_str(config_toml, "test.toml", &env) {
        Ok(config) => config,
        Err(e) => panic!("test config is invalid:\n{e}\n---\n{config_toml}"),
    }
}
