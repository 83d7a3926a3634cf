//! A progress deadline on a connection's writes, so that a client which
//! stops reading its answers cannot hold its connection (and its slot under
//! `max_connections`) for longer than the write timeout.
//!
//! hyper's header-read timer does not run while hyper waits to flush a
//! response, hence this wrapper under it.

use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use prometheus::IntCounter;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// Why a connection was closed: no write progressed for the whole timeout.
#[derive(Debug, thiserror::Error)]
#[error("the client accepted no response bytes for {0:?}")]
struct WriteStalled(Duration);

/// A transport whose write, flush and shutdown fail with
/// [`io::ErrorKind::TimedOut`] once they have waited `limit` without any
/// progress.
///
/// Progress is the transport accepting bytes (or finishing a flush), so a
/// slow reader that keeps draining keeps its connection however long the
/// whole response takes. The timer runs only while a write is waiting: an
/// idle kept-alive connection is the header-read timeout's business.
///
/// The timeout is final: once it has fired, every later write, flush or
/// shutdown fails at once without touching the transport, so the connection
/// is counted once and hyper's closing shutdown cannot wait a second limit.
pub(super) struct WriteDeadline<I> {
    io: I,
    limit: Duration,
    /// Counts connections closed by the deadline.
    timeouts: IntCounter,
    /// Created at the first wait and reused; fires `limit` after the write
    /// that started waiting when `state` is `Armed`.
    timer: Option<Pin<Box<Sleep>>>,
    state: State,
}

/// Where a connection's write side stands with respect to its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// The last write-side operation finished; no timer runs.
    Progressing,
    /// A write-side operation is waiting; `timer` holds its deadline.
    Armed,
    /// The deadline fired (and was counted); the write side is dead.
    TimedOut,
}

impl<I> WriteDeadline<I> {
    pub(super) fn new(io: I, limit: Duration, timeouts: IntCounter) -> Self {
        Self {
            io,
            limit,
            timeouts,
            timer: None,
            state: State::Progressing,
        }
    }

    fn stalled(&self) -> io::Error {
        io::Error::new(io::ErrorKind::TimedOut, WriteStalled(self.limit))
    }

    /// Runs a write-side operation on the transport unless the deadline has
    /// already fired. Passes a finished operation through (and disarms the
    /// timer); for a waiting one, arms the timer if it is the first wait
    /// since the last progress, and fails it once the timer has fired.
    fn guard<T>(
        &mut self,
        cx: &mut Context<'_>,
        op: impl FnOnce(Pin<&mut I>, &mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>>
    where
        I: Unpin,
    {
        if self.state == State::TimedOut {
            return Poll::Ready(Err(self.stalled()));
        }
        let poll = op(Pin::new(&mut self.io), cx);
        if poll.is_ready() {
            self.state = State::Progressing;
            return poll;
        }
        let limit = self.limit;
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        if self.state == State::Progressing {
            timer.as_mut().reset(Instant::now() + limit);
            self.state = State::Armed;
        }
        // Registers the waker: when the timer fires, hyper polls the write
        // again and gets the error below.
        match timer.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => {
                self.state = State::TimedOut;
                self.timer = None;
                self.timeouts.inc();
                tracing::debug!(limit = ?self.limit, "closing a connection whose client stopped reading");
                Poll::Ready(Err(self.stalled()))
            }
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for WriteDeadline<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.guard(cx, |io, cx| io.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.guard(cx, |io, cx| io.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.guard(cx, AsyncWrite::poll_flush)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.guard(cx, AsyncWrite::poll_shutdown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn counter() -> IntCounter {
        IntCounter::new("t_total", "t.").unwrap()
    }

    /// A transport that accepts no bytes and never finishes a flush or a
    /// shutdown, as a TLS stream whose peer stopped reading does.
    struct Blocked;

    impl AsyncRead for Blocked {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            Poll::Pending
        }
    }

    impl AsyncWrite for Blocked {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &[u8],
        ) -> Poll<io::Result<usize>> {
            Poll::Pending
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Pending
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Pending
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_flush_fails_after_the_limit_and_is_counted() {
        let timeouts = counter();
        let mut io = WriteDeadline::new(Blocked, Duration::from_secs(2), timeouts.clone());
        let started = Instant::now();
        let error = io.flush().await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), Duration::from_secs(2));
        assert_eq!(timeouts.get(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn the_timeout_is_sticky_and_counted_once() {
        let timeouts = counter();
        let mut io = WriteDeadline::new(Blocked, Duration::from_secs(2), timeouts.clone());
        let error = io.flush().await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        // hyper shuts a failed connection down; that must not wait (and
        // count) a second timeout, nor may any later write.
        let fired = Instant::now();
        let error = io.shutdown().await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        let error = io.write(b"x").await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(fired.elapsed(), Duration::ZERO);
        assert_eq!(timeouts.get(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_write_fails_after_the_limit_and_is_counted() {
        let (_peer, io) = tokio::io::duplex(4);
        let timeouts = counter();
        let mut io = WriteDeadline::new(io, Duration::from_secs(2), timeouts.clone());
        let started = Instant::now();
        let error = io.write_all(b"more than four").await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), Duration::from_secs(2));
        assert_eq!(timeouts.get(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn progress_restarts_the_limit() {
        let (mut peer, io) = tokio::io::duplex(4);
        let timeouts = counter();
        let mut io = WriteDeadline::new(io, Duration::from_secs(2), timeouts.clone());
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            let mut byte = [0u8; 1];
            // One byte every 1.5 s: each wait is shorter than the limit,
            // the whole write far longer.
            while peer.read(&mut byte).await.unwrap() == 1 {
                got.push(byte[0]);
                tokio::time::sleep(Duration::from_millis(1500)).await;
            }
            got
        });
        let started = Instant::now();
        io.write_all(b"0123456789").await.unwrap();
        io.shutdown().await.unwrap();
        drop(io);
        assert_eq!(reader.await.unwrap(), b"0123456789");
        assert!(started.elapsed() > Duration::from_secs(6));
        assert_eq!(timeouts.get(), 0);
    }
}
