//! [`ClassicReceiver`]: one subscriber's tokio receiver, with its wake
//! accounting.

use std::fmt;
use std::future::poll_fn;
use std::pin::pin;
use std::sync::Arc;

use ron_bus::{BusReceiver, BusStats, RecvError, TryRecvError, WakeTally};
use tokio::sync::broadcast::{self, error};

use crate::bus::LiveGuard;

/// The subscriber side of a [`ClassicBus`](crate::ClassicBus).
pub struct ClassicReceiver<T> {
    rx: broadcast::Receiver<T>,
    /// Declared after `rx`: fields drop in order, so the count goes only
    /// once the channel receiver is gone.
    _live: LiveGuard,
    interest: u64,
    stats: Arc<BusStats>,
    /// Deliveries since this receiver last went idle.
    wakes: WakeTally,
}

impl<T> ClassicReceiver<T> {
    pub(crate) fn new(
        rx: broadcast::Receiver<T>,
        live: LiveGuard,
        stats: Arc<BusStats>,
        interest: u64,
    ) -> Self {
        Self {
            rx,
            _live: live,
            interest,
            stats,
            wakes: WakeTally::new(),
        }
    }
}

impl<T> Drop for ClassicReceiver<T> {
    fn drop(&mut self) {
        self.wakes.flush(&self.stats);
    }
}

impl<T> fmt::Debug for ClassicReceiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClassicReceiver")
            .field("interest", &self.interest)
            .finish_non_exhaustive()
    }
}

impl<T: Clone + Send + Sync + 'static> BusReceiver<T> for ClassicReceiver<T> {
    async fn recv(&mut self) -> Result<T, RecvError> {
        // A busy subscriber usually has a message waiting: take it without
        // building (and dropping) tokio's `Recv` future and its waiter.
        match self.try_recv() {
            Ok(msg) => return Ok(msg),
            Err(TryRecvError::Lagged(lost)) => return Err(RecvError::Lagged(lost)),
            Err(TryRecvError::Closed) => return Err(RecvError::Closed),
            Err(TryRecvError::Empty) => {}
        }
        // Tokio wakes a parked receiver once and not again until it
        // re-parks: a delivery that ended a park is a wake-up sent, any
        // other a wake-up suppressed.
        let mut parked = false;
        let outcome = {
            let Self {
                rx, stats, wakes, ..
            } = self;
            let mut next = pin!(rx.recv());
            poll_fn(|cx| {
                let poll = next.as_mut().poll(cx);
                if poll.is_pending() && !parked {
                    parked = true;
                    // Going idle: publish the local wake counts.
                    wakes.flush(stats);
                }
                poll
            })
            .await
        };
        match outcome {
            Ok(msg) => {
                self.wakes.delivered(parked);
                Ok(msg)
            }
            Err(error::RecvError::Lagged(lost)) => {
                self.stats.record_lag(lost);
                Err(RecvError::Lagged(lost))
            }
            Err(error::RecvError::Closed) => {
                self.wakes.flush(&self.stats);
                Err(RecvError::Closed)
            }
        }
    }

    fn try_recv(&mut self) -> Result<T, TryRecvError> {
        match self.rx.try_recv() {
            Ok(msg) => {
                self.wakes.delivered(false);
                Ok(msg)
            }
            Err(error::TryRecvError::Lagged(lost)) => {
                self.stats.record_lag(lost);
                Err(TryRecvError::Lagged(lost))
            }
            Err(error::TryRecvError::Empty) => {
                self.wakes.flush(&self.stats);
                Err(TryRecvError::Empty)
            }
            Err(error::TryRecvError::Closed) => {
                self.wakes.flush(&self.stats);
                Err(TryRecvError::Closed)
            }
        }
    }

    fn interest(&self) -> u64 {
        self.interest
    }
}
