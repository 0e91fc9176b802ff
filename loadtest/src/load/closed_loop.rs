//! Fixed concurrency: N workers, each with its own kept-alive connection, each sending its next
//! request as soon as the previous response is complete. With a ramp, worker `i` of `n` starts
//! at `ramp * i / n`; every worker sends at least one request.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::load::client::{ErrorKind, exchange};
use crate::load::report::Stats;
use crate::load::{Budget, CONNECT_BACKOFF, CONNECT_PARALLELISM, InFlight, LoadConfig, connection};

struct Shared {
    config: LoadConfig,
    budget: Budget,
    gate: Semaphore,
    inflight: InFlight,
    /// Requests started from here on are recorded.
    record_from: Instant,
    /// No request starts after this.
    deadline: Instant,
}

/// Runs `concurrency` workers until the duration is over or the request budget is spent.
/// Returns the merged stats and the measured window.
pub(crate) async fn run(config: &LoadConfig, concurrency: usize) -> (Stats, Duration) {
    let start = Instant::now();
    let record_from = start + config.warmup;
    let shared = Arc::new(Shared {
        config: config.clone(),
        budget: Budget::new(config.max_requests),
        gate: Semaphore::new(CONNECT_PARALLELISM),
        inflight: InFlight::default(),
        record_from,
        deadline: record_from + config.duration,
    });
    let mut workers = JoinSet::new();
    let n = concurrency.max(1);
    for i in 0..n {
        let offset = config.ramp.mul_f64(i as f64 / n as f64);
        workers.spawn(worker(Arc::clone(&shared), start + offset));
    }
    let mut stats = Stats::default();
    while let Some(done) = workers.join_next().await {
        if let Ok(worker_stats) = done {
            stats.merge(&worker_stats);
        }
    }
    stats.max_inflight = shared.inflight.max();
    let end = stats.last_end.unwrap_or_else(Instant::now);
    (stats, end.saturating_duration_since(record_from))
}

async fn worker(shared: Arc<Shared>, begin: Instant) -> Stats {
    let config = &shared.config;
    tokio::time::sleep_until(begin.into()).await;
    let mut stats = Stats::default();
    let mut conn = None;
    // Every worker sends at least one request, even when a busy machine wakes it after the
    // deadline: `-c N` means N requests in flight at once, which memory tests rely on.
    let mut first = true;
    while (first || Instant::now() < shared.deadline) && shared.budget.take() {
        first = false;
        let target = config.template.target.addr;
        let c = match connection(&mut conn, &shared.gate, target, config.timeout).await {
            Ok(c) => c,
            Err(_) => {
                if Instant::now() >= shared.record_from {
                    stats.error(ErrorKind::Connect);
                }
                tokio::time::sleep(CONNECT_BACKOFF).await;
                continue;
            }
        };
        let start = Instant::now();
        shared.inflight.begin();
        let result = exchange(c, &config.template, config.timeout).await;
        shared.inflight.end();
        if !result.reusable {
            conn = None;
        }
        if start >= shared.record_from {
            stats.record(start, &result);
        }
    }
    stats
}
