//! [`ReferenceBus`]: the contract, executed as plainly as possible.
//!
//! One mutex around one bounded queue per subscriber. Slow (every publish
//! locks and walks every subscriber) but easy to see correct: it is the
//! executable specification the conformance kit is checked against, and what
//! the examples in these docs run on. Production code wants
//! `ron-bus-classic` or `ron-bus-soa`.

use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard};
use std::task::{Poll, Waker};

use crate::{
    ALL_TOPICS, BusBackend, BusError, BusReceiver, BusStats, PublishTally, RecvError, TryRecvError,
    WakeTally, normalize_capacity,
};

/// A bus that keeps one bounded queue per subscriber behind a mutex.
///
/// # Example
///
/// ```
/// use ron_bus::reference::ReferenceBus;
/// use ron_bus::{BusBackend, BusReceiver, TryRecvError};
///
/// let bus = ReferenceBus::<u32>::with_capacity(2)?;
/// let mut rx = bus.subscribe();
/// assert_eq!(bus.publish(1), 1);
/// assert_eq!(rx.try_recv(), Ok(1));
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
/// # Ok::<(), ron_bus::BusError>(())
/// ```
pub struct ReferenceBus<T> {
    shared: Arc<Shared<T>>,
    /// Counts publisher handles: the bus closes when the last one drops.
    _publisher: Arc<PublisherGuard<T>>,
}

struct Shared<T> {
    capacity: usize,
    stats: Arc<BusStats>,
    state: Mutex<State<T>>,
}

struct State<T> {
    closed: bool,
    next_id: u64,
    subscribers: Vec<Subscriber<T>>,
}

/// One subscriber's view: what it has not received yet, and what it lost.
struct Subscriber<T> {
    id: u64,
    mask: u64,
    queue: VecDeque<T>,
    lost: u64,
    /// Set while the subscriber is parked; taken by the first publish that
    /// wakes it, so later publishes find it already notified.
    waker: Option<Waker>,
}

/// Closes the bus, waking every parked subscriber, when the last publisher
/// handle drops.
struct PublisherGuard<T>(Arc<Shared<T>>);

impl<T> Drop for PublisherGuard<T> {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.closed = true;
        for sub in &mut state.subscribers {
            if let Some(waker) = sub.waker.take() {
                waker.wake();
            }
        }
    }
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A payload's `clone` or `drop` may panic under this lock; every
        // change under it leaves the state consistent at each point where
        // one runs (see `deliver`), so the lock (parking_lot's, which does
        // not poison) is simply released by the unwind.
        self.state.lock()
    }
}

/// The wakers a publish took from parked subscribers, and its wake-up
/// counts: when it drops, after the lock is released, the counts go to
/// the stats and the wakers are woken, also when a payload's `clone` or
/// `drop` panicked half-way (a subscriber that got a message is always
/// woken, and every wake-up sent is counted).
struct Wakeups<'a> {
    wakers: Vec<Waker>,
    /// Each delivery: to a parked subscriber (its waker taken) or not.
    tally: WakeTally,
    stats: &'a BusStats,
}

impl<'a> Wakeups<'a> {
    fn new(stats: &'a BusStats) -> Self {
        Self {
            wakers: Vec::new(),
            tally: WakeTally::new(),
            stats,
        }
    }
}

impl Drop for Wakeups<'_> {
    fn drop(&mut self) {
        // Counted first: a woken subscriber finds its wake-up in the stats.
        self.tally.flush(self.stats);
        self.wakers.drain(..).for_each(Waker::wake);
    }
}

