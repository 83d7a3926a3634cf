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
    /// A lag tokio reported after a run of `try_recv_many` had taken
    /// messages (tokio's receiver has moved past it): the next receive
    /// reports it, where one-by-one receives would have, and counts it.
    lagged: Option<u64>,
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
            lagged: None,
        }
    }

    /// A lag held back by a run (see `lagged`), now reported and counted.
    fn held_lag(&mut self) -> Option<u64> {
        let lost = self.lagged.take()?;
        self.stats.record_lag(lost);
        Some(lost)
    }

    /// tokio's `try_recv` with the wake accounting; a lag is the caller's
    /// to count (`record_lag`) once it reports it.
    fn try_take(&mut self) -> Result<T, TryRecvError>
    where
        T: Clone,
    {
        match self.rx.try_recv() {
            Ok(msg) => {
                self.wakes.delivered(false);
                Ok(msg)
            }
            Err(error::TryRecvError::Lagged(lost)) => Err(TryRecvError::Lagged(lost)),
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

    /// Appends the messages waiting to `buf` (`appended` of them already
    /// were, in this call), up to `max` in all, with tokio's `try_recv` in
    /// a loop. Stops before a lag once it has messages: tokio has moved
    /// past that lag, so it is held for the next receive.
    fn take_run(
        &mut self,
        buf: &mut Vec<T>,
        max: usize,
        mut appended: usize,
    ) -> Result<usize, TryRecvError>
    where
        T: Clone,
    {
        while appended < max {
            match self.try_take() {
                Ok(msg) => {
                    buf.push(msg);
                    appended += 1;
                }
                Err(TryRecvError::Lagged(lost)) if appended > 0 => {
                    self.lagged = Some(lost);
                    break;
                }
                Err(TryRecvError::Lagged(lost)) => {
                    self.stats.record_lag(lost);
                    return Err(TryRecvError::Lagged(lost));
                }
                Err(error) if appended == 0 => return Err(error),
                // `Closed` is sticky (tokio keeps answering it): the next
                // call reports it.
                Err(TryRecvError::Empty | TryRecvError::Closed) => break,
            }
        }
        Ok(appended)
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
        // A busy subscriber usually has a message waiting (or a lag held
        // back by a run, `try_recv` reports it): take it without
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
        if let Some(lost) = self.held_lag() {
            return Err(TryRecvError::Lagged(lost));
        }
        let outcome = self.try_take();
        if let Err(TryRecvError::Lagged(lost)) = outcome {
            self.stats.record_lag(lost);
        }
        outcome
    }

    /// Takes the whole run waiting, up to `max`, with tokio's `try_recv`
    /// in a loop; waits (as `recv`) only when nothing is.
    async fn recv_many(&mut self, buf: &mut Vec<T>, max: usize) -> Result<usize, RecvError> {
        match self.try_recv_many(buf, max) {
            Ok(n) => return Ok(n),
            Err(TryRecvError::Lagged(lost)) => return Err(RecvError::Lagged(lost)),
            Err(TryRecvError::Closed) => return Err(RecvError::Closed),
            Err(TryRecvError::Empty) => {}
        }
        // Nothing waiting: wait for one (cancel-safe, as `recv`), then take
        // what came with it in the same poll.
        buf.push(self.recv().await?);
        // With one appended, the rest of the run cannot fail: a lag or
        // the close after it is the next call's.
        Ok(self.take_run(buf, max, 1).unwrap_or(1))
    }

    /// Takes the whole run waiting, up to `max`, with tokio's `try_recv`
    /// in a loop.
    fn try_recv_many(&mut self, buf: &mut Vec<T>, max: usize) -> Result<usize, TryRecvError> {
        if max == 0 {
            return Ok(0);
        }
        if let Some(lost) = self.held_lag() {
            return Err(TryRecvError::Lagged(lost));
        }
        self.take_run(buf, max, 0)
    }

    fn interest(&self) -> u64 {
        self.interest
    }
}
