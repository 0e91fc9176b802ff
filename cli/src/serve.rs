//! `switchboard serve`: the gateway with the log pipeline behind it and the logs API mounted
//! under `/api/`, until SIGTERM (then a graceful drain and a flushed log queue).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use switchboard_config::Config;
use switchboard_gateway::AppState;
use switchboard_gateway::live::ConfigSource;
use switchboard_logs_api::LogsApi;
use switchboard_otel::{BodyRedactor, SpanExport};
use switchboard_sink::LogPipeline;

/// Serves until SIGTERM or Ctrl-C; SIGHUP re-reads the config from `source`.
pub fn run(config: Config, source: ConfigSource) -> anyhow::Result<()> {
    let runtime = runtime()?;
    // The recorder first: metric handles taken before it exists would count nothing.
    switchboard_gateway::telemetry::metrics::install();
    let pipeline = LogPipeline::start(&config.logging).context("cannot start the log pipeline")?;
    let spans = span_export(&config)?;
    let grace = Duration::from_millis(config.server.shutdown_grace_ms);
    for (name, provider) in &config.providers {
        if provider.api_key.as_deref().is_none_or(str::is_empty) && provider.headers.is_empty() {
            tracing::warn!(
                "provider {name} has no api_key (is its environment variable set?): calls to it go out without a key"
            );
        }
    }
    let served = runtime.block_on(async {
        let listen = config.server.listen.clone();
        let origin = config.origin.clone();
        let log_target = match &config.logging.redis_url {
            Some(_) => format!("redis stream {}", config.logging.stream),
            None => format!(
                "embedded store {}",
                switchboard_store::redacted_url(&config.logging.store)
            ),
        };
        let traces = match &config.otel.endpoint {
            Some(endpoint) => format!("; traces: {endpoint}"),
            None => String::new(),
        };
        let mut state = app_state(config, &pipeline)?.with_reload(source);
        if let Some(spans) = &spans {
            state = state.with_spans(spans.clone());
        }
        let state = Arc::new(state);
        reload_on_sighup(state.clone());
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .with_context(|| format!("cannot listen on {listen} (server.listen)"))?;
        tracing::info!(
            "switchboard {} listening on http://{} (config: {origin}; logs: {log_target}{traces})",
            env!("CARGO_PKG_VERSION"),
            listener
                .local_addr()
                .map(|a| a.to_string())
                .unwrap_or(listen),
        );
        let shutdown = crate::shutdown::signal();
        let drained = switchboard_gateway::server::serve(listener, state, shutdown, grace).await;
        if !drained {
            tracing::warn!("grace period over with requests still in flight; exiting");
        }
        anyhow::Ok(())
    });
    // In-flight relays may still hold records: give them a moment, then flush the queue.
    runtime.shutdown_timeout(Duration::from_millis(200));
    if !pipeline.shutdown(grace.max(Duration::from_secs(5))) {
        tracing::error!("the log writer did not finish flushing in time");
    }
    if let Some(spans) = spans
        && !spans.shutdown(Duration::from_secs(5))
    {
        tracing::warn!("the last spans were not exported in time");
    }
    served
}

/// `[otel]`'s span export, with captured bodies redacted as records are.
fn span_export(config: &Config) -> anyhow::Result<Option<Arc<SpanExport>>> {
    let redactor = switchboard_sink::redact::Redactor::new(&config.logging.redact)
        .context("cannot compile logging.redact")?;
    let redact: Option<BodyRedactor> = (!redactor.is_empty()).then(|| {
        let redactor = Arc::new(redactor);
        Arc::new(move |value: &mut serde_json::Value| redactor.value(value)) as BodyRedactor
    });
    let spans = SpanExport::start(&config.otel, redact)
        .context("cannot start the OpenTelemetry span export ([otel])")?;
    Ok(spans.map(Arc::new))
}

/// The proxy's state with the logs API mounted, both writing to `pipeline`.
fn app_state(config: Config, pipeline: &LogPipeline) -> anyhow::Result<AppState> {
    let api = LogsApi::new(
        &config.logging.store,
        pipeline.sink(),
        config.server.max_body_bytes,
    )?;
    let state = AppState::new(config, pipeline.sink()).context("cannot set up the providers")?;
    Ok(state.with_api(Arc::new(api)))
}

/// Reloads the config on every SIGHUP (a refused one is logged; the running config stays).
fn reload_on_sighup(state: Arc<AppState>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP: reload with POST /api/admin/reload");
            return;
        };
        while hangups.recv().await.is_some() {
            let _ = state.reload().await;
        }
    });
}

/// On one CPU (a container limit, or `taskset`), a current-thread runtime skips the
/// multi-thread scheduler's injection queue and park/unpark work for nothing.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    let one_cpu = std::thread::available_parallelism().is_ok_and(|n| n.get() == 1);
    if one_cpu {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    }
    .context("cannot start the async runtime")
}
