//! How cost grows: the same measures at growing sizes, for both ron-bus
//! backends, so a table can say which cost is O(1) and which grows.
//!
//! * `publish_idle_ns`: ns per publish with 1, 16, 256 and 4,096 idle
//!   subscribers (subscribed to every topic, never reading: the lag path,
//!   with no wake-up to pay);
//! * `publish_one_mask_ns` / `publish_every_mask_ns`: ns per publish with
//!   1, 8 and 64 distinct single-bit interest masks, one idle subscriber
//!   each, publishing to one mask's topic (rotating) or to every topic;
//! * `churn_per_s`: `subscribe` + drop per second on one thread while
//!   another publishes flat out, with 1 or 4,096 subscribers held
//!   (`churn_publish_per_s`: the publisher's rate meanwhile);
//!   `churn_narrow_per_s`: the same with a narrow mask whose only
//!   subscriber is the one churned (each subscribe makes that mask's ring);
//! * memory, counted by this bench's global allocator:
//!   `heap_bytes_per_subscriber` (what `subscribe` allocates, from 1,024
//!   to 4,096 subscribers), `receiver_bytes` (the handle itself),
//!   `bytes_per_slot` (what `with_capacity` allocates, from 1,024 to 65,536
//!   slots) and `bytes_per_mask` (the first subscriber of a new narrow mask
//!   at capacity 1,024: its ring).
//!
//! Capacity 1,024 and `u64` payloads throughout. Every sample measures both
//! backends back to back; the figures are medians over the samples. Each
//! figure is a line `perf\tscaling\t<library>\t<measure>\t<at>\t<value>`
//! for `cargo xtask perf-gate`, which renders them as its scaling table;
//! `perf\tratio\t<backend>_publish_idle_4096_over_1` is the median of each
//! sample's publish cost at 4,096 idle subscribers over that at one.
//!
//! ```text
//! cargo bench -p ron-benches --bench scaling
//! cargo bench -p ron-benches --bench scaling -- --quick
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
// A global allocator is an `unsafe` trait: it counts the bytes `subscribe`
// and a ring allocate (xtask's tidy lists this file).
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use ron_benches::cli::BenchArgs;
use ron_benches::harness::time_ns;
use ron_benches::median;
use ron_bus::{ALL_TOPICS, BusBackend};
use ron_bus_classic::ClassicBus;
use ron_bus_soa::SoaBus;

const CAPACITY: usize = 1024;
const SOA: &str = "ron-bus soa";
const CLASSIC: &str = "ron-bus classic";
const IDLE_SUBSCRIBERS: [usize; 4] = [1, 16, 256, 4096];
const MASKS: [usize; 3] = [1, 8, 64];
/// Subscribers held while churning: one, and many (a drop looks for its
/// own entry among them in SoA's pin list).
const CHURN_HELD: [usize; 2] = [1, 4096];

/// Counts live heap bytes while [`COUNTING`] is on (one thread measures at
/// a time: the memory figures run with no other thread of this bench).
struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicIsize = AtomicIsize::new(0);

