//! [`SoaBus`]: the publisher handle, routing each message to the rings of
//! the interest masks it matches.

use std::fmt;
use std::sync::atomic::Ordering::Relaxed;

use ron_bus::{
    ALL_TOPICS, BusBackend, BusError, BusStats, MaskTable, PublishTally, normalize_capacity,
};

use crate::receiver::SoaReceiver;
use crate::ring::Ring;
use crate::sync::{Arc, AtomicU64, RwLock};

/// A bus on lock-free structure-of-arrays rings; cloning gives another
/// publisher handle, and the bus closes when the last handle drops.
///
/// Full-mask subscribers share one ring; each narrower interest mask gets
/// its own ring (created on first subscribe), so a subscriber's capacity
/// and lag count only messages in its interest, and traffic outside it
/// never wakes or charges it.
///
/// A narrow ring outlives its last subscriber: the bus keeps it until the
/// next [`subscribe_with_interest`](BusBackend::subscribe_with_interest)
/// (of any narrower mask) prunes it, or until the last bus handle drops.
/// Until then it keeps its allocation and the payloads its cells hold, up
/// to `2 × capacity` of them (the ring's cells; see `ring.rs`): a payload
/// that owns a large buffer or a resource stays alive that long, possibly
/// for the bus's lifetime if no narrower subscribe follows. Each publish
/// whose topic matches its mask also pays for it (see `narrow_topics`).
pub struct SoaBus<T> {
    shared: Arc<Shared<T>>,
    /// `shared.all` and `shared.stats`, also held here so the common
    /// publish reaches each in one pointer hop from the handle.
    all: Arc<Ring<T>>,
    stats: std::sync::Arc<BusStats>,
    /// Counts publisher handles: the last one to drop closes the rings.
    _publisher: Arc<PublisherGuard<T>>,
}

pub(crate) struct Shared<T> {
    capacity: usize,
    /// A `std` `Arc` even under loom: the trait hands it out as one.
    pub(crate) stats: std::sync::Arc<BusStats>,
    all: Arc<Ring<T>>,
    /// Rings of narrower masks, pruned of rings without receivers whenever
    /// a subscriber is added.
    narrow: RwLock<MaskTable<Arc<Ring<T>>>>,
    /// `narrow`'s [`topics`](MaskTable::topics), read by every publish without
    /// the lock: a topic outside it skips the lock and the narrow rings.
    /// Relaxed: a subscribe ordered before a publish by the caller is seen
    /// by it; a concurrent one may go either way. It may still include the
    /// mask of a ring whose receivers are gone (pruned at the next narrower
    /// subscribe): until then every publish whose topic shares a bit with
    /// that mask (every plain `publish` among them) takes the slow path,
    /// the read lock, a load of that ring's receiver count (a ring nobody
    /// reads is not written) and a wake check, as if it had a subscriber.
    narrow_topics: AtomicU64,
}

/// Closes every ring when the last publisher handle drops.
struct PublisherGuard<T>(Arc<Shared<T>>);

impl<T> Drop for PublisherGuard<T> {
    fn drop(&mut self) {
        // Every publish through any handle happened before this drop (the
        // handles' Arc counts synchronise), so closing now loses nothing.
        self.0.all.close();
        for (_, ring) in crate::sync::read(&self.0.narrow).iter() {
            ring.close();
        }
    }
}

impl<T> Clone for SoaBus<T> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
            all: Arc::clone(&self.all),
            stats: std::sync::Arc::clone(&self.stats),
            _publisher: Arc::clone(&self._publisher),
        }
    }
}

impl<T> fmt::Debug for SoaBus<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SoaBus")
            .field("capacity", &self.shared.capacity)
            .field("narrow_topics", &self.shared.narrow_topics.load(Relaxed))
            .finish_non_exhaustive()
    }
}

