//! The comparables harness: ron-bus's SoA and classic backends against the
//! other Rust broadcast channels, measured side by side in one run.
//!
//! * fan-out: one publisher thread, N subscriber OS threads in a blocking
//!   receive, capacity 1024, deliveries per second (lossy channels count
//!   only deliveries; `bus` and `disruptor` are backpressured, so they
//!   deliver everything; disruptor's consumers busy-spin);
//! * latency: one subscriber, the publisher stamps each message with the
//!   time it sent it and paces sends 20 µs apart; p50 and p99 of the
//!   receive time minus the stamp.
//!
//! Every round runs every library once, in rotating order; the table gives
//! medians over the rounds. Latency runs in blocks of 2,000 probes, every
//! library's block back to back, and the table gives the medians of the
//! blocks' p50 and p99: this VM stalls for milliseconds a few times a
//! second, and a stall in one block should not decide a library's tail.
//!
//! ```text
//! cargo bench -p ron-bus-soa --bench comparables            # 5 rounds
//! cargo bench -p ron-bus-soa --bench comparables -- --rounds 9
//! # one library's fan-out alone, e.g. under `perf record`:
//! cargo bench -p ron-bus-soa --bench comparables -- --only soa --fanout-only
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ron_bus::{BusBackend, BusReceiver, RecvError};
use ron_bus_classic::ClassicBus;
use ron_bus_soa::SoaBus;

const CAPACITY: usize = 1024;
const SUBSCRIBERS: [usize; 3] = [4, 8, 16];
/// Latency probes per block (40 ms at the 20 µs pacing).
const LATENCY_BLOCK: u64 = 2_000;

/// Nanoseconds since the first call: the stamp carried by latency messages.
fn now_ns() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// A library under test: spawn `subs` blocking subscribers that each count
/// (or time) what they receive, then publish `messages`, then close.
trait Contender {
    const NAME: &'static str;
    /// Runs one fan-out; returns deliveries per second.
    fn fanout(subs: usize, messages: u64) -> f64;
    /// Runs one latency probe; returns the latencies in ns.
    fn latency(messages: u64) -> Vec<u64>;
}

/// Publishes `messages` stamped with their send time, `gap` apart.
fn paced(messages: u64, gap: Duration, mut send: impl FnMut(u64)) {
    for _ in 0..messages {
        let due = Instant::now() + gap;
        send(now_ns());
        while Instant::now() < due {
            std::hint::spin_loop();
        }
    }
}

fn run_fanout<R: Send + 'static>(
    receivers: Vec<R>,
    recv_all: fn(R) -> u64,
    publish_all: impl FnOnce(),
) -> f64 {
    let threads: Vec<_> = receivers
        .into_iter()
        .map(|rx| std::thread::spawn(move || recv_all(rx)))
        .collect();
    let start = Instant::now();
    publish_all();
    let delivered: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    delivered as f64 / start.elapsed().as_secs_f64()
}

struct Backend<B>(std::marker::PhantomData<B>);

fn backend_recv_all<R: BusReceiver<u64>>(mut rx: R) -> u64 {
    let mut got = 0;
    loop {
        match rx.blocking_recv() {
            Ok(_) => got += 1,
            Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => return got,
        }
    }
}

fn backend_latencies<R: BusReceiver<u64>>(mut rx: R) -> Vec<u64> {
    let mut out = Vec::new();
    loop {
        match rx.blocking_recv() {
            Ok(sent) => out.push(now_ns().saturating_sub(sent)),
            Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => return out,
        }
    }
}

impl Contender for Backend<SoaBus<u64>> {
    const NAME: &'static str = "ron-bus soa";
    fn fanout(subs: usize, messages: u64) -> f64 {
        backend_fanout::<SoaBus<u64>>(subs, messages)
    }
    fn latency(messages: u64) -> Vec<u64> {
        backend_latency::<SoaBus<u64>>(messages)
    }
}

