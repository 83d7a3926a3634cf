//! The ron-kernel bus over `tokio::sync::broadcast`.
//!
//! [`ClassicBus`] implements the [`ron_bus`] contract with tokio's broadcast
//! channel doing the storage, the lag detection and the waking. What tokio
//! does not give, the wrapper adds, and says so:
//!
//! * **Exact lag** is tokio's own `Lagged(n)`; the wrapper only counts it.
//! * **Interest masks**: tokio has no topics, so each distinct interest mask
//!   gets its own tokio channel (subscribers with the same mask share it) and
//!   a publish sends to the channels whose mask matches its topic. Messages
//!   outside a subscriber's interest therefore never reach its channel, never
//!   wake it and never push its messages out. With only full-mask
//!   subscribers, a publish is exactly one tokio send.
//! * **Wake accounting**: tokio already wakes a parked receiver once and not
//!   again until it re-parks. The receiver counts a delivery that ended a
//!   park as a notify *send* and any other delivery as *suppressed*, in local
//!   counters added to the bus stats when it goes idle (parks, finds the bus
//!   empty, or drops), so receiving costs no shared write.
//! * **`publish_many`** (and `publish_many_topic`, each message on its own
//!   topic) sends in order; tokio wakes parked receivers on the first
//!   message and finds them awake for the rest, so a batch costs one
//!   wake-up per parked subscriber. It saves the per-message bookkeeping.
//! * **Panicking payloads**: a `clone` or `drop` that panics inside a send
//!   or a receive propagates to its caller; tokio's locks ignore poisoning
//!   and its slots stay consistent, so the bus stays usable (the
//!   conformance kit's payload cases check it). A receive whose `clone`
//!   panicked has moved past that message (tokio's cursor moves first, the
//!   contract on every backend); a send whose replaced payload's `drop`
//!   panicked has stored its message, and counts it in the stats, but may
//!   not have woken parked receivers (the next send does).
//!
//! # Performance
//!
//! `publish`: one tokio send (a mutex and a slot write) plus a thread-local
//! counter bump; one more send per matching narrower interest mask. No
//! allocation. `subscribe`: tokio's; a new interest mask allocates a channel
//! of `capacity` slots. Measured against raw tokio in
//! `benches/classic.rs` (see the README).
//!
//! # Example
//!
//! ```
//! use ron_bus::{BusBackend, BusReceiver};
//! use ron_bus_classic::ClassicBus;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let bus = ClassicBus::with_capacity(ron_bus::autotune_capacity(2, None))?;
//! let mut rx = bus.subscribe();
//! assert_eq!(bus.publish("hello"), 1);
//! assert_eq!(rx.recv().await?, "hello");
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::future::poll_fn;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};

use ron_bus::{
    ALL_TOPICS, BusBackend, BusError, BusReceiver, BusStats, PublishTally, RecvError, TryRecvError,
    normalize_capacity,
};
use tokio::sync::broadcast::{self, error};

/// A bus backed by `tokio::sync::broadcast`; cloning gives another publisher
/// handle, and the bus closes when the last handle drops.
pub struct ClassicBus<T> {
    /// The channel of every full-mask subscriber: each handle holds a
    /// sender (tokio closes the channel when the last one drops), so the
    /// common publish reaches tokio's state in one hop from the handle.
    all: broadcast::Sender<T>,
    shared: Arc<Shared<T>>,
    /// Held by every handle and receiver (not in `Shared`, whose senders
    /// must drop for the bus to close); one pointer hop from a publish.
    stats: Arc<BusStats>,
    /// What a publish must look at, in one cache line one hop away.
    route: Arc<Route>,
}

struct Shared<T> {
    capacity: usize,
    /// One channel per narrower interest mask, pruned of channels without
    /// receivers whenever a subscriber is added.
    narrow: RwLock<Vec<(u64, broadcast::Sender<T>)>>,
}

impl<T> Clone for ClassicBus<T> {
    fn clone(&self) -> Self {
        Self {
            all: self.all.clone(),
            shared: Arc::clone(&self.shared),
            stats: Arc::clone(&self.stats),
            route: Arc::clone(&self.route),
        }
    }
}

