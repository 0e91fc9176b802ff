//! `mock-provider`: the scriptable mock OpenAI-compatible provider as a
//! standalone server for load tests. Loopback only. Runs until SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use switchboard_loadtest::{DEFAULT_CONTENT, MockProvider, Script};

/// Command-line options; each sets a field of the default script.
#[derive(Debug, Parser)]
#[command(
    name = "mock-provider",
    about = "Scriptable mock OpenAI-compatible provider (loopback only)"
)]
struct Args {
    /// Address to listen on; must be a loopback address.
    #[arg(long, env = "MOCK_ADDR", default_value = "127.0.0.1:18000")]
    listen: SocketAddr,
    /// Default delay before the first content chunk, in ms.
    #[arg(long, env = "MOCK_TTFT_MS", default_value_t = 0)]
    ttft_ms: u64,
    /// Default gap between content chunks, in ms.
    #[arg(long, env = "MOCK_CHUNK_MS", default_value_t = 0)]
    chunk_ms: u64,
    /// Default number of content chunks per stream.
    #[arg(long, env = "MOCK_CHUNKS", default_value_t = 20,
          value_parser = clap::value_parser!(u64).range(1..))]
    chunks: u64,
    /// Default assistant text; by default "Hello from mock " repeated so that
    /// every chunk carries about 4 chars.
    #[arg(long, env = "MOCK_CONTENT")]
    content: Option<String>,
    /// Record every request in memory (off by default: it costs a lock per
    /// request and grows without bound).
    #[arg(long)]
    journal: bool,
    /// Runtime worker threads; 1 runs a current-thread runtime.
    #[arg(long, env = "MOCK_THREADS", default_value_t = 1,
          value_parser = clap::value_parser!(u64).range(1..=256))]
    threads: u64,
}

impl Args {
    fn defaults(&self) -> Script {
        let chunks = usize::try_from(self.chunks).unwrap_or(usize::MAX);
        let content = match &self.content {
            Some(content) => content.clone(),
            None => {
                let word = format!("{DEFAULT_CONTENT} ");
                let repeats = (chunks * 4).div_ceil(word.len()).max(1);
                word.repeat(repeats).trim_end().to_owned()
            }
        };
        Script {
            ttft_ms: self.ttft_ms,
            chunk_ms: self.chunk_ms,
            chunks,
            content,
            ..Script::default()
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if !args.listen.ip().is_loopback() {
        eprintln!(
            "mock-provider: refusing to listen on {}: only loopback addresses (127.0.0.0/8, ::1) are allowed",
            args.listen
        );
        return ExitCode::from(2);
    }

    let runtime = if args.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(usize::try_from(args.threads).unwrap_or(1))
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mock-provider: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };

    runtime.block_on(async {
        let provider = MockProvider::new()
            .listen(args.listen)
            .defaults(args.defaults())
            .journal(args.journal);
        let handle = match provider.serve().await {
            Ok(handle) => handle,
            Err(e) => {
                eprintln!("mock-provider: cannot listen on {}: {e}", args.listen);
                return ExitCode::FAILURE;
            }
        };
        println!("mock-provider listening on {}", handle.base_url());
        match shutdown_signal().await {
            Ok(()) => {
                handle.shutdown();
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("mock-provider: cannot wait for signals: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}