impl<T: Clone + Send + Sync + 'static> SoaBus<T> {
    /// Writes `msg` to every ring whose mask shares a bit with `topic` and
    /// has receivers; returns the receivers reached. Wakes nobody (the
    /// caller sweeps once per publish or batch). `tally` learns once the
    /// message is stored in a ring.
    fn route(
        &self,
        narrow: &MaskTable<Arc<Ring<T>>>,
        topic: u64,
        msg: T,
        tally: &mut PublishTally<'_>,
    ) -> usize {
        let mut reached = 0;
        for ring in narrow.matching(topic) {
            reached += push_if_heard(ring, msg.clone(), tally);
        }
        reached + push_if_heard(&self.shared.all, msg, tally)
    }

    /// The publish every `publish` and `publish_topic` makes. Inlined: the
    /// common cases (nobody listens; only full-mask subscribers) are a few
    /// loads and a counter bump, and the writes are out of line.
    #[inline]
    fn publish_with(&self, topic: u64, msg: T) -> usize {
        if topic != 0 && self.shared.narrow_topics.load(Relaxed) & topic == 0 {
            match self.all.receivers() {
                0 => {
                    self.stats.record_publish(0);
                    0
                }
                receivers => self.publish_all(receivers, msg),
            }
        } else {
            self.publish_routed(topic, msg)
        }
    }

    /// Writes `msg` to the full-mask ring, which `receivers` read, and wakes
    /// its parked subscribers.
    #[inline(never)]
    fn publish_all(&self, receivers: usize, msg: T) -> usize {
        let _sweep = Sweep::new(&self.all, None, ALL_TOPICS);
        // Counted first: `push` stores the message before it runs any
        // payload code (the replaced payload's `drop`, which may panic; I3).
        self.stats.record_publish(receivers);
        self.all.push(msg);
        receivers
    }

    /// Writes `msg` to every ring whose mask matches `topic` (none for
    /// topic 0) and wakes their parked subscribers.
    #[inline(never)]
    fn publish_routed(&self, topic: u64, msg: T) -> usize {
        // Records the message when dropped, also if a payload panics.
        let mut tally = PublishTally::single(&self.stats);
        if topic == 0 {
            tally.count(0);
            return 0;
        }
        let narrow = crate::sync::read(&self.shared.narrow);
        let _sweep = Sweep::new(&self.shared.all, Some(&narrow), topic);
        let reached = self.route(&narrow, topic, msg, &mut tally);
        tally.count(reached);
        reached
    }

    /// `publish_many_topic` with chunks of `N` messages: each ring claims a
    /// chunk's sequence numbers at once. The chunk and its copies live on
    /// the stack (a batch allocates nothing), `N` chosen by the payload's
    /// size (see [`BATCH_STACK_BYTES`]).
    fn publish_chunked<const N: usize>(&self, batch: impl IntoIterator<Item = (u64, T)>) -> usize {
        let narrow = crate::sync::read(&self.shared.narrow);
        // One wake sweep for the batch, of the rings its topics reached;
        // also when a payload's `clone` or `drop` panics half-way, so a
        // subscriber never sleeps on a message it was sent.
        let mut sweep = Sweep::new(&self.shared.all, Some(&narrow), 0);
        // Records the messages published when dropped: also after a panic,
        // counting exactly those stored (or that reached nobody).
        let mut tally = PublishTally::batch(&self.shared.stats);
        let mut chunk: [Option<T>; N] = std::array::from_fn(|_| None);
        let mut topics = [0u64; N];
        let mut total = 0;
        let mut batch = batch.into_iter();
        loop {
            let mut filled = 0;
            while filled < N {
                match batch.next() {
                    None => break,
                    // Topic 0 reaches nobody: counted, never written.
                    Some((0, _)) => tally.count(0),
                    Some((topic, msg)) => {
                        chunk[filled] = Some(msg);
                        topics[filled] = topic;
                        sweep.topics |= topic;
                        filled += 1;
                    }
                }
            }
            if filled == 0 {
                break;
            }
            total +=
                self.push_chunk::<N>(&narrow, &mut chunk[..filled], &topics[..filled], &mut tally);
            // The payloads the writes replaced (and messages nobody heard)
            // drop here, once every claimed sequence is stamped: a `drop`
            // that panics finds the rings consistent (ring.rs, I3).
            chunk[..filled].iter_mut().for_each(|m| *m = None);
        }
        total
    }

    /// Writes one chunk (`msgs[k]` on `topics[k]`, at most `N <= 64`) to
    /// every ring that hears any of it, each ring claiming its share at
    /// once. Returns the receivers reached, summed over the messages; counts
    /// each message in `tally` as soon as a ring stored it (a later ring's
    /// `clone` or replaced payload's `drop` may panic), and those that
    /// reached nobody at the end. Leaves in `msgs` what the full-mask
    /// ring's writes replaced, for the caller to drop.
    fn push_chunk<const N: usize>(
        &self,
        narrow: &MaskTable<Arc<Ring<T>>>,
        msgs: &mut [Option<T>],
        topics: &[u64],
        tally: &mut PublishTally<'_>,
    ) -> usize {
        // `heard` has one bit per message of the chunk.
        const { assert!(N <= 64) };
        let mut reached = 0;
        // Bit k: message k reached someone.
        let mut heard = 0u64;
        for (mask, ring) in narrow.iter() {
            let receivers = ring.receivers();
            if receivers == 0 {
                continue;
            }
            let matching = topics
                .iter()
                .enumerate()
                .filter(|(_, topic)| *topic & mask != 0)
                .fold(0u64, |bits, (k, _)| bits | 1 << k);
            if matching == 0 {
                continue;
            }
            // Cloned before the ring claims anything: a `clone` that panics
            // leaves no claimed sequence unwritten (ring.rs, I3).
            let mut copy: [Option<T>; N] = std::array::from_fn(|k| {
                msgs.get(k)
                    .filter(|_| matching >> k & 1 == 1)
                    .cloned()
                    .flatten()
            });
            ring.push_all(&mut copy[..msgs.len()]);
            reached += receivers * matching.count_ones() as usize;
            tally.count_many((matching & !heard).count_ones() as usize, 0);
            heard |= matching;
            // `copy` drops here: the payloads its writes replaced.
        }
        let receivers = self.shared.all.receivers();
        if receivers > 0 {
            self.shared.all.push_all(msgs);
            reached += receivers * msgs.len();
            let all = u64::MAX >> (64 - msgs.len());
            tally.count_many((all & !heard).count_ones() as usize, 0);
            heard = all;
        }
        let nobody = msgs.len() - heard.count_ones() as usize;
        tally.count_many(nobody, nobody);
        reached
    }
}

