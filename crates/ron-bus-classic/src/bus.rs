//! [`ClassicBus`]: the publisher handle, routing each message to the tokio
//! channels of the interest masks it matches.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicU64, AtomicUsize};

use parking_lot::{RwLock, RwLockReadGuard};

use ron_bus::{
    ALL_TOPICS, BusBackend, BusError, BusStats, MaskTable, PublishTally, normalize_capacity,
};
use tokio::sync::broadcast;

use crate::receiver::ClassicReceiver;

/// A bus backed by `tokio::sync::broadcast`; cloning gives another publisher
/// handle, and the bus closes when the last handle drops.
///
/// Full-mask subscribers share one tokio channel; each narrower interest
/// mask gets its own (created on first subscribe, pruned once its last
/// subscriber is gone), so a subscriber's capacity and lag count only
/// messages in its interest, and traffic outside it never wakes or charges
/// it.
pub struct ClassicBus<T> {
    shared: Arc<Shared<T>>,
    /// The channel of every full-mask subscriber: each handle holds a
    /// sender (tokio closes the channel when the last one drops, which is
    /// how the bus closes), so the common publish reaches tokio's state in
    /// one hop from the handle.
    all: broadcast::Sender<T>,
    /// Held by every handle and receiver (not in `Shared`, whose senders
    /// must drop for the bus to close); one pointer hop from a publish.
    stats: Arc<BusStats>,
    /// What a publish must look at, in one cache line one hop away.
    gate: Arc<Gate>,
}

struct Shared<T> {
    capacity: usize,
    /// Channels of narrower masks, pruned of channels without receivers
    /// whenever a subscriber is added.
    narrow: RwLock<MaskTable<broadcast::Sender<T>>>,
}

/// The two numbers that decide a publish's path, read without a lock.
///
/// Relaxed suffices for both: a subscribe that happens-before a publish (by
/// the caller's own synchronisation) makes its stores visible to that
/// publish's loads; a concurrent one may go either way, as it may with
/// tokio's own receiver count.
#[derive(Default)]
#[repr(align(128))]
struct Gate {
    /// Live receivers of every mask, counted before a receiver subscribes
    /// and after it has unsubscribed, so never below the channels' own
    /// counts. 0 lets a publish skip tokio's tail mutex entirely (tokio's
    /// own receiver count takes that mutex).
    live: AtomicUsize,
    /// `Shared::narrow`'s [`topics`](MaskTable::topics): a topic outside
    /// it skips the lock and the narrow channels. It may still include the
    /// mask of a channel whose receivers are gone (pruned at the next
    /// narrower subscribe): until then every publish whose topic shares a
    /// bit with that mask (every plain `publish` among them, while any
    /// receiver lives) takes the read lock and makes a tokio send to that
    /// channel, which takes tokio's tail mutex and stores nothing (no
    /// receiver). tokio drops a payload once every receiver has seen or
    /// dropped it, so a dead channel keeps its slots but no payload.
    narrow_topics: AtomicU64,
}

/// One count in `Gate::live`, released on drop.
pub(crate) struct LiveGuard(Arc<Gate>);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.live.fetch_sub(1, Relaxed);
    }
}

impl<T> Clone for ClassicBus<T> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
            all: self.all.clone(),
            stats: Arc::clone(&self.stats),
            gate: Arc::clone(&self.gate),
        }
    }
}

impl<T> fmt::Debug for ClassicBus<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClassicBus")
            .field("capacity", &self.shared.capacity)
            .field("narrow_topics", &self.gate.narrow_topics.load(Relaxed))
            .finish_non_exhaustive()
    }
}

impl<T: Clone + Send + Sync + 'static> ClassicBus<T> {
    /// Sends `msg` to every channel whose mask shares a bit with `topic`
    /// (none for topic 0); returns the receivers reached. `tally` learns
    /// once it is stored.
    fn route(
        &self,
        narrow: &MaskTable<broadcast::Sender<T>>,
        topic: u64,
        msg: T,
        tally: &mut PublishTally<'_>,
    ) -> usize {
        if topic == 0 {
            return 0;
        }
        let mut reached = 0;
        for sender in narrow.matching(topic) {
            reached += send(sender, msg.clone(), reached > 0, tally);
        }
        reached + send(&self.all, msg, reached > 0, tally)
    }

    /// The publish every `publish` and `publish_topic` makes. Inlined: the
    /// common cases (nobody listens; the topic matches no narrower mask)
    /// are a few loads, one tokio send and a counter bump.
    #[inline]
    fn publish_with(&self, topic: u64, msg: T) -> usize {
        // Records the message when dropped, also if a payload panics.
        let mut tally = PublishTally::single(&self.stats);
        // Topic 0 reaches nobody: counted as published to nobody (as on
        // SoA), before anything that could take the lock.
        let reached = if topic == 0 || self.nobody_listens() {
            0
        } else if self.gate.narrow_topics.load(Relaxed) & topic == 0 {
            send(&self.all, msg, false, &mut tally)
        } else {
            self.publish_routed(topic, msg, &mut tally)
        };
        tally.count(reached);
        reached
    }

    /// A publish when the topic may match a narrower interest mask: out of
    /// line, so the common publish stays small enough to inline.
    #[inline(never)]
    fn publish_routed(&self, topic: u64, msg: T, tally: &mut PublishTally<'_>) -> usize {
        self.route(&self.narrow(), topic, msg, tally)
    }

    /// The narrower masks' channels, read-locked (a payload's panic under
    /// the lock leaves the table intact; parking_lot's lock does not poison).
    fn narrow(&self) -> RwLockReadGuard<'_, MaskTable<broadcast::Sender<T>>> {
        self.shared.narrow.read()
    }
}