impl Contender for Backend<ClassicBus<u64>> {
    const NAME: &'static str = "ron-bus classic";
    fn fanout(subs: usize, messages: u64) -> f64 {
        backend_fanout::<ClassicBus<u64>>(subs, messages)
    }
    fn latency(messages: u64) -> Vec<u64> {
        backend_latency::<ClassicBus<u64>>(messages)
    }
}

fn backend_fanout<B: BusBackend<u64>>(subs: usize, messages: u64) -> f64 {
    let bus = B::with_capacity(CAPACITY).unwrap();
    let receivers: Vec<_> = (0..subs).map(|_| bus.subscribe()).collect();
    run_fanout(receivers, backend_recv_all::<B::Receiver>, move || {
        for i in 0..messages {
            bus.publish(i);
        }
    })
}

fn backend_latency<B: BusBackend<u64>>(messages: u64) -> Vec<u64> {
    let bus = B::with_capacity(CAPACITY).unwrap();
    let rx = bus.subscribe();
    let probe = std::thread::spawn(move || backend_latencies(rx));
    paced(messages, Duration::from_micros(20), |stamp| {
        bus.publish(stamp);
    });
    drop(bus);
    probe.join().unwrap()
}

struct Tokio;

impl Contender for Tokio {
    const NAME: &'static str = "tokio broadcast";
    fn fanout(subs: usize, messages: u64) -> f64 {
        let (tx, _) = tokio::sync::broadcast::channel::<u64>(CAPACITY);
        let receivers: Vec<_> = (0..subs).map(|_| tx.subscribe()).collect();
        run_fanout(
            receivers,
            |mut rx| {
                let mut got = 0;
                loop {
                    match rx.blocking_recv() {
                        Ok(_) => got += 1,
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return got,
                    }
                }
            },
            move || {
                for i in 0..messages {
                    let _ = tx.send(i);
                }
            },
        )
    }
    fn latency(messages: u64) -> Vec<u64> {
        let (tx, mut rx) = tokio::sync::broadcast::channel::<u64>(CAPACITY);
        let probe = std::thread::spawn(move || {
            let mut out = Vec::new();
            loop {
                match rx.blocking_recv() {
                    Ok(sent) => out.push(now_ns().saturating_sub(sent)),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return out,
                }
            }
        });
        paced(messages, Duration::from_micros(20), |stamp| {
            let _ = tx.send(stamp);
        });
        drop(tx);
        probe.join().unwrap()
    }
}

struct AsyncBroadcast;

impl Contender for AsyncBroadcast {
    const NAME: &'static str = "async-broadcast (overflow)";
    fn fanout(subs: usize, messages: u64) -> f64 {
        let (mut tx, rx) = async_broadcast::broadcast::<u64>(CAPACITY);
        tx.set_overflow(true);
        let receivers: Vec<_> = (0..subs).map(|_| rx.clone()).collect();
        drop(rx);
        run_fanout(
            receivers,
            |mut rx| {
                let mut got = 0;
                loop {
                    match rx.recv_blocking() {
                        Ok(_) => got += 1,
                        Err(async_broadcast::RecvError::Overflowed(_)) => {}
                        Err(async_broadcast::RecvError::Closed) => return got,
                    }
                }
            },
            move || {
                for i in 0..messages {
                    let _ = tx.try_broadcast(i);
                }
            },
        )
    }
    fn latency(messages: u64) -> Vec<u64> {
        let (mut tx, mut rx) = async_broadcast::broadcast::<u64>(CAPACITY);
        tx.set_overflow(true);
        let probe = std::thread::spawn(move || {
            let mut out = Vec::new();
            loop {
                match rx.recv_blocking() {
                    Ok(sent) => out.push(now_ns().saturating_sub(sent)),
                    Err(async_broadcast::RecvError::Overflowed(_)) => {}
                    Err(async_broadcast::RecvError::Closed) => return out,
                }
            }
        });
        paced(messages, Duration::from_micros(20), |stamp| {
            let _ = tx.try_broadcast(stamp);
        });
        drop(tx);
        probe.join().unwrap()
    }
}