impl<T> fmt::Debug for ClassicBus<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClassicBus")
            .field("capacity", &self.shared.capacity)
            .field("narrow_masks", &self.route.narrow.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl<T: Clone + Send + Sync + 'static> ClassicBus<T> {
    /// Sends `msg` to every channel whose mask shares a bit with `topic`;
    /// returns the receivers reached. `tally` learns once it is stored.
    fn send_matching(
        &self,
        narrow: &[(u64, broadcast::Sender<T>)],
        topic: u64,
        msg: T,
        tally: &mut PublishTally<'_>,
    ) -> usize {
        if topic == 0 {
            return 0;
        }
        let mut reached = 0;
        for (mask, sender) in narrow.iter().filter(|(mask, _)| mask & topic != 0) {
            debug_assert_ne!(*mask, ALL_TOPICS);
            reached += send(sender, msg.clone(), reached > 0, tally);
        }
        reached + send(&self.all, msg, reached > 0, tally)
    }

    /// A publish when narrower interest masks exist: out of line, so the
    /// common publish stays small enough to inline.
    #[inline(never)]
    fn publish_slow(&self, topic: u64, msg: T, tally: &mut PublishTally<'_>) -> usize {
        self.send_matching(&self.narrow(), topic, msg, tally)
    }

    /// The narrower masks' channels, read-locked (a payload's panic under
    /// the lock poisons nothing the lock guards: the list is intact).
    fn narrow(&self) -> RwLockReadGuard<'_, Vec<(u64, broadcast::Sender<T>)>> {
        self.shared
            .narrow
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// One tokio send, with `tally` told the message is in flight while tokio
/// may store it: a send runs payload code (the replaced payload's `drop`,
/// which may panic) only after it stored the message. `stored`: an earlier
/// send already stored it.
fn send<T>(
    sender: &broadcast::Sender<T>,
    msg: T,
    stored: bool,
    tally: &mut PublishTally<'_>,
) -> usize {
    tally.in_flight(true);
    match sender.send(msg) {
        Ok(receivers) => receivers,
        Err(unsent) => {
            // No receiver: nothing stored; the message drops here.
            tally.in_flight(stored);
            drop(unsent);
            0
        }
    }
}

impl<T: Clone + Send + Sync + 'static> BusBackend<T> for ClassicBus<T> {
    type Receiver = ClassicReceiver<T>;

    fn with_capacity(capacity: usize) -> Result<Self, BusError> {
        let capacity = normalize_capacity(capacity)?;
        let (all, _) = broadcast::channel(capacity);
        let stats = Arc::new(BusStats::new());
        Ok(Self {
            all,
            shared: Arc::new(Shared {
                capacity,
                narrow: RwLock::new(Vec::new()),
            }),
            stats,
            route: Arc::default(),
        })
    }

    #[inline]
    fn publish(&self, msg: T) -> usize {
        self.publish_topic(ALL_TOPICS, msg)
    }

    #[inline]
    fn publish_topic(&self, topic: u64, msg: T) -> usize {
        // Records the message when dropped, also if a payload panics.
        let mut tally = PublishTally::single(&self.stats);
        let reached = if self.nobody_listens() {
            0
        } else if topic == ALL_TOPICS && self.route.narrow.load(Ordering::Relaxed) == 0 {
            send(&self.all, msg, false, &mut tally)
        } else {
            self.publish_slow(topic, msg, &mut tally)
        };
        tally.count(reached);
        reached
    }

    fn publish_many_topic<I: IntoIterator<Item = (u64, T)>>(&self, batch: I) -> usize {
        // Records the messages published when dropped: also after a
        // payload's panic, counting exactly those stored.
        let mut tally = PublishTally::batch(&self.stats);
        let mut total = 0;
        if self.nobody_listens() {
            batch.into_iter().for_each(|_| tally.count(0));
        } else {
            // Taken once per batch, only when narrower masks exist; without
            // them every topic but 0 goes to the full-mask channel alone.
            let narrow = (self.route.narrow.load(Ordering::Relaxed) != 0).then(|| self.narrow());
            let narrow = narrow.as_deref().map_or(&[][..], |n| n);
            for (topic, msg) in batch {
                let reached = self.send_matching(narrow, topic, msg, &mut tally);
                tally.count(reached);
                total += reached;
            }
        }
        total
    }

    fn subscribe(&self) -> ClassicReceiver<T> {
        let live = self.count_receiver();
        self.receiver(self.all.subscribe(), ALL_TOPICS, live)
    }

    fn subscribe_with_interest(&self, mask: u64) -> ClassicReceiver<T> {
        if mask == ALL_TOPICS {
            return self.subscribe();
        }
        let live = self.count_receiver();
        let mut narrow = self
            .shared
            .narrow
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        narrow.retain(|(_, sender)| sender.receiver_count() > 0);
        let rx = match narrow.iter().find(|(m, _)| *m == mask) {
            Some((_, sender)) => sender.subscribe(),
            None => {
                let (sender, rx) = broadcast::channel(self.shared.capacity);
                narrow.push((mask, sender));
                rx
            }
        };
        self.route.narrow.store(narrow.len(), Ordering::Relaxed);
        self.receiver(rx, mask, live)
    }

    fn receiver_count(&self) -> usize {
        let narrow = self.narrow();
        self.all.receiver_count()
            + narrow
                .iter()
                .map(|(_, s)| s.receiver_count())
                .sum::<usize>()
    }

    fn stats(&self) -> &Arc<BusStats> {
        &self.stats
    }

    fn capacity(&self) -> usize {
        self.shared.capacity
    }
}

