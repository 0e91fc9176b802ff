//! The `switchboard` binary: `serve`, `check`, `consume`, `export` (SPEC section 1).
//! Exit codes: 0 ok, 1 runtime error, 2 usage or config error.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use switchboard_config::{Config, ConfigError, process_env};
use switchboard_gateway::AppState;
use switchboard_gateway::consume::{self, ConsumerOptions};
use switchboard_gateway::export_cli::{self, ExportArgs};
use switchboard_gateway::sink::LogPipeline;

/// Switchboard: one hop between your code and every LLM provider.
#[derive(Parser)]
#[command(name = "switchboard", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway.
    Serve(ConfigArg),
    /// Validate a config and print every problem (file, key, fix).
    Check(ConfigArg),
    /// Read the Redis log stream into the store.
    Consume {
        #[command(flatten)]
        config: ConfigArg,
        /// This consumer's name in the group; keep it stable across restarts to pick up its
        /// own unacknowledged entries at once (default: host-pid).
        #[arg(long)]
        consumer: Option<String>,
        /// Claim entries other consumers left pending for this long (ms).
        #[arg(long, default_value_t = 30_000)]
        claim_idle_ms: u64,
    },
    /// Export logs from the store (logging.store) as JSONL or CSV, newest first.
    Export {
        #[command(flatten)]
        config: ConfigArg,
        /// KEY=VALUE filters, as in GET /api/export (repeat for more; all must match).
        #[arg(long = "filter")]
        filters: Vec<String>,
        /// jsonl or csv.
        #[arg(long)]
        format: String,
        /// Output file (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
        /// newest (default) or oldest first.
        #[arg(long)]
        order: Option<String>,
        /// Start after this cursor (a next_cursor of GET /api/logs).
        #[arg(long)]
        after: Option<String>,
        /// Continue the export in --out after its last complete row (same filters and order).
        #[arg(long)]
        resume: bool,
    },
}

#[derive(clap::Args)]
struct ConfigArg {
    /// Config file (default: $SWITCHBOARD_CONFIG, else ./switchboard.toml, else the embedded default).
    #[arg(long, env = "SWITCHBOARD_CONFIG")]
    config: Option<PathBuf>,
}

const DEFAULT_CONFIG: &str = "switchboard.toml";

impl ConfigArg {
    fn load(&self) -> Result<Config, ConfigError> {
        match &self.config {
            Some(path) => Config::from_file(path, &process_env),
            None if Path::new(DEFAULT_CONFIG).exists() => {
                Config::from_file(Path::new(DEFAULT_CONFIG), &process_env)
            }
            None => Config::embedded_default(&process_env),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let config_arg = match &cli.command {
        Command::Serve(c) | Command::Check(c) => c,
        Command::Consume { config, .. } | Command::Export { config, .. } => config,
    };
    let config = match config_arg.load() {
        Ok(config) => config,
        Err(e) => {
            for line in e.lines() {
                eprintln!("{line}");
            }
            return ExitCode::from(2);
        }
    };
    match cli.command {
        Command::Check(_) => {
            println!(
                "{}: ok ({} providers, {} models)",
                config.origin,
                config.providers.len(),
                config.models.len()
            );
            ExitCode::SUCCESS
        }
        Command::Serve(_) => match run_server(config) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("switchboard: {e:#}");
                ExitCode::from(1)
            }
        },
        Command::Consume {
            consumer,
            claim_idle_ms,
            ..
        } => {
            let name = consumer.unwrap_or_else(default_consumer_name);
            let mut options = ConsumerOptions::named(name);
            options.claim_idle = Duration::from_millis(claim_idle_ms);
            match run_consumer(config, options) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("switchboard: {e:#}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Export {
            filters,
            format,
            out,
            order,
            after,
            resume,
            ..
        } => {
            let args = ExportArgs {
                filters,
                format,
                out,
                order,
                after,
                resume,
            };
            match export_cli::run(&config.logging.store, &args) {
                Ok(rows) => {
                    tracing::info!("exported {rows} logs");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("switchboard: {e}");
                    ExitCode::from(e.exit_code())
                }
            }
        }
    }
}

fn run_server(config: Config) -> anyhow::Result<()> {
    // On one CPU (a container limit, or `taskset`), a current-thread runtime skips the
    // multi-thread scheduler's injection queue and park/unpark work for nothing.
    let one_cpu = std::thread::available_parallelism().is_ok_and(|n| n.get() == 1);
    let runtime = if one_cpu {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    }
    .context("cannot start the async runtime")?;
    // The recorder first: metric handles taken before it exists would count nothing.
    switchboard_gateway::metrics::install();
    let pipeline = LogPipeline::start(&config.logging).context("cannot start the log pipeline")?;
    let grace = Duration::from_millis(config.server.shutdown_grace_ms);
    let served = runtime.block_on(async {
        let listen = config.server.listen.clone();
        let origin = config.origin.clone();
        let sink = pipeline.sink();
        let log_target = match &config.logging.redis_url {
            Some(_) => format!("redis stream {}", config.logging.stream),
            None => format!("embedded store {}", config.logging.store),
        };
        let state = AppState::new(config, sink).context("cannot set up the providers")?;
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .with_context(|| format!("cannot listen on {listen} (server.listen)"))?;
        tracing::info!(
            "switchboard {} listening on http://{} (config: {origin}; logs: {log_target})",
            env!("CARGO_PKG_VERSION"),
            listener
                .local_addr()
                .map(|a| a.to_string())
                .unwrap_or(listen),
        );
        let drained =
            switchboard_gateway::server::serve(listener, Arc::new(state), shutdown_signal(), grace)
                .await;
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
    served
}

fn default_consumer_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "consumer".to_owned());
    format!("{host}-{}", std::process::id())
}

fn run_consumer(config: Config, options: ConsumerOptions) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    tracing::info!(
        "consumer {} reading {} into {}",
        options.name,
        config.logging.stream,
        config.logging.store
    );
    let stats = runtime.block_on(consume::run(&config.logging, options, shutdown_signal()))?;
    tracing::info!(
        "consumer stopped: {} inserted, {} duplicates, {} dead",
        stats.inserted,
        stats.duplicates,
        stats.dead
    );
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
