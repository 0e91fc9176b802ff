//! The load generator behind the `loadgen` binary.
//!
//! Two ways to offer load:
//!
//! - [`closed_loop`]: N kept-alive connections, each sending its next request as soon as the
//!   previous one is done (throughput, latency at a given concurrency);
//! - [`open_loop`]: requests scheduled at fixed intervals, whatever the server does, with
//!   latency measured from each request's *scheduled* send time, so a server that falls
//!   behind pays for the queue it causes (no coordinated omission).
//!
//! Latency and time to first token (the first SSE event with a non-empty `delta.content`)
//! go into HDR histograms ([`histogram`]); failures are counted by kind; [`report`] prints
//! one JSON line.

pub mod client;
pub mod closed_loop;
pub mod histogram;
pub mod open_loop;
pub mod report;
pub mod sse;

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Semaphore;

use client::{Conn, RequestTemplate};
use report::{Mode, Report};

/// Connections being opened at once, so thousands of workers do not overflow the server's
/// accept backlog (which would cost them SYN retransmits of a second or more).
const CONNECT_PARALLELISM: usize = 64;
/// Pause after a failed connect, so a dead server is not hammered in a tight loop.
const CONNECT_BACKOFF: Duration = Duration::from_millis(20);

/// One run of the load generator.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// The request to send.
    pub template: RequestTemplate,
    /// Closed or open loop.
    pub mode: Mode,
    /// Measured time (load keeps running through it after the warm-up).
    pub duration: Duration,
    /// Load before the measured window, not recorded.
    pub warmup: Duration,
    /// Closed loop: worker `i` of `n` starts at `ramp * i / n`, so thousands of connections
    /// do not arrive at once (ignored by the open loop, whose schedule already spreads them).
    pub ramp: Duration,
    /// At most this many requests in all (warm-up included).
    pub max_requests: Option<u64>,
    /// Bound on one request, response body included.
    pub timeout: Duration,
    /// Free text copied to the report.
    pub label: Option<String>,
    /// Free text copied to the report.
    pub setting: Option<String>,
    /// The URL as given, for the report.
    pub url: String,
    /// The model sent, for the report.
    pub model: String,
}

/// Runs the load described by `config` on the current tokio runtime and reports.
pub async fn run(config: LoadConfig) -> Report {
    let (stats, elapsed) = match config.mode {
        Mode::Closed { concurrency } => closed_loop::run(&config, concurrency).await,
        Mode::Open { rate, connections } => open_loop::run(&config, rate, connections).await,
    };
    Report {
        label: config.label,
        setting: config.setting,
        url: config.url,
        model: config.model,
        mode: config.mode,
        stream: config.template.stream,
        warmup: config.warmup,
        elapsed,
        stats,
    }
}

/// A shared count of requests still allowed (`-n`).
#[derive(Debug)]
pub(crate) struct Budget {
    left: Option<AtomicU64>,
}

impl Budget {
    pub(crate) fn new(max: Option<u64>) -> Budget {
        Budget {
            left: max.map(AtomicU64::new),
        }
    }

    /// Takes one request from the budget; false when none is left.
    pub(crate) fn take(&self) -> bool {
        match &self.left {
            None => true,
            Some(left) => left
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok(),
        }
    }
}

/// Requests in flight right now, and the most seen at once.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    now: AtomicUsize,
    max: AtomicUsize,
}

impl InFlight {
    /// One more request in flight; call [`InFlight::end`] when it is done.
    pub(crate) fn begin(&self) {
        let now = self.now.fetch_add(1, Ordering::Relaxed) + 1;
        self.max.fetch_max(now, Ordering::Relaxed);
    }

    /// One request fewer in flight.
    pub(crate) fn end(&self) {
        self.now.fetch_sub(1, Ordering::Relaxed);
    }

    /// The most requests seen in flight at once.
    pub(crate) fn max(&self) -> usize {
        self.max.load(Ordering::Relaxed)
    }
}

/// The worker's connection, ready for a request: the kept-alive one, or a new one when there
/// is none yet or the server closed it.
pub(crate) async fn connection<'a>(
    slot: &'a mut Option<Conn>,
    gate: &Semaphore,
    addr: SocketAddr,
    timeout: Duration,
) -> io::Result<&'a mut Conn> {
    let usable = match slot.as_mut() {
        Some(conn) => conn.ready().await,
        None => false,
    };
    if !usable {
        *slot = None;
        *slot = Some(connect(gate, addr, timeout).await?);
    }
    slot.as_mut()
        .ok_or_else(|| io::Error::other("no connection"))
}

/// Opens a connection, at most [`CONNECT_PARALLELISM`] at a time, within `timeout`.
pub(crate) async fn connect(
    gate: &Semaphore,
    addr: SocketAddr,
    timeout: Duration,
) -> io::Result<Conn> {
    let _permit = gate.acquire().await.map_err(io::Error::other)?;
    match tokio::time::timeout(timeout, Conn::connect(addr)).await {
        Ok(result) => result,
        Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "connect timed out")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_counts_down() {
        let b = Budget::new(Some(2));
        assert!(b.take());
        assert!(b.take());
        assert!(!b.take());
        let unlimited = Budget::new(None);
        assert!((0..1000).all(|_| unlimited.take()));
    }

    #[test]
    fn in_flight_keeps_the_maximum() {
        let f = InFlight::default();
        f.begin();
        f.begin();
        f.end();
        f.begin();
        f.end();
        f.end();
        assert_eq!(f.max(), 2);
    }
}
