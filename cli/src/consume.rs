//! `switchboard consume`: the consumer of the Redis log stream, run until SIGTERM.

use std::time::Duration;

use anyhow::Context;
use switchboard_config::Config;
use switchboard_consumer::ConsumerOptions;

/// The command's options.
#[derive(clap::Args)]
pub struct ConsumeArgs {
    /// This consumer's name in the group; keep it stable across restarts to pick up its
    /// own unacknowledged entries at once (default: host-pid).
    #[arg(long)]
    consumer: Option<String>,
    /// Claim entries other consumers left pending for this long (ms).
    #[arg(long, default_value_t = 30_000)]
    claim_idle_ms: u64,
    /// Stream entries read, and inserted in one transaction, at a time (PostgreSQL: 2,000 a
    /// batch inserts 40 % faster than 500; BENCHMARKS.md).
    #[arg(long, default_value_t = 2_000)]
    batch: usize,
}

/// Consumes until SIGTERM or Ctrl-C, then reports what it did.
pub fn run(config: Config, args: ConsumeArgs) -> anyhow::Result<()> {
    let name = args.consumer.unwrap_or_else(default_name);
    let mut options = ConsumerOptions::named(name);
    options.claim_idle = Duration::from_millis(args.claim_idle_ms);
    options.batch = args.batch.max(1);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    tracing::info!(
        "consumer {} reading {} into {}",
        options.name,
        config.logging.stream,
        switchboard_store::redacted_url(&config.logging.store)
    );
    let run = switchboard_consumer::run(&config.logging, options, crate::shutdown::signal());
    let stats = runtime.block_on(run)?;
    tracing::info!(
        "consumer stopped: {} inserted, {} duplicates, {} dead",
        stats.inserted,
        stats.duplicates,
        stats.dead
    );
    Ok(())
}

fn default_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "consumer".to_owned());
    format!("{host}-{}", std::process::id())
}