impl<T> ClassicBus<T> {
    /// No receiver is alive (see `Route::live`).
    fn nobody_listens(&self) -> bool {
        self.route.live.load(Ordering::Relaxed) == 0
    }

    /// Counts a receiver about to subscribe; the guard uncounts it.
    fn count_receiver(&self) -> LiveGuard {
        self.route.live.fetch_add(1, Ordering::Relaxed);
        LiveGuard(Arc::clone(&self.route))
    }

    fn receiver(
        &self,
        rx: broadcast::Receiver<T>,
        interest: u64,
        live: LiveGuard,
    ) -> ClassicReceiver<T> {
        ClassicReceiver {
            rx,
            _live: live,
            interest,
            stats: Arc::clone(&self.stats),
            woken: 0,
            suppressed: 0,
        }
    }
}

/// The two numbers that decide a publish's path, read without a lock.
///
/// Relaxed suffices for both: a subscribe that happens-before a publish (by
/// the caller's own synchronisation) makes its stores visible to that
/// publish's loads; a concurrent one may go either way, as it may with
/// tokio's own receiver count.
#[derive(Default)]
#[repr(align(128))]
struct Route {
    /// Live receivers of every mask, counted before a receiver subscribes
    /// and after it has unsubscribed, so never below the channels' own
    /// counts. 0 lets a publish skip tokio's tail mutex entirely.
    live: AtomicUsize,
    /// `Shared::narrow.len()`: 0 lets a publish skip that lock.
    narrow: AtomicUsize,
}

/// One count in `Route::live`, released on drop.
struct LiveGuard(Arc<Route>);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.live.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The subscriber side of a [`ClassicBus`].
pub struct ClassicReceiver<T> {
    rx: broadcast::Receiver<T>,
    /// Declared after `rx`: fields drop in order, so the count goes only
    /// once the channel receiver is gone.
    _live: LiveGuard,
    interest: u64,
    stats: Arc<BusStats>,
    /// Deliveries that ended a park, not yet added to `stats`.
    woken: u64,
    /// Deliveries to an awake receiver, not yet added to `stats`.
    suppressed: u64,
}

impl<T> ClassicReceiver<T> {
    /// Adds the local wake counts to the bus stats; called when idle.
    fn flush(&mut self) {
        if self.woken + self.suppressed > 0 {
            self.stats.record_notify(self.woken, self.suppressed);
            self.woken = 0;
            self.suppressed = 0;
        }
    }
}

impl<T> Drop for ClassicReceiver<T> {
    fn drop(&mut self) {
        self.flush();
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
        let mut parked = false;
        let outcome = {
            let Self {
                rx,
                stats,
                woken,
                suppressed,
                ..
            } = self;
            let mut next = pin!(rx.recv());
            poll_fn(|cx| {
                let poll = next.as_mut().poll(cx);
                if poll.is_pending() && !parked {
                    parked = true;
                    // Going idle: publish the local wake counts.
                    stats.record_notify(std::mem::take(woken), std::mem::take(suppressed));
                }
                poll
            })
            .await
        };
        match outcome {
            Ok(msg) => {
                if parked {
                    self.woken += 1;
                } else {
                    self.suppressed += 1;
                }
                Ok(msg)
            }
            Err(error::RecvError::Lagged(lost)) => {
                self.stats.record_lag(lost);
                Err(RecvError::Lagged(lost))
            }
            Err(error::RecvError::Closed) => {
                self.flush();
                Err(RecvError::Closed)
            }
        }
    }

    fn try_recv(&mut self) -> Result<T, TryRecvError> {
        match self.rx.try_recv() {
            Ok(msg) => {
                self.suppressed += 1;
                Ok(msg)
            }
            Err(error::TryRecvError::Lagged(lost)) => {
                self.stats.record_lag(lost);
                Err(TryRecvError::Lagged(lost))
            }
            Err(error::TryRecvError::Empty) => {
                self.flush();
                Err(TryRecvError::Empty)
            }
            Err(error::TryRecvError::Closed) => {
                self.flush();
                Err(TryRecvError::Closed)
            }
        }
    }

    fn interest(&self) -> u64 {
        self.interest
    }
}