/// Wakes the parked subscribers of the full-mask ring and of the narrow
/// rings whose mask shares a bit with `topics`, when dropped: after a
/// publish's writes, and also when a payload's `clone` or `drop` panicked
/// after some of them.
struct Sweep<'a, T> {
    all: &'a Ring<T>,
    /// `None`: a publish to the full-mask ring alone.
    narrow: Option<&'a MaskTable<Arc<Ring<T>>>>,
    /// The topics written so far (0: none, nothing to wake).
    topics: u64,
}

impl<'a, T> Sweep<'a, T> {
    #[inline]
    fn new(all: &'a Ring<T>, narrow: Option<&'a MaskTable<Arc<Ring<T>>>>, topics: u64) -> Self {
        Self {
            all,
            narrow,
            topics,
        }
    }
}

impl<T> Drop for Sweep<'_, T> {
    #[inline]
    fn drop(&mut self) {
        if self.topics == 0 {
            return;
        }
        for ring in self.narrow.iter().flat_map(|n| n.matching(self.topics)) {
            ring.wake_parked();
        }
        self.all.wake_parked();
    }
}

/// The stack budget of each of a batch's two message buffers (the chunk
/// and one ring's copy): chunks hold 64 messages, or 16, 4 or 1 for larger
/// payloads. An optimised build's frame holds about those two buffers, so
/// a 64 KiB payload costs about two copies of itself, not 128 (which would
/// overflow a 2 MiB worker stack). A debug build keeps more: moves through
/// `array::from_fn`, `Option::take` and the ring's write may each get their
/// own stack slot, a few more payloads' worth per frame. Either way the
/// stack used is bounded by the payload's size, never by the batch's
/// length (the kit's 64 KiB case runs unoptimised on a 2 MiB stack).
const BATCH_STACK_BYTES: usize = 8 * 1024;

