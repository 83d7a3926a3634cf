//! Bus statistics: plain atomics owned by the bus, read at scrape time.
//!
//! # Cost on the publish path
//!
//! A single publish must not pay a locked read-modify-write: on the machines
//! we measure, one `fetch_add` costs about half of a whole
//! `tokio::sync::broadcast` send with no receiver. So per-message counts
//! (`published`, `no_receivers`) are sharded per publishing thread: each
//! live thread owns a small process-wide slot index, and each bus keeps one
//! cache line of counters per slot that only that thread writes (a
//! thread-local read, then a plain load and store, no lock prefix);
//! [`BusStats::snapshot`] sums them. Threads beyond the slots (more than 64
//! alive at once) share one `fetch_add` counter. Counts are
//! exact at any instant (a snapshot sees every publish that returned before
//! it started). Wake-up counts, which every receiver adds each time it
//! goes idle (often all at once, after a burst), are sharded the same way.
//! Rarer events (lag, batches) use one `fetch_add` each.

use std::sync::atomic::{AtomicU64, Ordering};

mod thread_slot;

use thread_slot::SLOTS;

/// Upper bounds of the `bus_batch_len` histogram buckets (the last bucket,
/// `+Inf`, is implicit).
pub const BATCH_LEN_BOUNDS: [u64; 11] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

/// Keeps a value on its own cache line (two lines: adjacent-line prefetch).
#[derive(Debug, Default)]
#[repr(align(128))]
struct Padded<T>(T);

/// Counters of one (bus, thread slot) pair. Written only by the slot's
/// thread, so an increment is a relaxed load and store; read by any snapshot.
#[derive(Debug, Default)]
struct ThreadCounts {
    /// Publishes that reached at least one subscriber.
    reached: AtomicU64,
    /// Publishes that reached nobody. Published = reached + unreached, so a
    /// publish touches exactly one counter.
    unreached: AtomicU64,
    /// Deliveries that ended a park, recorded by receivers on this thread.
    notify_sends: AtomicU64,
    /// Deliveries to an awake receiver, recorded by receivers on this thread.
    notify_suppressed: AtomicU64,
}

impl ThreadCounts {
    /// Single-writer increment: no other thread stores to this counter.
    #[inline]
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

/// Counters that receivers update for rare events.
#[derive(Debug, Default)]
struct WakeCounts {
    receiver_lag: AtomicU64,
}

/// The statistics of one bus.
///
/// Owned by the bus (`BusBackend::stats`); backends record into it, exporters
/// call [`snapshot`](Self::snapshot). No method calls into a metrics library.
#[derive(Debug)]
pub struct BusStats {
    /// One shard per thread slot (`thread_slot`), written by its owner only.
    /// Inline (8 KiB), so a publish reaches its counter in one hop from the
    /// stats' address.
    shards: [Padded<ThreadCounts>; SLOTS],
    /// For threads without a slot; updated with `fetch_add`.
    overflow: Padded<ThreadCounts>,
    shared: Padded<SharedCounts>,
    wake: Padded<WakeCounts>,
}

impl Default for BusStats {
    fn default() -> Self {
        Self {
            shards: std::array::from_fn(|_| Padded::default()),
            overflow: Padded::default(),
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
    /// (0 counts as "no receivers"). Costs a thread-local read and a plain
    /// store to this thread's own counter.
    #[inline]
    pub fn record_publish(&self, receivers: usize) {
        match self.shards.get(thread_slot::current()) {
            // This thread owns the slot: it is the counter's only writer.
            Some(shard) => ThreadCounts::bump(
                if receivers == 0 {
                    &shard.0.unreached
                } else {
                    &shard.0.reached
                },
                1,
            ),
            None => {
                let counts = &self.overflow.0;
                let counter = if receivers == 0 {
                    &counts.unreached
                } else {
                    &counts.reached
                };
                counter.fetch_add(1, Ordering::Relaxed);
            }
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
    /// the subscriber was already awake or already notified. Receivers add
    /// their local counts whenever they go idle, all at once, so this is
    /// sharded per thread like [`record_publish`](Self::record_publish):
    /// many receivers going idle together do not contend on one line.
    pub fn record_notify(&self, sends: u64, suppressed: u64) {
        match self.shards.get(thread_slot::current()) {
            // This thread owns the slot: it is the counters' only writer.
            Some(shard) => {
                ThreadCounts::bump(&shard.0.notify_sends, sends);
                ThreadCounts::bump(&shard.0.notify_suppressed, suppressed);
            }
            None => {
                let counts = &self.overflow.0;
                counts.notify_sends.fetch_add(sends, Ordering::Relaxed);
                counts
                    .notify_suppressed
                    .fetch_add(suppressed, Ordering::Relaxed);
            }
        }
    }

    /// The counters now. Every `record_*` call that returned before this call
    /// started is included.
    pub fn snapshot(&self) -> BusStatsSnapshot {
        let (mut published, mut no_receivers) = (0, 0);
        let (mut notify_sends, mut notify_suppressed) = (0, 0);
        for shard in self.shards.iter().chain([&self.overflow]) {
            let unreached = shard.0.unreached.load(Ordering::Relaxed);
            published += shard.0.reached.load(Ordering::Relaxed) + unreached;
            no_receivers += unreached;
            notify_sends += shard.0.notify_sends.load(Ordering::Relaxed);
            notify_suppressed += shard.0.notify_suppressed.load(Ordering::Relaxed);
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
            notify_sends,
            notify_suppressed,
        }
    }
}

/// A copy of a bus's counters at one instant.
///
/// With the `serde` feature it (de)serializes as a map of its fields; a
/// field missing on input is 0 (empty buckets), so a snapshot written
/// before a counter was added still reads.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
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
    use std::sync::Arc;
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
        let buses: Vec<BusStats> = (0..9).map(|_| BusStats::new()).collect();
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
    }

    #[test]
    fn threads_beyond_the_slots_are_counted_in_the_overflow() {
        let _many = thread_slot::MANY_THREADS.lock();
        let stats = Arc::new(BusStats::new());
        // More threads alive at once than there are slots.
        let barrier = Arc::new(std::sync::Barrier::new(SLOTS + 8));
        let threads: Vec<_> = (0..SLOTS + 8)
            .map(|_| {
                let (stats, barrier) = (Arc::clone(&stats), Arc::clone(&barrier));
                thread::spawn(move || {
                    barrier.wait();
                    for _ in 0..100 {
                        stats.record_publish(1);
                    }
                    barrier.wait();
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(stats.snapshot().published, (SLOTS as u64 + 8) * 100);
        assert!(stats.overflow.0.reached.load(Ordering::Relaxed) >= 800);
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
