//! The `switchboard` binary: `serve`, `check`, `consume`, `export` (SPEC section 1).
//! Exit codes: 0 ok, 1 runtime error, 2 usage or config error.

mod consume;
mod demo;
mod export;
mod export_resume;
mod parquet_export;
mod serve;
mod shutdown;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use switchboard_config::{Config, ConfigError, process_env};

/// mimalloc instead of glibc's malloc: a request allocates and frees a few hundred small
/// buffers (headers, JSON strings, the record), and glibc's allocator cost ~26,000 instructions
/// of a ~145,000-instruction request under callgrind (BENCHMARKS.md, [perf]). Built with
/// `no_thp`: on transparent huge pages its arenas took 387 MB with 5,000 open streams against
/// glibc's 246 MB; without them, 266 MB.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Switchboard: one hop between your code and every LLM provider.
#[derive(Parser)]
#[command(name = "switchboard", version, about)]
struct Cli {
    /// The gateway's own log on stderr: `text` (colours only on a terminal) or `json` (one
    /// object per line, for log shippers).
    #[arg(
        long,
        global = true,
        env = "SWITCHBOARD_LOG_FORMAT",
        default_value = "text"
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
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
        #[command(flatten)]
        args: consume::ConsumeArgs,
    },
    /// Play voice traffic through an in-process mock provider, with the console to watch it
    /// (no provider key or internet needed).
    Demo(demo::DemoArgs),
    /// Export logs from the store (logging.store) as JSONL or CSV, newest first.
    Export {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        args: export::ExportArgs,
    },
}

#[derive(Clone, clap::Args)]
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
    init_logging(cli.log_format);
    let config_arg = match &cli.command {
        // The demo builds its own config.
        Command::Demo(args) => return exit(demo::run(args)),
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
        Command::Serve(arg) => {
            let source = move || arg.load();
            exit(serve::run(config, std::sync::Arc::new(source)))
        }
        Command::Consume { args, .. } => exit(consume::run(config, args)),
        // Ran before the config was loaded.
        Command::Demo(_) => ExitCode::SUCCESS,
        Command::Export { args, .. } => match export::run(&config.logging.store, &args) {
            Ok(rows) => {
                tracing::info!("exported {rows} logs");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("switchboard: {e}");
                ExitCode::from(e.exit_code())
            }
        },
    }
}

/// `RUST_LOG` (default `info`) to stderr, as text (ANSI colours only when stderr is a terminal,
/// so files and journald get none) or as JSON lines.
fn init_logging(format: LogFormat) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Exit 0, or print the error with its causes and exit 1.
fn exit(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("switchboard: {e:#}");
            ExitCode::from(1)
        }
    }
}
