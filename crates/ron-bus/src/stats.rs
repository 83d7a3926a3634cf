//! Bus statistics: plain atomics owned by the bus, read at scrape time.
//!
//! # Cost on the publish path
//!
//! A single publish must not pay a locked read-modify-write: on the machines
//! we measure, one `fetch_add` costs about half of a whole
//! `tokio::sync::broadcast` send with no receiver. So per-message counts
//! (`published`, `no_receivers`) are sharded per publishing thread: each
//! thread owns a cache line of counters that only it writes (a plain load and
//! store, no lock prefix) and that [`BusStats::snapshot`] sums. Counts are
//! exact at any instant (a snapshot sees every publish that returned before
//! it started). Rarer events (lag, batches, wake-ups) use one `fetch_add`
//! each.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::ThreadId;

/// Upper bounds of the `bus_batch_len` histogram buckets (the last bucket,
/// `+Inf`, is implicit).
pub const BATCH_LEN_BOUNDS: [u64; 11] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

/// Keeps a value on its own cache line (two lines: adjacent-line prefetch).
#[derive(Debug, Default)]
#[repr(align(128))]
struct Padded<T>(T);

/// Counters of one (bus, thread) pair. Written only by that thread, so an
/// increment is a relaxed load and store; read by any snapshot.
#[derive(Debug, Default)]
struct ThreadCounts {
    /// Publishes that reached at least one subscriber.
    reached: AtomicU64,
    /// Publishes that reached nobody. Published = reached + unreached, so a
    /// publish touches exactly one counter.
    unreached: AtomicU64,
}

impl ThreadCounts {
    /// Single-writer increment: no other thread stores to this counter.
    fn bump(counter: &AtomicU64, by: u64) {
        counter.store(counter.load(Ordering::Relaxed) + by, Ordering::Relaxed);
    }
}

/// Shared counters for events rarer than one per message.
#[derive(Debug, Default)]
struct SharedCounts {
    batch_published: AtomicU64,
    batch_no_receivers: AtomicU64,
    batches: AtomicU64,
    batch_len_buckets: [AtomicU64; BATCH_LEN_BOUNDS.len() + 1],
    batch_len_sum: AtomicU64,
}

/// Counters that receivers (or the publisher's wake sweep) update.
#[derive(Debug, Default)]
struct WakeCounts {
    receiver_lag: AtomicU64,
    notify_sends: AtomicU64,
    notify_suppressed: AtomicU64,
}

/// The statistics of one bus.
///
/// Owned by the bus (`BusBackend::stats`); backends record into it, exporters
/// call [`snapshot`](Self::snapshot). No method calls into a metrics library.
#[derive(Debug)]
pub struct BusStats {
    /// Tells this bus apart in each thread's cache of counter shards.
    id: u64,
    /// Every thread's shard, registered on its first publish to this bus and
    /// found again by thread id when a thread's cache has evicted it.
    shards: Mutex<Vec<(ThreadId, Arc<Padded<ThreadCounts>>)>>,
    shared: Padded<SharedCounts>,
    wake: Padded<WakeCounts>,
}

/// Source of [`BusStats::id`]; ids are never reused.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Shards this thread writes, most recently used buses first.
const THREAD_CACHE: usize = 4;

/// A thread's shard for one bus, keyed by [`BusStats::id`].
type Shard = Option<(u64, Arc<Padded<ThreadCounts>>)>;

thread_local! {
    static SHARDS: RefCell<[Shard; THREAD_CACHE]> = const { RefCell::new([None, None, None, None]) };
}

impl Default for BusStats {
    fn default() -> Self {
        Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            shards: Mutex::new(Vec::new()),
            shared: Padded::default(),
            wake: Padded::default(),
        }
    }
}

impl BusStats {
    /// Fresh, zeroed statistics.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one published message that `receivers` subscribers will see
    /// (0 counts as "no receivers"). Costs a thread-local lookup and a plain
    /// store to this thread's own counters.
    #[inline]
    pub fn record_publish(&self, receivers: usize) {
        let bump = |shard: &ThreadCounts| {
            let counter = if receivers == 0 {
                &shard.unreached
            } else {
                &shard.reached
            };
            ThreadCounts::bump(counter, 1);
        };
        // Fast path: this bus is the one this thread published to last.
        let done = SHARDS
            .try_with(|cell| {
                let Ok(cache) = cell.try_borrow() else {
                    return false;
                };
                match &cache[0] {
                    Some((id, shard)) if *id == self.id => {
                        bump(&shard.0);
                        true
                    }
                    _ => false,
                }
            })
            .unwrap_or(false);
        if !done {
            self.with_shard(bump);
        }
    }