struct JonhooBus;

impl Contender for JonhooBus {
    const NAME: &'static str = "bus (backpressured)";
    fn fanout(subs: usize, messages: u64) -> f64 {
        let mut tx = bus::Bus::<u64>::new(CAPACITY);
        let receivers: Vec<_> = (0..subs).map(|_| tx.add_rx()).collect();
        run_fanout(
            receivers,
            |mut rx| rx.iter().count() as u64,
            move || {
                for i in 0..messages {
                    tx.broadcast(i);
                }
            },
        )
    }
    fn latency(messages: u64) -> Vec<u64> {
        let mut tx = bus::Bus::<u64>::new(CAPACITY);
        let mut rx = tx.add_rx();
        let probe = std::thread::spawn(move || {
            rx.iter()
                .map(|sent| now_ns().saturating_sub(sent))
                .collect::<Vec<_>>()
        });
        paced(messages, Duration::from_micros(20), |stamp| {
            tx.broadcast(stamp)
        });
        drop(tx);
        probe.join().unwrap()
    }
}

struct Disruptor;

/// The disruptor's ring slot.
struct Slot {
    value: u64,
}

impl Contender for Disruptor {
    const NAME: &'static str = "disruptor (backpressured)";
    fn fanout(subs: usize, messages: u64) -> f64 {
        use std::sync::atomic::{AtomicU64, Ordering};
        let delivered = std::sync::Arc::new(AtomicU64::new(0));
        let mut builder = disruptor::build_single_producer(
            CAPACITY,
            || Slot { value: 0 },
            disruptor::BusySpinWithSpinLoopHint,
        )
        .with_multi_consumer();
        for _ in 0..subs {
            let delivered = std::sync::Arc::clone(&delivered);
            builder = builder.handle_events_with(move |slot: &Slot, _seq, _end| {
                std::hint::black_box(slot.value);
                delivered.fetch_add(1, Ordering::Relaxed);
            });
        }
        let mut producer = builder.build();
        let start = Instant::now();
        for i in 0..messages {
            disruptor::Producer::publish(&mut producer, |slot| slot.value = i);
        }
        // Dropping the producer waits for every consumer to drain.
        drop(producer);
        delivered.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
    }
    fn latency(messages: u64) -> Vec<u64> {
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = std::sync::Arc::clone(&seen);
        let mut producer = disruptor::build_single_producer(
            CAPACITY,
            || Slot { value: 0 },
            disruptor::BusySpinWithSpinLoopHint,
        )
        .handle_events_with(move |slot: &Slot, _seq, _end| {
            sink.lock()
                .unwrap()
                .push(now_ns().saturating_sub(slot.value))
        })
        .build();
        paced(messages, Duration::from_micros(20), |stamp| {
            disruptor::Producer::publish(&mut producer, |slot| slot.value = stamp);
        });
        drop(producer);
        std::mem::take(&mut *seen.lock().unwrap())
    }
}

/// The `p` quantile of `sorted`, in ns; 0 when nothing was measured.
fn percentile(sorted: &[u64], p: f64) -> f64 {
    let last = sorted.len().saturating_sub(1);
    sorted
        .get((last as f64 * p).round() as usize)
        .map_or(0.0, |&ns| ns as f64)
}

/// The median of `v`; 0 when it is empty.
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

