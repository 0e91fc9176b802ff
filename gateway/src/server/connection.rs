//! Per-connection timers: `server.header_timeout_ms` and `server.idle_timeout_ms`.
//!
//! Written here rather than taken from hyper: hyper's `header_read_timeout` (HTTP/1 only) also
//! runs while a kept-alive connection waits for its next request, so it cannot be both a short
//! header timeout and a long idle timeout, and it does not run at all while the auto builder
//! is still choosing between HTTP/1 and HTTP/2 (a peer that sends nothing is never timed).
//!
//! The socket is wrapped in [`Watched`], which stamps reads and writes; each request holds an
//! [`InFlight`] until its response body is done. [`Watch::expired`] resolves when the
//! connection should be dropped:
//! - no whole request head within `header_timeout` of the accept, or of the first byte of a
//!   later request (the head is whole when hyper hands the request to the service);
//! - nothing in flight and no bytes moving for `idle_timeout`;
//! - a response the client has not read for `idle_timeout` (its socket stays full), so a
//!   client that stops reading cannot hold a stream and its upstream call forever.
//!
//! A request in flight that is merely quiet (a long upstream call) is never cut.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

const NEVER: u64 = u64::MAX;

/// What a connection's timers look at, shared by its socket, its service and its watchdog.
/// Times are milliseconds since the accept.
pub struct Watch {
    opened: Instant,
    last_activity: AtomicU64,
    head_started: AtomicU64,
    write_blocked: AtomicU64,
    in_flight: AtomicUsize,
    requests: AtomicU64,
    header_timeout: u64,
    idle_timeout: u64,
}

impl Watch {
    /// The watch of a connection accepted now.
    pub fn new(header_timeout: Duration, idle_timeout: Duration) -> Arc<Watch> {
        Arc::new(Watch {
            opened: Instant::now(),
            last_activity: AtomicU64::new(0),
            head_started: AtomicU64::new(0),
            write_blocked: AtomicU64::new(NEVER),
            in_flight: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            header_timeout: header_timeout.as_millis() as u64,
            idle_timeout: idle_timeout.as_millis() as u64,
        })
    }

    fn now(&self) -> u64 {
        self.opened.elapsed().as_millis() as u64
    }

    fn on_read(&self) {
        let now = self.now();
        self.last_activity.store(now, Ordering::Relaxed);
        if self.in_flight.load(Ordering::Relaxed) == 0 {
            // The first byte of a head: it must be whole within header_timeout.
            let _ = self.head_started.compare_exchange(
                NEVER,
                now,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
    }

    fn on_write(&self, wrote: bool) {
        if wrote {
            self.last_activity.store(self.now(), Ordering::Relaxed);
            self.write_blocked.store(NEVER, Ordering::Relaxed);
        } else {
            let _ = self.write_blocked.compare_exchange(
                NEVER,
                self.now(),
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
    }

    /// A request head arrived whole; the guard marks the request done when dropped.
    pub fn request(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.head_started.store(NEVER, Ordering::Relaxed);
        InFlight(self.clone())
    }

    /// When the connection expires as things stand, and whether it would.
    fn deadline(&self) -> (u64, bool) {
        let blocked = self.write_blocked.load(Ordering::Relaxed);
        if blocked != NEVER {
            return (blocked.saturating_add(self.idle_timeout), true);
        }
        let last = self.last_activity.load(Ordering::Relaxed);
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            // Busy but quiet: look again later, never cut.
            return (self.now().saturating_add(self.idle_timeout), false);
        }
        let head = self.head_started.load(Ordering::Relaxed);
        let head_deadline = if self.requests.load(Ordering::Relaxed) == 0 {
            Some(self.header_timeout)
        } else if head != NEVER {
            Some(head.saturating_add(self.header_timeout))
        } else {
            None
        };
        let idle_deadline = last.saturating_add(self.idle_timeout);
        match head_deadline {
            Some(head) => (head.min(idle_deadline), true),
            None => (idle_deadline, true),
        }
    }

    /// Resolves when the connection should be dropped (see the module docs).
    pub async fn expired(&self) {
        loop {
            let (deadline, expires) = self.deadline();
            let now = self.now();
            if now >= deadline && expires {
                return;
            }
            let wait = Duration::from_millis(deadline.saturating_sub(now).max(1));
            tokio::time::sleep(wait).await;
        }
    }
}

/// One request in flight on a connection, until its response body is done.
pub struct InFlight(Arc<Watch>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.last_activity.store(self.0.now(), Ordering::Relaxed);
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A response body that keeps its request [`InFlight`] until the last frame is sent.
pub struct WatchedBody<B> {
    inner: B,
    _in_flight: InFlight,
}

impl<B> WatchedBody<B> {
    /// `inner`, holding `in_flight`.
    pub fn new(inner: B, in_flight: InFlight) -> WatchedBody<B> {
        WatchedBody {
            inner,
            _in_flight: in_flight,
        }
    }
}

impl<B: Body<Data = Bytes> + Unpin> Body for WatchedBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A socket that stamps its [`Watch`] on every read and write.
pub struct Watched<T> {
    inner: T,
    watch: Arc<Watch>,
}

impl<T> Watched<T> {
    /// Wraps `inner`.
    pub fn new(inner: T, watch: Arc<Watch>) -> Watched<T> {
        Watched { inner, watch }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.watch.on_read();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch.on_write(!polled.is_pending());
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.watch.on_write(!polled.is_pending());
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