    /// Counts one `publish_many` call of `len` messages, `no_receivers` of
    /// which reached nobody.
    pub fn record_batch(&self, len: usize, no_receivers: usize) {
        let shared = &self.shared.0;
        let len = len as u64;
        shared.batch_published.fetch_add(len, Ordering::Relaxed);
        shared
            .batch_no_receivers
            .fetch_add(no_receivers as u64, Ordering::Relaxed);
        shared.batches.fetch_add(1, Ordering::Relaxed);
        shared.batch_len_sum.fetch_add(len, Ordering::Relaxed);
        let bucket = BATCH_LEN_BOUNDS
            .iter()
            .position(|&bound| len <= bound)
            .unwrap_or(BATCH_LEN_BOUNDS.len());
        shared.batch_len_buckets[bucket].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts messages a subscriber lost to lag.
    pub fn record_lag(&self, lost: u64) {
        self.wake.0.receiver_lag.fetch_add(lost, Ordering::Relaxed);
    }

    /// Counts wake-ups sent to parked subscribers and wake-ups skipped because
    /// the subscriber was already awake or already notified.
    pub fn record_notify(&self, sends: u64, suppressed: u64) {
        if sends > 0 {
            self.wake.0.notify_sends.fetch_add(sends, Ordering::Relaxed);
        }
        if suppressed > 0 {
            self.wake
                .0
                .notify_suppressed
                .fetch_add(suppressed, Ordering::Relaxed);
        }
    }

    /// The counters now. Every `record_*` call that returned before this call
    /// started is included.
    pub fn snapshot(&self) -> BusStatsSnapshot {
        let (mut published, mut no_receivers) = (0, 0);
        for (_, shard) in self
            .shards
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            let unreached = shard.0.unreached.load(Ordering::Relaxed);
            published += shard.0.reached.load(Ordering::Relaxed) + unreached;
            no_receivers += unreached;
        }
        let shared = &self.shared.0;
        let wake = &self.wake.0;
        let mut cumulative = 0;
        let batch_len_buckets = BATCH_LEN_BOUNDS
            .iter()
            .zip(&shared.batch_len_buckets)
            .map(|(&bound, count)| {
                cumulative += count.load(Ordering::Relaxed);
                (bound, cumulative)
            })
            .collect();
        BusStatsSnapshot {
            published: published + shared.batch_published.load(Ordering::Relaxed),
            no_receivers: no_receivers + shared.batch_no_receivers.load(Ordering::Relaxed),
            receiver_lag: wake.receiver_lag.load(Ordering::Relaxed),
            batch_publishes: shared.batches.load(Ordering::Relaxed),
            batch_len_buckets,
            batch_len_sum: shared.batch_len_sum.load(Ordering::Relaxed),
            notify_sends: wake.notify_sends.load(Ordering::Relaxed),
            notify_suppressed: wake.notify_suppressed.load(Ordering::Relaxed),
        }
    }

    /// Runs `f` on this thread's shard for this bus. The thread-local cache
    /// answers almost every call; a miss finds or registers the shard under
    /// the bus's mutex. While the thread's cache is torn down (thread exit),
    /// the shard is looked up directly.
    #[cold]
    fn with_shard(&self, f: impl FnOnce(&ThreadCounts)) {
        let mut f = Some(f);
        // Errors only during thread teardown; `f` is then still here.
        let _ = SHARDS.try_with(|cell| {
            let Ok(mut cache) = cell.try_borrow_mut() else {
                return;
            };
            if let Some(position) = cache
                .iter()
                .position(|e| e.as_ref().is_some_and(|(id, _)| *id == self.id))
            {
                // Move to the front so the busiest bus is found first.
                cache[..=position].rotate_right(1);
            } else {
                cache.rotate_right(1);
                cache[0] = Some((self.id, self.thread_shard()));
            }
            if let (Some((_, shard)), Some(f)) = (&cache[0], f.take()) {
                f(&shard.0);
            }
        });
        if let Some(f) = f.take() {
            f(&self.thread_shard().0);
        }
    }