impl<T: Clone> ReferenceBus<T> {
    /// Delivers one message under the lock; returns the receivers and
    /// leaves the wakers to wake, and the wake-ups sent and suppressed, in
    /// `wakeups`. `tally` learns once the message is stored for a
    /// subscriber: a panic after that counts it as published.
    fn deliver(
        &self,
        state: &mut State<T>,
        topic: u64,
        msg: &T,
        wakeups: &mut Wakeups<'_>,
        tally: &mut PublishTally<'_>,
    ) -> usize {
        let mut receivers = 0;
        for sub in state.subscribers.iter_mut().filter(|s| s.mask & topic != 0) {
            receivers += 1;
            // Stored before the oldest goes: the `drop` below (which may
            // panic) runs once this subscriber has the message.
            sub.queue.push_back(msg.clone());
            tally.in_flight(true);
            if sub.queue.len() > self.shared.capacity {
                // Counted before the payload's `drop` runs.
                sub.lost += 1;
                sub.queue.pop_front();
            }
            let waker = sub.waker.take();
            wakeups.tally.delivered(waker.is_some());
            wakeups.wakers.extend(waker);
        }
        receivers
    }
}

impl<T> Clone for ReferenceBus<T> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
            _publisher: Arc::clone(&self._publisher),
        }
    }
}

impl<T> fmt::Debug for ReferenceBus<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReferenceBus")
            .field("capacity", &self.shared.capacity)
            .finish_non_exhaustive()
    }
}

impl<T: Clone + Send + Sync + 'static> BusBackend<T> for ReferenceBus<T> {
    type Receiver = ReferenceReceiver<T>;

    fn with_capacity(capacity: usize) -> Result<Self, BusError> {
        let shared = Arc::new(Shared {
            capacity: normalize_capacity(capacity)?,
            stats: Arc::new(BusStats::new()),
            state: Mutex::new(State {
                closed: false,
                next_id: 0,
                subscribers: Vec::new(),
            }),
        });
        Ok(Self {
            _publisher: Arc::new(PublisherGuard(Arc::clone(&shared))),
            shared,
        })
    }

    fn publish(&self, msg: T) -> usize {
        self.publish_topic(ALL_TOPICS, msg)
    }

    fn publish_topic(&self, topic: u64, msg: T) -> usize {
        let mut wakeups = Wakeups::new(&self.shared.stats);
        let mut tally = PublishTally::single(&self.shared.stats);
        let receivers = self.deliver(
            &mut self.shared.lock(),
            topic,
            &msg,
            &mut wakeups,
            &mut tally,
        );
        tally.count(receivers);
        // The publish is counted before its wake-ups (when `wakeups` drops).
        drop(tally);
        receivers
    }

    fn publish_many_topic<I: IntoIterator<Item = (u64, T)>>(&self, batch: I) -> usize {
        let mut wakeups = Wakeups::new(&self.shared.stats);
        // Records the messages published, also if a payload panics.
        let mut tally = PublishTally::batch(&self.shared.stats);
        let mut total = 0;
        {
            let mut state = self.shared.lock();
            for (topic, msg) in batch {
                let receivers = self.deliver(&mut state, topic, &msg, &mut wakeups, &mut tally);
                tally.count(receivers);
                total += receivers;
            }
        }
        drop(tally);
        // One sweep for the whole batch, after every message is in place
        // (when `wakeups` drops, after the lock).
        total
    }

    fn subscribe(&self) -> ReferenceReceiver<T> {
        self.subscribe_with_interest(ALL_TOPICS)
    }

    fn subscribe_with_interest(&self, mask: u64) -> ReferenceReceiver<T> {
        let mut state = self.shared.lock();
        let id = state.next_id;
        state.next_id += 1;
        state.subscribers.push(Subscriber {
            id,
            mask,
            queue: VecDeque::new(),
            lost: 0,
            waker: None,
        });
        ReferenceReceiver {
            shared: Arc::clone(&self.shared),
            id,
            mask,
        }
    }

    fn receiver_count(&self) -> usize {
        self.shared.lock().subscribers.len()
    }

    fn stats(&self) -> &Arc<BusStats> {
        &self.shared.stats
    }

    fn capacity(&self) -> usize {
        self.shared.capacity
    }
}

/// The subscriber side of a [`ReferenceBus`].
pub struct ReferenceReceiver<T> {
    shared: Arc<Shared<T>>,
    id: u64,
    mask: u64,
}