impl<T> ClassicBus<T> {
    /// No receiver is alive (see `Gate::live`).
    fn nobody_listens(&self) -> bool {
        self.gate.live.load(Relaxed) == 0
    }

    /// Counts a receiver about to subscribe; the guard uncounts it.
    fn count_receiver(&self) -> LiveGuard {
        self.gate.live.fetch_add(1, Relaxed);
        LiveGuard(Arc::clone(&self.gate))
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
        Ok(Self {
            shared: Arc::new(Shared {
                capacity,
                narrow: RwLock::new(MaskTable::new()),
            }),
            all,
            stats: Arc::new(BusStats::new()),
            gate: Arc::default(),
        })
    }

    #[inline]
    fn publish(&self, msg: T) -> usize {
        self.publish_with(ALL_TOPICS, msg)
    }

    #[inline]
    fn publish_topic(&self, topic: u64, msg: T) -> usize {
        self.publish_with(topic, msg)
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
            let narrow = (self.gate.narrow_topics.load(Relaxed) != 0).then(|| self.narrow());
            let none = MaskTable::new();
            let narrow = narrow.as_deref().unwrap_or(&none);
            for (topic, msg) in batch {
                let reached = self.route(narrow, topic, msg, &mut tally);
                tally.count(reached);
                total += reached;
            }
        }
        total
    }

    fn subscribe(&self) -> ClassicReceiver<T> {
        let live = self.count_receiver();
        ClassicReceiver::new(
            self.all.subscribe(),
            live,
            Arc::clone(&self.stats),
            ALL_TOPICS,
        )
    }

    fn subscribe_with_interest(&self, mask: u64) -> ClassicReceiver<T> {
        if mask == ALL_TOPICS {
            return self.subscribe();
        }
        let live = self.count_receiver();
        let mut narrow = self.shared.narrow.write();
        let mut created = None;
        let sender = narrow.subscribe(mask, broadcast::Sender::receiver_count, || {
            let (sender, rx) = broadcast::channel(self.shared.capacity);
            created = Some(rx);
            sender
        });
        // Subscribed before the lock is released, so a concurrent subscribe
        // cannot prune the channel in between.
        let rx = created.unwrap_or_else(|| sender.subscribe());
        self.gate.narrow_topics.store(narrow.topics(), Relaxed);
        ClassicReceiver::new(rx, live, Arc::clone(&self.stats), mask)
    }

    fn receiver_count(&self) -> usize {
        let narrow = self.narrow();
        self.all.receiver_count()
            + narrow
                .iter()
                .map(|(_, sender)| sender.receiver_count())
                .sum::<usize>()
    }

    fn stats(&self) -> &Arc<BusStats> {
        &self.stats
    }

    fn capacity(&self) -> usize {
        self.shared.capacity
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::time::Duration;

    use ron_bus::BusBackend;

    use super::ClassicBus;

    /// Topic 0 reaches nobody, so its publish takes no lock even while
    /// narrower masks exist (the crate docs' promise for a publish that
    /// matches no narrower mask), and counts as SoA counts it: published,
    /// reaching nobody.
    #[test]
    fn a_topic_0_publish_takes_no_lock() {
        let bus = ClassicBus::<u32>::with_capacity(8).unwrap();
        let _all = bus.subscribe();
        let _narrow = bus.subscribe_with_interest(0b10);
        let held = bus.shared.narrow.write();
        let publisher = bus.clone();
        let (done, finished) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || done.send(publisher.publish_topic(0, 1)));
        // A liveness bound, not a speed claim: a publish waiting on the
        // lock never answers while it is held.
        let reached = finished.recv_timeout(Duration::from_secs(10));
        drop(held);
        thread.join().unwrap().unwrap();
        assert_eq!(reached, Ok(0), "a topic-0 publish waited for the lock");
        let stats = bus.stats().snapshot();
        assert_eq!((stats.published, stats.no_receivers), (1, 1));
    }
}