    /// This thread's shard, registered on first use. One per thread, ever, so
    /// the list is bounded by the threads that published to this bus.
    fn thread_shard(&self) -> Arc<Padded<ThreadCounts>> {
        let me = std::thread::current().id();
        let mut shards = self.shards.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, shard)) = shards.iter().find(|(owner, _)| *owner == me) {
            return Arc::clone(shard);
        }
        let shard = Arc::new(Padded::default());
        shards.push((me, Arc::clone(&shard)));
        shard
    }
}

/// A copy of a bus's counters at one instant.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct BusStatsSnapshot {
    /// Messages published (single and batched).
    pub published: u64,
    /// Messages that reached no subscriber.
    pub no_receivers: u64,
    /// Messages lost by slow subscribers (sum of every `Lagged(n)`).
    pub receiver_lag: u64,
    /// `publish_many` calls.
    pub batch_publishes: u64,
    /// Cumulative `bus_batch_len` buckets: (upper bound, calls with a length
    /// at most that bound). Calls above the last bound count only in
    /// [`batch_publishes`](Self::batch_publishes) (the `+Inf` bucket).
    pub batch_len_buckets: Vec<(u64, u64)>,
    /// Sum of all batch lengths.
    pub batch_len_sum: u64,
    /// Wake-ups sent to parked subscribers.
    pub notify_sends: u64,
    /// Wake-ups skipped: the subscriber was already awake or notified.
    pub notify_suppressed: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;

    #[test]
    fn publishes_from_many_threads_are_all_counted() {
        let stats = Arc::new(BusStats::new());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let stats = Arc::clone(&stats);
                thread::spawn(move || {
                    for i in 0..10_000 {
                        stats.record_publish(usize::from(i % (t + 2) != 0));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let snapshot = stats.snapshot();
        assert_eq!(snapshot.published, 40_000);
        let expected_none: u64 = (0..4u64)
            .map(|t| (0..10_000u64).filter(|i| i % (t + 2) == 0).count() as u64)
            .sum();
        assert_eq!(snapshot.no_receivers, expected_none);
    }

    #[test]
    fn a_snapshot_sees_this_threads_publishes_at_once() {
        let stats = BusStats::new();
        stats.record_publish(0);
        assert_eq!(
            (stats.snapshot().published, stats.snapshot().no_receivers),
            (1, 1)
        );
        stats.record_publish(3);
        assert_eq!(
            (stats.snapshot().published, stats.snapshot().no_receivers),
            (2, 1)
        );
    }

    #[test]
    fn many_buses_on_one_thread_keep_separate_counts() {
        let buses: Vec<BusStats> = (0..THREAD_CACHE * 2 + 1).map(|_| BusStats::new()).collect();
        for round in 0..3 {
            for (i, bus) in buses.iter().enumerate() {
                for _ in 0..=i {
                    bus.record_publish(1);
                }
            }
            for (i, bus) in buses.iter().enumerate() {
                assert_eq!(bus.snapshot().published, (i as u64 + 1) * (round + 1));
            }
        }
        // Evictions from the thread cache do not multiply shards.
        for bus in &buses {
            assert_eq!(bus.shards.lock().unwrap().len(), 1);
        }
    }

    #[test]
    fn batches_fill_the_histogram_and_the_totals() {
        let stats = BusStats::new();
        stats.record_batch(1, 0);
        stats.record_batch(3, 3);
        stats.record_batch(5000, 0);
        stats.record_publish(1);
        let s = stats.snapshot();
        assert_eq!(
            (
                s.published,
                s.no_receivers,
                s.batch_publishes,
                s.batch_len_sum
            ),
            (5005, 3, 3, 5004)
        );
        assert_eq!(s.batch_len_buckets[0], (1, 1));
        assert_eq!(s.batch_len_buckets[2], (4, 2));
        assert_eq!(*s.batch_len_buckets.last().unwrap(), (1024, 2));
    }

    #[test]
    fn lag_and_notify_add_up() {
        let stats = BusStats::new();
        stats.record_lag(5);
        stats.record_lag(2);
        stats.record_notify(1, 9);
        stats.record_notify(0, 1);
        let s = stats.snapshot();
        assert_eq!(
            (s.receiver_lag, s.notify_sends, s.notify_suppressed),
            (7, 1, 10)
        );
    }
}