impl<T> ReferenceReceiver<T> {
    /// Takes the next outcome for this subscriber, or `None` if it must wait
    /// (then `waker`, if given, is stored to be woken by the next publish).
    /// What is waiting is taken by `from_queue` from the subscriber's
    /// queue (`None`: it was empty); a lag can only be at the front of the
    /// queue, so `from_queue` may move a whole run under this one lock.
    fn take<R>(
        &self,
        waker: Option<&Waker>,
        from_queue: impl FnOnce(&mut VecDeque<T>) -> Option<R>,
    ) -> Option<Result<R, TryRecvError>> {
        let mut state = self.shared.lock();
        let closed = state.closed;
        // A receiver's entry lives until the receiver drops.
        let Some(sub) = state.subscribers.iter_mut().find(|s| s.id == self.id) else {
            return Some(Err(TryRecvError::Closed));
        };
        if sub.lost > 0 {
            return Some(Err(TryRecvError::Lagged(std::mem::take(&mut sub.lost))));
        }
        if let Some(taken) = from_queue(&mut sub.queue) {
            return Some(Ok(taken));
        }
        if closed {
            return Some(Err(TryRecvError::Closed));
        }
        sub.waker = waker.cloned();
        None
    }

    fn account<M>(&self, outcome: Result<M, TryRecvError>) -> Result<M, TryRecvError> {
        if let Err(TryRecvError::Lagged(lost)) = outcome {
            self.shared.stats.record_lag(lost);
        }
        outcome
    }
}

/// Moves up to `max` messages from the front of `queue` to `buf`; `None`
/// if there were none.
fn take_run<T>(queue: &mut VecDeque<T>, buf: &mut Vec<T>, max: usize) -> Option<usize> {
    let n = max.min(queue.len());
    (n > 0).then(|| {
        buf.extend(queue.drain(..n));
        n
    })
}

/// `recv`'s error for what `take` found: `take` never reports `Empty` when
/// given a waker (it parks instead).
fn to_recv_error(error: TryRecvError) -> RecvError {
    match error {
        TryRecvError::Lagged(n) => RecvError::Lagged(n),
        TryRecvError::Closed | TryRecvError::Empty => RecvError::Closed,
    }
}

impl<T> Drop for ReferenceReceiver<T> {
    fn drop(&mut self) {
        self.shared.lock().subscribers.retain(|s| s.id != self.id);
    }
}

impl<T> fmt::Debug for ReferenceReceiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReferenceReceiver")
            .field("id", &self.id)
            .field("mask", &self.mask)
            .finish()
    }
}

impl<T: Clone + Send + Sync + 'static> BusReceiver<T> for ReferenceReceiver<T> {
    fn recv(&mut self) -> impl Future<Output = Result<T, RecvError>> + Send {
        poll_fn(
            move |cx| match self.take(Some(cx.waker()), VecDeque::pop_front) {
                Some(outcome) => Poll::Ready(self.account(outcome).map_err(to_recv_error)),
                None => Poll::Pending,
            },
        )
    }

    fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let outcome = self
            .take(None, VecDeque::pop_front)
            .unwrap_or(Err(TryRecvError::Empty));
        self.account(outcome)
    }

    /// Moves the whole run waiting, up to `max`, under one lock.
    fn recv_many(
        &mut self,
        buf: &mut Vec<T>,
        max: usize,
    ) -> impl Future<Output = Result<usize, RecvError>> + Send {
        poll_fn(move |cx| {
            if max == 0 {
                return Poll::Ready(Ok(0));
            }
            match self.take(Some(cx.waker()), |queue| take_run(queue, buf, max)) {
                Some(outcome) => Poll::Ready(self.account(outcome).map_err(to_recv_error)),
                None => Poll::Pending,
            }
        })
    }

    /// Moves the whole run waiting, up to `max`, under one lock.
    fn try_recv_many(&mut self, buf: &mut Vec<T>, max: usize) -> Result<usize, TryRecvError> {
        if max == 0 {
            return Ok(0);
        }
        let outcome = self
            .take(None, |queue| take_run(queue, buf, max))
            .unwrap_or(Err(TryRecvError::Empty));
        self.account(outcome)
    }

    fn interest(&self) -> u64 {
        self.mask
    }
}
