//! [`SoaReceiver`]: one subscriber's cursor into a ring.

use std::fmt;
use std::future::poll_fn;
use std::task::{Context, Poll};

use ron_bus::{BusReceiver, BusStats, RecvError, TryRecvError, WakeTally};

use crate::ring::{Pin, Read, Ring, Ticket};
use crate::sync::Arc;

/// The subscriber side of a [`SoaBus`](crate::SoaBus).
pub struct SoaReceiver<T> {
    ring: Arc<Ring<T>>,
    /// The next sequence number to read.
    cursor: u64,
    /// This subscriber's pin in the ring (held while it clones a payload).
    pin: Pin,
    interest: u64,
    /// Where this subscriber's waker is parked, if it is.
    ticket: Option<Ticket>,
    stats: std::sync::Arc<BusStats>,
    /// Whether the last poll parked (so the next delivery ended a park).
    parked: bool,
    /// Deliveries since this receiver last went idle.
    wakes: WakeTally,
}

impl<T: Clone> SoaReceiver<T> {
    pub(crate) fn new(ring: Arc<Ring<T>>, stats: std::sync::Arc<BusStats>, interest: u64) -> Self {
        let (pin, cursor) = ring.add_receiver();
        Self {
            ring,
            cursor,
            pin,
            interest,
            ticket: None,
            stats,
            parked: false,
            wakes: WakeTally::new(),
        }
    }

    /// One read, with the bookkeeping every outcome needs.
    fn take(&mut self) -> Read<T> {
        let read = self.ring.read(&mut self.cursor, &self.pin);
        match &read {
            Read::Message(_) => self.wakes.delivered(std::mem::take(&mut self.parked)),
            Read::Lagged(lost) => self.stats.record_lag(*lost),
            // Going idle: publish the local wake counts.
            Read::Empty | Read::Closed => self.wakes.flush(&self.stats),
        }
        read
    }

    /// One read of a run of at most `max` (at least 1) into `buf`, with
    /// the bookkeeping of [`take`](Self::take) (each message a delivery;
    /// the first ends the park, if any).
    fn take_many(&mut self, buf: &mut Vec<T>, max: usize) -> Read<usize> {
        let read = self.ring.read_many(&mut self.cursor, &self.pin, buf, max);
        match &read {
            Read::Message(n) => {
                self.wakes.delivered(std::mem::take(&mut self.parked));
                for _ in 1..*n {
                    self.wakes.delivered(false);
                }
            }
            Read::Lagged(lost) => self.stats.record_lag(*lost),
            Read::Empty | Read::Closed => self.wakes.flush(&self.stats),
        }
        read
    }

    /// Polls `take` (one read, with its bookkeeping), parking when it finds
    /// nothing: the one wait behind `recv` and `recv_many`.
    fn poll_take<M>(
        &mut self,
        cx: &mut Context<'_>,
        mut take: impl FnMut(&mut Self) -> Read<M>,
    ) -> Poll<Result<M, RecvError>> {
        if let Some(ready) = ready(take(self)) {
            return Poll::Ready(ready);
        }
        // Park, then look again: a publish that missed our registration
        // wrote before our second look (see `Ring::park`).
        self.ring.park(&mut self.ticket, cx.waker());
        self.parked = true;
        match ready(take(self)) {
            Some(ready) => Poll::Ready(ready),
            None => Poll::Pending,
        }
    }
}

fn ready<M>(read: Read<M>) -> Option<Result<M, RecvError>> {
    match read {
        Read::Message(msg) => Some(Ok(msg)),
        Read::Lagged(lost) => Some(Err(RecvError::Lagged(lost))),
        Read::Closed => Some(Err(RecvError::Closed)),
        Read::Empty => None,
    }
}

fn try_ready<M>(read: Read<M>) -> Result<M, TryRecvError> {
    match read {
        Read::Message(msg) => Ok(msg),
        Read::Lagged(lost) => Err(TryRecvError::Lagged(lost)),
        Read::Empty => Err(TryRecvError::Empty),
        Read::Closed => Err(TryRecvError::Closed),
    }
}

impl<T> Drop for SoaReceiver<T> {
    fn drop(&mut self) {
        self.wakes.flush(&self.stats);
        // Its waker goes with it (a quiet ring would keep it until the
        // next publish).
        self.ring.unpark(&mut self.ticket);
        self.ring.remove_receiver(&self.pin);
    }
}

impl<T> fmt::Debug for SoaReceiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SoaReceiver")
            .field("cursor", &self.cursor)
            .field("interest", &self.interest)
            .finish_non_exhaustive()
    }
}

impl<T: Clone + Send + Sync + 'static> BusReceiver<T> for SoaReceiver<T> {
    async fn recv(&mut self) -> Result<T, RecvError> {
        poll_fn(|cx| self.poll_take(cx, Self::take)).await
    }

    fn try_recv(&mut self) -> Result<T, TryRecvError> {
        try_ready(self.take())
    }

    /// Reads the whole run waiting, up to `max`, under one pin and one
    /// fence (see the ring's protocol).
    async fn recv_many(&mut self, buf: &mut Vec<T>, max: usize) -> Result<usize, RecvError> {
        if max == 0 {
            return Ok(0);
        }
        poll_fn(|cx| self.poll_take(cx, |rx| rx.take_many(buf, max))).await
    }

    /// Reads the whole run waiting, up to `max`, under one pin and one
    /// fence (see the ring's protocol).
    fn try_recv_many(&mut self, buf: &mut Vec<T>, max: usize) -> Result<usize, TryRecvError> {
        if max == 0 {
            return Ok(0);
        }
        try_ready(self.take_many(buf, max))
    }

    fn interest(&self) -> u64 {
        self.interest
    }
}
