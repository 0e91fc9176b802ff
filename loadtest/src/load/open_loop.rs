//! Fixed arrival rate. Request `i` is due at `t0 + i / rate`; a pacer thread releases each one
//! when it is due (sleeping with a 1 µs timer slack, not tokio's 1 ms timer wheel), and the
//! first free connection sends it. Latency and time to first token are measured from the
//! *scheduled* time, so when the server falls behind and requests wait for a connection, the
//! wait is counted (no coordinated omission). How late each request actually left is kept
//! as `send_lag`, the generator's own error.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::load::client::{ErrorKind, exchange};
use crate::load::report::Stats;
use crate::load::{CONNECT_BACKOFF, CONNECT_PARALLELISM, InFlight, LoadConfig, connection};

/// How long after the end of the schedule requests still due may be sent; past it they are
/// counted as `unsent`.
const MAX_DRAIN: Duration = Duration::from_secs(2);
/// Time given to the workers to start before the first request is due.
const LEAD_IN: Duration = Duration::from_millis(20);

/// The schedule: when request `i` is due.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schedule {
    t0: Instant,
    interval_ns: f64,
    /// Requests in the schedule.
    pub total: u64,
}

impl Schedule {
    pub(crate) fn new(t0: Instant, rate: f64, span: Duration, max: Option<u64>) -> Schedule {
        let rate = rate.max(1e-3);
        let planned = (span.as_secs_f64() * rate).ceil() as u64;
        Schedule {
            t0,
            interval_ns: 1e9 / rate,
            total: max.map_or(planned, |m| m.min(planned)),
        }
    }

    /// When request `i` is due.
    pub(crate) fn due(&self, i: u64) -> Instant {
        self.t0 + Duration::from_nanos((i as f64 * self.interval_ns) as u64)
    }

    /// How many requests are due at `now`.
    pub(crate) fn due_count(&self, now: Instant) -> u64 {
        if now < self.t0 {
            return 0;
        }
        let elapsed = now.duration_since(self.t0).as_nanos() as f64;
        ((elapsed / self.interval_ns) as u64 + 1).min(self.total)
    }
}

struct Shared {
    config: LoadConfig,
    schedule: Schedule,
    permits: Arc<Semaphore>,
    next: AtomicU64,
    gate: Semaphore,
    inflight: InFlight,
    record_from: Instant,
    send_until: Instant,
}

/// Offers `rate` requests per second over `connections` connections.
pub(crate) async fn run(config: &LoadConfig, rate: f64, connections: usize) -> (Stats, Duration) {
    let connections = connections.max(1);
    let t0 = Instant::now() + LEAD_IN;
    let schedule = Schedule::new(
        t0,
        rate,
        config.warmup + config.duration,
        config.max_requests,
    );
    let record_from = t0 + config.warmup;
    let permits = Arc::new(Semaphore::new(0));
    let shared = Arc::new(Shared {
        config: config.clone(),
        schedule,
        permits: Arc::clone(&permits),
        next: AtomicU64::new(0),
        gate: Semaphore::new(CONNECT_PARALLELISM),
        inflight: InFlight::default(),
        record_from,
        send_until: record_from + config.duration + config.timeout.min(MAX_DRAIN),
    });
    let pacer = std::thread::Builder::new()
        .name("loadgen-pacer".into())
        .spawn(move || pace(&permits, schedule, connections))
        .expect("cannot start the pacer thread");
    let mut workers = JoinSet::new();
    for _ in 0..connections {
        workers.spawn(worker(Arc::clone(&shared)));
    }
    let mut stats = Stats::default();
    while let Some(done) = workers.join_next().await {
        if let Ok(worker_stats) = done {
            stats.merge(&worker_stats);
        }
    }
    // The pacer has released everything once the workers took their stop permits.
    let _ = pacer.join();
    stats.max_inflight = shared.inflight.max();
    let end = stats.last_end.unwrap_or_else(Instant::now);
    (stats, end.saturating_duration_since(record_from))
}

/// Releases one permit per request as it falls due, then one stop permit per worker.
fn pace(permits: &Semaphore, schedule: Schedule, workers: usize) {
    precise_sleeps();
    let mut released = 0u64;
    while released < schedule.total {
        let due = schedule.due_count(Instant::now());
        if due > released {
            permits.add_permits((due - released) as usize);
            released = due;
        }
        if released >= schedule.total {
            break;
        }
        let next = schedule.due(released);
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        }
    }
    // Indices past `total` tell the workers to stop.
    permits.add_permits(workers);
}

/// Asks the kernel to wake this thread within 1 µs of its deadlines (default slack: 50 µs).
fn precise_sleeps() {
    // SAFETY: PR_SET_TIMERSLACK takes one integer argument and only affects this thread.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1000 as libc::c_ulong, 0, 0, 0);
    }
}

async fn worker(shared: Arc<Shared>) -> Stats {
    let config = &shared.config;
    let mut stats = Stats::default();
    let mut conn = None;
    loop {
        match shared.permits.acquire().await {
            Ok(permit) => permit.forget(),
            Err(_) => break,
        }
        let i = shared.next.fetch_add(1, Ordering::Relaxed);
        if i >= shared.schedule.total {
            break;
        }
        let scheduled = shared.schedule.due(i);
        let recorded = scheduled >= shared.record_from;
        if Instant::now() > shared.send_until {
            if recorded {
                stats.error(ErrorKind::Unsent);
            }
            continue;
        }
        let target = config.template.target.addr;
        let c = match connection(&mut conn, &shared.gate, target, config.timeout).await {
            Ok(c) => c,
            Err(_) => {
                if recorded {
                    stats.error(ErrorKind::Connect);
                }
                tokio::time::sleep(CONNECT_BACKOFF).await;
                continue;
            }
        };
        let sent = Instant::now();
        shared.inflight.begin();
        let result = exchange(c, &config.template, config.timeout).await;
        shared.inflight.end();
        if !result.reusable {
            conn = None;
        }
        if recorded {
            stats
                .send_lag
                .record(sent.saturating_duration_since(scheduled));
            stats.record(scheduled, &result);
        }
    }
    stats
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_spacing_and_bounds() {
        let t0 = Instant::now();
        let s = Schedule::new(t0, 1000.0, Duration::from_secs(2), None);
        assert_eq!(s.total, 2000);
        assert_eq!(s.due(0), t0);
        assert_eq!(s.due(10), t0 + Duration::from_millis(10));
        assert_eq!(s.due_count(t0), 1);
        assert_eq!(s.due_count(t0 + Duration::from_micros(2500)), 3);
        assert_eq!(s.due_count(t0 + Duration::from_secs(10)), 2000);
        let capped = Schedule::new(t0, 1000.0, Duration::from_secs(2), Some(5));
        assert_eq!(capped.total, 5);
    }
}
