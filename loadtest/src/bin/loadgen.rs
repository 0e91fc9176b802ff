//! `loadgen`: offers load to an OpenAI-compatible `/chat/completions` endpoint and prints one
//! JSON line: rps, ok, errors (by kind), latency and time-to-first-token percentiles.
//!
//! Closed loop (default): `-c N` kept-alive connections, back to back.
//! Open loop: `--rate R` requests per second on fixed intervals, latency measured from the
//! scheduled send time; `-c` is then the number of connections available (default 128).
//!
//! ```text
//! loadgen --url http://127.0.0.1:8080/v1 --model gpt-4o-mini -c 64 -d 10
//! loadgen --url http://127.0.0.1:8080/v1 --rate 5000 -d 10 --stream
//! ```

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use switchboard_loadtest::load::client::{RequestTemplate, Target, parse_header};
use switchboard_loadtest::load::report::Mode;
use switchboard_loadtest::load::{LoadConfig, run};

/// Longest run accepted, so that no load loop is unbounded.
const MAX_SECONDS: f64 = 3600.0;

/// Load generator for OpenAI-compatible chat completions (loopback only by default).
#[derive(Debug, Parser)]
#[command(name = "loadgen", version, args_override_self = true)]
struct Args {
    /// Base URL (`/chat/completions` is appended unless present), e.g. http://127.0.0.1:8080/v1.
    #[arg(long)]
    url: String,
    /// The `model` field of every request.
    #[arg(long, default_value = "gpt-4o-mini")]
    model: String,
    /// Closed loop: concurrent connections (default 1). Open loop: connections available to
    /// carry the scheduled requests (default 128).
    #[arg(short = 'c', long = "concurrency")]
    concurrency: Option<usize>,
    /// Open loop: requests per second, scheduled at fixed intervals.
    #[arg(long)]
    rate: Option<f64>,
    /// Measured seconds (after --warmup).
    #[arg(short = 'd', long = "duration", default_value_t = 10.0)]
    duration: f64,
    /// Seconds of load before the measured window (not recorded).
    #[arg(long, default_value_t = 0.0)]
    warmup: f64,
    /// Closed loop: spread the start of the connections evenly over this many seconds.
    #[arg(long, default_value_t = 0.0)]
    ramp: f64,
    /// Stop after this many requests (warm-up included).
    #[arg(short = 'n', long = "requests")]
    requests: Option<u64>,
    /// Ask for SSE streams and measure time to first token.
    #[arg(long)]
    stream: bool,
    /// Seconds one request may take, response body included.
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
    /// Extra request header `name: value` (repeatable).
    #[arg(long = "header")]
    headers: Vec<String>,
    /// Free text copied into the JSON line as `label`.
    #[arg(long)]
    label: Option<String>,
    /// Free text copied into the JSON line as `setting`.
    #[arg(long)]
    setting: Option<String>,
    /// The user message.
    #[arg(long, default_value = "Say hello in one short sentence.")]
    prompt: String,
    /// Runtime threads; 1 (default) runs everything on one thread.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Allow a non-loopback target.
    #[arg(long)]
    allow_remote: bool,
}

fn seconds(name: &str, value: f64, min: f64) -> Result<Duration, String> {
    if !value.is_finite() || value < min || value > MAX_SECONDS {
        return Err(format!(
            "{name} must be between {min} and {MAX_SECONDS} seconds"
        ));
    }
    Ok(Duration::from_secs_f64(value))
}

fn config(args: Args) -> Result<(LoadConfig, usize), String> {
    let target = Target::parse(&args.url, args.allow_remote)?;
    let headers = args
        .headers
        .iter()
        .map(|h| parse_header(h))
        .collect::<Result<Vec<_>, _>>()?;
    let template = RequestTemplate::new(target, &args.model, &args.prompt, args.stream, &headers)?;
    let mode = match args.rate {
        Some(rate) if !(rate.is_finite() && rate > 0.0 && rate <= 10_000_000.0) => {
            return Err("--rate must be a positive number of requests per second".into());
        }
        Some(rate) => Mode::Open {
            rate,
            connections: args.concurrency.unwrap_or(128),
        },
        None => Mode::Closed {
            concurrency: args.concurrency.unwrap_or(1),
        },
    };
    if matches!(
        mode,
        Mode::Closed { concurrency: 0 } | Mode::Open { connections: 0, .. }
    ) {
        return Err("-c must be at least 1".into());
    }
    let config = LoadConfig {
        template,
        mode,
        duration: seconds("-d", args.duration, 0.001)?,
        warmup: seconds("--warmup", args.warmup, 0.0)?,
        ramp: seconds("--ramp", args.ramp, 0.0)?,
        max_requests: args.requests,
        timeout: seconds("--timeout", args.timeout, 0.001)?,
        label: args.label,
        setting: args.setting,
        url: args.url,
        model: args.model,
    };
    Ok((config, args.threads.max(1)))
}

fn main() -> ExitCode {
    let (config, threads) = match config(Args::parse()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("loadgen: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("loadgen: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let report = runtime.block_on(run(config));
    println!("{}", report.to_json());
    ExitCode::SUCCESS
}
