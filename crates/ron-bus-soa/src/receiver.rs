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

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, RecvError>> {
        if let Some(ready) = ready(self.take()) {
            return Poll::Ready(ready);
        }
        // Park, then look again: a publish that missed our registration
        // wrote before our second look (see `Ring::park`).
        self.ring.park(&mut self.ticket, cx.waker());
        self.parked = true;
        match ready(self.take()) {
            Some(ready) => Poll::Ready(ready),
            None => Poll::Pending,
        }
    }
}

fn ready<T>(read: Read<T>) -> Option<Result<T, RecvError>> {
    match read {
        Read::Message(msg) => Some(Ok(msg)),
        Read::Lagged(lost) => Some(Err(RecvError::Lagged(lost))),
        Read::Closed => Some(Err(RecvError::Closed)),
        Read::Empty => None,
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
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    fn try_recv(&mut self) -> Result<T, TryRecvError> {
        match self.take() {
            Read::Message(msg) => Ok(msg),
            Read::Lagged(lost) => Err(TryRecvError::Lagged(lost)),
            Read::Empty => Err(TryRecvError::Empty),
            Read::Closed => Err(TryRecvError::Closed),
        }
    }

    fn interest(&self) -> u64 {
        self.interest
    }
}