type Runner = (&'static str, fn(usize, u64) -> f64, fn(u64) -> Vec<u64>);

fn contender<C: Contender>() -> Runner {
    (C::NAME, C::fanout, C::latency)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // `cargo bench` passes `--bench`; `cargo test --benches` does not (a
    // smoke run); `--quick` is `cargo xtask perf-gate --quick`.
    let full = args.iter().any(|a| a == "--bench");
    let quick = args.iter().any(|a| a == "--quick");
    let rounds = args
        .iter()
        .position(|a| a == "--rounds")
        .and_then(|i| args.get(i + 1))
        .and_then(|r| r.parse().ok())
        .unwrap_or(if full && !quick { 5 } else { 1 });
    let (messages, mut probes) = match (full, quick) {
        (true, false) => (200_000, 20_000),
        (true, true) => (50_000, 2_000),
        (false, _) => (5_000, 500),
    };
    // `--fanout-only` skips the latency probes (for profiling the fan-out).
    if args.iter().any(|a| a == "--fanout-only") {
        probes = 0;
    }
    // `--only NAME` keeps the libraries whose name contains NAME (for
    // profiling one of them).
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let all_runners = [
        contender::<Backend<SoaBus<u64>>>(),
        contender::<Backend<ClassicBus<u64>>>(),
        contender::<Tokio>(),
        contender::<AsyncBroadcast>(),
        contender::<JonhooBus>(),
        contender::<Disruptor>(),
    ];
    let runners: Vec<Runner> = all_runners
        .into_iter()
        .filter(|r| only.as_deref().is_none_or(|name| r.0.contains(name)))
        .collect();
    // fanout[runner][subs index] = samples (M deliveries/s)
    let mut fanout = vec![vec![Vec::new(); SUBSCRIBERS.len()]; runners.len()];
    // latency[runner] = (p50, p99) of each block, in ns.
    let mut latency: Vec<Vec<(f64, f64)>> = vec![Vec::new(); runners.len()];
    // Latency runs in blocks, every library's block back to back, so a
    // stall of the VM lands in one library's block, not in one library's
    // whole run; each block gives a p50 and a p99.
    let blocks = (probes / LATENCY_BLOCK).max(1);
    let block = probes.min(LATENCY_BLOCK);
    for round in 0..rounds {
        for offset in 0..runners.len() {
            let r = (round + offset) % runners.len();
            for (s, subs) in SUBSCRIBERS.iter().enumerate() {
                fanout[r][s].push((runners[r].1)(*subs, messages) / 1e6);
            }
        }
        for b in 0..blocks {
            for offset in 0..runners.len() {
                let r = (round + b as usize + offset) % runners.len();
                if block > 0 {
                    let mut lat = (runners[r].2)(block);
                    lat.sort_unstable();
                    latency[r].push((percentile(&lat, 0.5), percentile(&lat, 0.99)));
                }
            }
        }
    }
    println!(
        "rounds: {rounds}, {messages} messages per fan-out, {probes} latency probes per round, capacity {CAPACITY}"
    );
    println!(
        "{:<28} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "library", "4 subs", "8 subs", "16 subs", "p50 ns", "p99 ns"
    );
    let mut latencies = Vec::new();
    for (r, runner) in runners.iter().enumerate() {
        // Medians over the blocks of each block's percentiles.
        let p50 = median(latency[r].iter().map(|l| l.0).collect());
        let p99 = median(latency[r].iter().map(|l| l.1).collect());
        latencies.push((runner.0, p50, p99));
        let cells: Vec<String> = fanout[r]
            .iter()
            .map(|s| format!("{:>8.2} M", median(s.clone())))
            .collect();
        println!(
            "{:<28} {} {p50:>10.0} {p99:>10.0}",
            runner.0,
            cells.join(" "),
        );
    }
    // Machine-readable lines for `cargo xtask perf-gate`.
    for (r, runner) in runners.iter().enumerate() {
        for (s, subs) in SUBSCRIBERS.iter().enumerate() {
            println!(
                "perf\tfanout\t{}\t{subs}\t{:.4}",
                runner.0,
                median(fanout[r][s].clone())
            );
        }
    }
    for (name, p50, p99) in &latencies {
        println!("perf\tlatency\t{name}\t{p50:.0}\t{p99:.0}");
    }
}