/// Pushes to `ring` if anyone reads it (a message nobody can see is not
/// written: a subscriber arriving later starts after it anyway), telling
/// `tally` first: `push` stores the message before it runs any payload
/// code (I3).
fn push_if_heard<T: Clone>(ring: &Ring<T>, msg: T, tally: &mut PublishTally<'_>) -> usize {
    let receivers = ring.receivers();
    if receivers > 0 {
        tally.in_flight(true);
        ring.push(msg);
    }
    receivers
}

impl<T: Clone + Send + Sync + 'static> BusBackend<T> for SoaBus<T> {
    type Receiver = SoaReceiver<T>;

    fn with_capacity(capacity: usize) -> Result<Self, BusError> {
        let capacity = normalize_capacity(capacity)?;
        let shared = Arc::new(Shared {
            capacity,
            stats: std::sync::Arc::new(BusStats::new()),
            all: Arc::new(Ring::new(capacity)),
            narrow: RwLock::new(MaskTable::new()),
            narrow_topics: AtomicU64::new(0),
        });
        Ok(Self {
            _publisher: Arc::new(PublisherGuard(Arc::clone(&shared))),
            all: Arc::clone(&shared.all),
            stats: std::sync::Arc::clone(&shared.stats),
            shared,
        })
    }

    fn publish(&self, msg: T) -> usize {
        self.publish_with(ALL_TOPICS, msg)
    }

    fn publish_topic(&self, topic: u64, msg: T) -> usize {
        self.publish_with(topic, msg)
    }

    fn publish_many_topic<I: IntoIterator<Item = (u64, T)>>(&self, batch: I) -> usize {
        // The largest chunk (at most 64, for the `heard` bits) whose buffer
        // fits the stack budget. `size_of` is a constant: one arm runs, and
        // each arm is its own function, so only its buffers take stack.
        let message = std::mem::size_of::<Option<T>>();
        if 64 * message <= BATCH_STACK_BYTES {
            self.publish_chunked::<64>(batch)
        } else if 16 * message <= BATCH_STACK_BYTES {
            self.publish_chunked::<16>(batch)
        } else if 4 * message <= BATCH_STACK_BYTES {
            self.publish_chunked::<4>(batch)
        } else {
            self.publish_chunked::<1>(batch)
        }
    }

    fn subscribe(&self) -> SoaReceiver<T> {
        SoaReceiver::new(
            Arc::clone(&self.shared.all),
            std::sync::Arc::clone(&self.shared.stats),
            ALL_TOPICS,
        )
    }

    fn subscribe_with_interest(&self, mask: u64) -> SoaReceiver<T> {
        if mask == ALL_TOPICS {
            return self.subscribe();
        }
        let mut narrow = crate::sync::write(&self.shared.narrow);
        let ring = narrow.subscribe(
            mask,
            |ring| ring.receivers(),
            || Arc::new(Ring::new(self.shared.capacity)),
        );
        // Registered before the lock is released, so a concurrent subscribe
        // cannot prune the ring in between.
        let receiver = SoaReceiver::new(
            Arc::clone(ring),
            std::sync::Arc::clone(&self.shared.stats),
            mask,
        );
        self.shared.narrow_topics.store(narrow.topics(), Relaxed);
        receiver
    }

    fn receiver_count(&self) -> usize {
        let narrow = crate::sync::read(&self.shared.narrow);
        self.shared.all.receivers()
            + narrow
                .iter()
                .map(|(_, ring)| ring.receivers())
                .sum::<usize>()
    }

    fn stats(&self) -> &std::sync::Arc<BusStats> {
        &self.shared.stats
    }

    fn capacity(&self) -> usize {
        self.shared.capacity
    }
}