fn count(bytes: isize) {
    if COUNTING.load(Ordering::Relaxed) {
        LIVE.fetch_add(bytes, Ordering::Relaxed);
    }
}

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as isize - layout.size() as isize);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The heap bytes `f` leaves allocated (what it returns is kept alive until
/// the count is read).
fn live_bytes<R>(f: impl FnOnce() -> R) -> (R, f64) {
    LIVE.store(0, Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
    let kept = f();
    COUNTING.store(false, Ordering::SeqCst);
    (kept, LIVE.load(Ordering::SeqCst) as f64)
}

/// How much each figure measures.
struct Mode {
    samples: usize,
    publish_ops: u64,
    churn_for: Duration,
}

/// The figures of one backend: (measure, at) → samples.
type Samples = BTreeMap<(&'static str, usize), Vec<f64>>;

/// ns per publish (topic `topic_of(i)`) on `bus`, after a warm-up of a few
/// laps, so the timed publishes overwrite and raise the floor as in a
/// steady state.
fn publish_ns<B: BusBackend<u64>>(bus: &B, ops: u64, topic_of: impl Fn(u64) -> u64) -> f64 {
    for i in 0..4 * CAPACITY as u64 {
        bus.publish_topic(topic_of(i), i);
    }
    time_ns(ops, |i| {
        black_box(bus.publish_topic(topic_of(i), i));
    })
}

/// ns per publish with `subs` idle full-mask subscribers.
fn publish_idle<B: BusBackend<u64>>(subs: usize, ops: u64) -> f64 {
    let bus = B::with_capacity(CAPACITY).unwrap();
    let _held: Vec<_> = (0..subs).map(|_| bus.subscribe()).collect();
    publish_ns(&bus, ops, |_| ALL_TOPICS)
}

/// ns per publish with `masks` distinct single-bit masks, one idle
/// subscriber each: (to one mask's topic, rotating; to every topic). A
/// publish to every topic writes `masks` rings, so it runs `ops / masks`
/// times (still many laps of each ring).
fn publish_masks<B: BusBackend<u64>>(masks: usize, ops: u64) -> (f64, f64) {
    let bus = B::with_capacity(CAPACITY).unwrap();
    let _held: Vec<_> = (0..masks)
        .map(|k| bus.subscribe_with_interest(1 << k))
        .collect();
    let one = publish_ns(&bus, ops, |i| 1 << (i % masks as u64));
    let every = publish_ns(&bus, ops / masks as u64, |_| ALL_TOPICS);
    (one, every)
}

/// `subscribe` + drop per second on this thread while another thread
/// publishes flat out, with `held` subscribers kept (so every publish
/// writes); `narrow`: the churned subscriber has a mask nobody else has.
/// Returns (churns per second, publishes per second meanwhile).
fn churn<B: BusBackend<u64>>(held: usize, narrow: bool, churn_for: Duration) -> (f64, f64) {
    let bus = B::with_capacity(CAPACITY).unwrap();
    let _held: Vec<_> = (0..held).map(|_| bus.subscribe()).collect();
    let (running, stop) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let publisher = {
        let (bus, running, stop) = (bus.clone(), Arc::clone(&running), Arc::clone(&stop));
        std::thread::spawn(move || {
            running.store(true, Ordering::Release);
            let mut sent = 0u64;
            while !stop.load(Ordering::Relaxed) {
                for _ in 0..64 {
                    bus.publish(sent);
                    sent += 1;
                }
            }
            sent
        })
    };
    while !running.load(Ordering::Acquire) {
        std::thread::yield_now();
    }
    let start = Instant::now();
    let mut churned = 0u64;
    while start.elapsed() < churn_for {
        for _ in 0..64 {
            if narrow {
                drop(black_box(bus.subscribe_with_interest(0b10)));
            } else {
                drop(black_box(bus.subscribe()));
            }
        }
        churned += 64;
    }
    let secs = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let sent = publisher.join().unwrap();
    (churned as f64 / secs, sent as f64 / secs)
}

/// Heap bytes per subscriber: what subscribing 3,072 more (from 1,024 to
/// 4,096) leaves allocated, per subscriber (the receivers' own handles sit
/// in a vector reserved beforehand, not counted).
fn heap_bytes_per_subscriber<B: BusBackend<u64>>() -> f64 {
    let bus = B::with_capacity(CAPACITY).unwrap();
    let mut held = Vec::with_capacity(4096);
    held.extend((0..1024).map(|_| bus.subscribe()));
    let ((), bytes) = live_bytes(|| held.extend((1024..4096).map(|_| bus.subscribe())));
    bytes / 3072.0
}

/// Bytes per ring slot: what `with_capacity` allocates from 1,024 to
/// 65,536 slots, per slot.
fn bytes_per_slot<B: BusBackend<u64>>() -> f64 {
    let (_small, small) = live_bytes(|| B::with_capacity(1024).unwrap());
    let (_large, large) = live_bytes(|| B::with_capacity(65536).unwrap());
    (large - small) / (65536.0 - 1024.0)
}

/// Bytes per distinct narrow mask: what the first subscriber of each of 8
/// new masks leaves allocated, per mask (its ring and its own heap bytes).
fn bytes_per_mask<B: BusBackend<u64>>() -> f64 {
    let bus = B::with_capacity(CAPACITY).unwrap();
    let mut held = Vec::with_capacity(8);
    let ((), bytes) =
        live_bytes(|| held.extend((0..8).map(|k| bus.subscribe_with_interest(1 << k))));
    bytes / 8.0
}

/// The ratio the gate reads: publish cost at the most idle subscribers
/// over one, per sample.
const GROWTH: &str = "publish_idle_growth";

/// One sample of every timed figure of backend `B`, into `into`.
fn sample<B: BusBackend<u64>>(mode: &Mode, into: &mut Samples) {
    let mut put = |measure: &'static str, at: usize, value: f64| {
        into.entry((measure, at)).or_default().push(value);
    };
    let idle = IDLE_SUBSCRIBERS.map(|subs| publish_idle::<B>(subs, mode.publish_ops));
    for (subs, ns) in IDLE_SUBSCRIBERS.into_iter().zip(idle) {
        put("publish_idle_ns", subs, ns);
    }
    // Within the sample: the two points ran seconds apart at most.
    put(GROWTH, 0, idle[IDLE_SUBSCRIBERS.len() - 1] / idle[0]);
    for masks in MASKS {
        let (one, every) = publish_masks::<B>(masks, mode.publish_ops);
        put("publish_one_mask_ns", masks, one);
        put("publish_every_mask_ns", masks, every);
    }
    for held in CHURN_HELD {
        let (churns, publishes) = churn::<B>(held, false, mode.churn_for);
        put("churn_per_s", held, churns);
        put("churn_publish_per_s", held, publishes);
    }
    let (churns, _) = churn::<B>(1, true, mode.churn_for);
    put("churn_narrow_per_s", 1, churns);
}

/// Prints one backend's figures: medians of the samples, then the memory
/// figures (exact, so measured once).
fn report<B: BusBackend<u64>>(library: &str, samples: Samples) {
    let memory = [
        (
            "heap_bytes_per_subscriber",
            heap_bytes_per_subscriber::<B>(),
        ),
        ("receiver_bytes", std::mem::size_of::<B::Receiver>() as f64),
        ("bytes_per_slot", bytes_per_slot::<B>()),
        ("bytes_per_mask", bytes_per_mask::<B>()),
    ];
    let medians = samples
        .into_iter()
        .map(|((measure, at), values)| (measure, at, median(values).unwrap()));
    let all = medians.chain(
        memory
            .into_iter()
            .map(|(measure, bytes)| (measure, 0, bytes)),
    );
    for (measure, at, value) in all {
        println!("{library:<16} {measure:<28} {at:>6} {value:>16.2}");
        println!("perf\tscaling\t{library}\t{measure}\t{at}\t{value:.4}");
    }
}

fn main() {
    let args = BenchArgs::from_env();
    let (full, quick) = (args.full, args.quick);
    let mode = match (full, quick) {
        (true, false) => Mode {
            samples: 5,
            publish_ops: 1_000_000,
            churn_for: Duration::from_millis(300),
        },
        (true, true) => Mode {
            samples: 3,
            publish_ops: 200_000,
            churn_for: Duration::from_millis(100),
        },
        (false, _) => Mode {
            samples: 1,
            publish_ops: 10_000,
            churn_for: Duration::from_millis(10),
        },
    };
    println!(
        "{:<16} {:<28} {:>6} {:>16}",
        "library", "measure", "at", "median"
    );
    let (mut soa, mut classic) = (Samples::new(), Samples::new());
    for i in 0..mode.samples {
        // Alternate which backend goes first, so a drifting machine moves
        // both alike.
        if i % 2 == 0 {
            sample::<SoaBus<u64>>(&mode, &mut soa);
            sample::<ClassicBus<u64>>(&mode, &mut classic);
        } else {
            sample::<ClassicBus<u64>>(&mode, &mut classic);
            sample::<SoaBus<u64>>(&mode, &mut soa);
        }
    }
    let growth = |samples: &mut Samples| median(samples.remove(&(GROWTH, 0)).unwrap()).unwrap();
    let (soa_growth, classic_growth) = (growth(&mut soa), growth(&mut classic));
    report::<SoaBus<u64>>(SOA, soa);
    report::<ClassicBus<u64>>(CLASSIC, classic);
    println!(
        "publish, 4096 idle subs / 1 idle sub: soa {soa_growth:.2}, classic {classic_growth:.2}"
    );
    println!("perf\tratio\tsoa_publish_idle_4096_over_1\t{soa_growth:.4}");
    println!("perf\tratio\tclassic_publish_idle_4096_over_1\t{classic_growth:.4}");
}
