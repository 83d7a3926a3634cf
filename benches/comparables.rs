//! The comparables harness: ron-bus's SoA and classic backends against the
//! other Rust broadcast channels, the same scenarios for each, measured side
//! by side in one run.
//!
//! * publish cost, ns per publish: with no subscriber, and with one
//!   subscriber that never reads (the lag path of a lossy channel; a
//!   backpressured one would block, so it has no figure);
//! * batch publish, ns per message in batches of 64 to one idle subscriber:
//!   the library's batch call where it has one (ron-bus `publish_many`),
//!   else a loop of single publishes (marked as such);
//! * fan-out: one publisher thread publishing for a fixed time (200 ms;
//!   `publish_for`), 1 to 16 subscriber OS threads in a
//!   blocking receive, capacity 1024, deliveries per second (lossy channels
//!   count only deliveries; `bus` and `disruptor` are backpressured, so they
//!   deliver everything; the crossbeam fan-out is one bounded channel per
//!   subscriber fed with `try_send`, which drops the newest message when a
//!   subscriber is full);
//! * latency: one subscriber, the publisher stamps each message with the
//!   time it sent it and paces sends 20 µs apart; p50 and p99 of the
//!   receive time minus the stamp.
//!
//! How each library is driven, each the way its documentation recommends
//! when threads outnumber cores (2 cores here): the ron-bus backends in
//! runs of up to 64 (`try_recv_many`, and their blocking receive for the
//! first message after an empty poll: the contract's recipe on a thread);
//! tokio's broadcast, async-broadcast (`recv_blocking`), crossbeam and
//! `bus` (`iter()`) in their own blocking receive, which spins briefly and
//! then parks the thread (none has a batched receive); disruptor with one `EventPoller` per subscriber
//! on the harness's threads, taking every ready event per poll and backing
//! off spin-then-yield when none is (its managed consumers busy-spin, a
//! core each, and collapse once they outnumber the cores), its producer
//! backing off the same way while the ring is full.
//!
//! Every round runs every library once, in rotating order; the tables give
//! medians over the rounds. Latency runs in blocks of 2,000 probes, every
//! library's block back to back, and the table gives the medians of the
//! blocks' p50 and p99: this VM stalls for milliseconds a few times a
//! second, and a stall in one block should not decide a library's tail.
//! `--json PATH` also writes every figure as JSON. The harness, median and
//! percentile come from this package's library (`src/`), shared with every
//! other bench in the workspace.
//!
//! ```text
//! cargo bench -p ron-benches --bench comparables            # 5 rounds
//! cargo bench -p ron-benches --bench comparables -- --rounds 9 --json out.json
//! # one library's fan-out alone, e.g. under `perf record`:
//! cargo bench -p ron-benches --bench comparables -- --only soa --fanout-only
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::Duration;

use ron_benches::cli::BenchArgs;
use ron_benches::harness::{
    Next, Receive, backend_fanout, backend_latency, count_until_closed, latencies_until_closed,
    now_ns, publish_for, run_fanout, run_latency, time_ns,
};
use ron_benches::{median, percentile};
use ron_bus::BusBackend;
use ron_bus_classic::ClassicBus;
use ron_bus_soa::SoaBus;

const CAPACITY: usize = 1024;
const SUBSCRIBERS: [usize; 5] = [1, 2, 4, 8, 16];
/// Latency probes per block (40 ms at the harness's 20 µs pacing,
/// `ron_benches::harness::LATENCY_GAP`).
const LATENCY_BLOCK: u64 = 2_000;
/// Messages per batch in the batch-publish scenario.
const BATCH: u64 = 64;

/// A library under test.
trait Contender {
    const NAME: &'static str;
    /// Runs one fan-out to `subs` blocking subscribers; deliveries per second.
    fn fanout(subs: usize, duration: Duration) -> f64;
    /// Runs one latency probe; returns the latencies in ns.
    fn latency(messages: u64) -> Vec<u64>;
    /// ns per publish with `idle` (0 or 1) subscribers that never read;
    /// `None` where that would block (backpressure) or cannot be set up.
    fn publish_ns(idle: usize, ops: u64) -> Option<f64>;
    /// ns per message publishing batches of [`BATCH`] to one idle
    /// subscriber, and whether a batch call (not a loop) did it. Without a
    /// batch call, a loop of single publishes.
    fn batch_ns(batches: u64) -> Option<(f64, bool)> {
        Self::publish_ns(1, batches * BATCH).map(|ns| (ns, false))
    }
}

struct Backend<B>(std::marker::PhantomData<B>);

/// The harness's name for a ron-bus backend.
trait BackendName {
    const NAME: &'static str;
}

impl BackendName for SoaBus<u64> {
    const NAME: &'static str = "ron-bus soa";
}

impl BackendName for ClassicBus<u64> {
    const NAME: &'static str = "ron-bus classic";
}

impl<B: BusBackend<u64> + BackendName> Contender for Backend<B> {
    const NAME: &'static str = B::NAME;

    fn fanout(subs: usize, duration: Duration) -> f64 {
        backend_fanout::<B>(CAPACITY, subs, duration, Receive::Runs).unwrap()
    }

    fn latency(messages: u64) -> Vec<u64> {
        backend_latency::<B>(CAPACITY, messages).unwrap()
    }

    fn publish_ns(idle: usize, ops: u64) -> Option<f64> {
        let bus = B::with_capacity(CAPACITY).unwrap();
        let _idle: Vec<_> = (0..idle).map(|_| bus.subscribe()).collect();
        Some(time_ns(ops, |i| {
            black_box(bus.publish(i));
        }))
    }

    fn batch_ns(batches: u64) -> Option<(f64, bool)> {
        let bus = B::with_capacity(CAPACITY).unwrap();
        let _idle = bus.subscribe();
        let per_batch = time_ns(batches, |b| {
            black_box(bus.publish_many(b * BATCH..(b + 1) * BATCH));
        });
        Some((per_batch / BATCH as f64, true))
    }
}

struct Tokio;

impl Tokio {
    fn next(rx: &mut tokio::sync::broadcast::Receiver<u64>) -> Next {
        use tokio::sync::broadcast::error::RecvError;
        match rx.blocking_recv() {
            Ok(msg) => Next::Message(msg),
            Err(RecvError::Lagged(_)) => Next::Lost,
            Err(RecvError::Closed) => Next::Closed,
        }
    }

    fn recv_all(mut rx: tokio::sync::broadcast::Receiver<u64>) -> u64 {
        count_until_closed(|| Self::next(&mut rx))
    }

    fn latencies(mut rx: tokio::sync::broadcast::Receiver<u64>) -> Vec<u64> {
        latencies_until_closed(|| Self::next(&mut rx))
    }
}

impl Contender for Tokio {
    const NAME: &'static str = "tokio broadcast";
    fn fanout(subs: usize, duration: Duration) -> f64 {
        let (tx, _) = tokio::sync::broadcast::channel::<u64>(CAPACITY);
        let receivers: Vec<_> = (0..subs).map(|_| tx.subscribe()).collect();
        run_fanout(receivers, Self::recv_all, move || {
            publish_for(duration, |i| {
                let _ = tx.send(i);
            });
        })
    }
    fn latency(messages: u64) -> Vec<u64> {
        let (tx, rx) = tokio::sync::broadcast::channel::<u64>(CAPACITY);
        run_latency(rx, Self::latencies, messages, move |stamp| {
            let _ = tx.send(stamp);
        })
    }
    fn publish_ns(idle: usize, ops: u64) -> Option<f64> {
        let (tx, _) = tokio::sync::broadcast::channel::<u64>(CAPACITY);
        let _idle: Vec<_> = (0..idle).map(|_| tx.subscribe()).collect();
        Some(time_ns(ops, |i| {
            black_box(tx.send(i).unwrap_or(0));
        }))
    }
}

struct AsyncBroadcast;

impl AsyncBroadcast {
    fn channel() -> (async_broadcast::Sender<u64>, async_broadcast::Receiver<u64>) {
        let (mut tx, rx) = async_broadcast::broadcast::<u64>(CAPACITY);
        tx.set_overflow(true);
        (tx, rx)
    }

    fn next(rx: &mut async_broadcast::Receiver<u64>) -> Next {
        match rx.recv_blocking() {
            Ok(msg) => Next::Message(msg),
            Err(async_broadcast::RecvError::Overflowed(_)) => Next::Lost,
            Err(async_broadcast::RecvError::Closed) => Next::Closed,
        }
    }

    fn recv_all(mut rx: async_broadcast::Receiver<u64>) -> u64 {
        count_until_closed(|| Self::next(&mut rx))
    }

    fn latencies(mut rx: async_broadcast::Receiver<u64>) -> Vec<u64> {
        latencies_until_closed(|| Self::next(&mut rx))
    }
}

impl Contender for AsyncBroadcast {
    const NAME: &'static str = "async-broadcast (overflow)";
    fn fanout(subs: usize, duration: Duration) -> f64 {
        let (tx, rx) = Self::channel();
        let receivers: Vec<_> = (0..subs).map(|_| rx.clone()).collect();
        drop(rx);
        run_fanout(receivers, Self::recv_all, move || {
            publish_for(duration, |i| {
                let _ = tx.try_broadcast(i);
            });
        })
    }
    fn latency(messages: u64) -> Vec<u64> {
        let (tx, rx) = Self::channel();
        run_latency(rx, Self::latencies, messages, move |stamp| {
            let _ = tx.try_broadcast(stamp);
        })
    }
    fn publish_ns(idle: usize, ops: u64) -> Option<f64> {
        let (tx, rx) = Self::channel();
        // With no active receiver the channel stays open through an
        // inactive one, and a broadcast is refused at once.
        let _keep = (idle == 0).then(|| rx.clone().deactivate());
        let _idle = (idle > 0).then_some(rx);
        Some(time_ns(ops, |i| {
            black_box(tx.try_broadcast(i).is_ok());
        }))
    }
}

struct JonhooBus;

impl Contender for JonhooBus {
    const NAME: &'static str = "bus (backpressured)";
    fn fanout(subs: usize, duration: Duration) -> f64 {
        let mut tx = bus::Bus::<u64>::new(CAPACITY);
        let receivers: Vec<_> = (0..subs).map(|_| tx.add_rx()).collect();
        run_fanout(
            receivers,
            |mut rx| rx.iter().count() as u64,
            move || {
                publish_for(duration, |i| tx.broadcast(i));
            },
        )
    }
    fn latency(messages: u64) -> Vec<u64> {
        let mut tx = bus::Bus::<u64>::new(CAPACITY);
        let rx = tx.add_rx();
        run_latency(
            rx,
            |mut rx| {
                rx.iter()
                    .map(|sent| now_ns().saturating_sub(sent))
                    .collect()
            },
            messages,
            move |stamp| tx.broadcast(stamp),
        )
    }
    fn publish_ns(idle: usize, ops: u64) -> Option<f64> {
        // An idle reader would block the publisher once the ring is full.
        if idle > 0 {
            return None;
        }
        let mut tx = bus::Bus::<u64>::new(CAPACITY);
        Some(time_ns(ops, |i| {
            black_box(tx.try_broadcast(i).is_ok());
        }))
    }
}

struct Disruptor;

/// The disruptor's ring slot.
struct Slot {
    value: u64,
}

/// A disruptor consumer: an `EventPoller` on a thread of the harness's.
type Poller = disruptor::EventPoller<Slot, disruptor::SingleProducerBarrier>;

/// Spin-then-yield wait for the disruptor's pollers and producer. The
/// crate's busy-spinning managed consumers own a core each; with more
/// threads than cores a spinning waiter starves the thread it waits for,
/// so after a few spins (the other side is usually nanoseconds away) the
/// waiter gives its core up.
#[derive(Default)]
struct Backoff(u32);

impl Backoff {
    /// Spins for 1, 2, 4 ... 32 hints on the first six calls, then yields.
    fn snooze(&mut self) {
        if self.0 < 6 {
            for _ in 0..1 << self.0 {
                std::hint::spin_loop();
            }
            self.0 += 1;
        } else {
            std::thread::yield_now();
        }
    }
}

impl Disruptor {
    /// A single-producer disruptor of [`CAPACITY`] with `subs` event
    /// pollers (the wait strategy is the managed consumers'; pollers have
    /// none, they back off in [`Self::poll_all`]).
    fn open(
        subs: usize,
    ) -> (
        disruptor::SingleProducer<Slot, disruptor::MultiConsumerBarrier>,
        Vec<Poller>,
    ) {
        let mut builder = disruptor::build_single_producer(
            CAPACITY,
            || Slot { value: 0 },
            disruptor::BusySpinWithSpinLoopHint,
        )
        .with_multi_consumer();
        let mut pollers = Vec::with_capacity(subs);
        for _ in 0..subs {
            let (poller, next) = builder.new_event_poller();
            pollers.push(poller);
            builder = next;
        }
        (builder.build(), pollers)
    }

    /// Publishes `value`, backing off while the slowest poller holds the
    /// next slot (the crate's `publish` would spin without a pause).
    fn publish(producer: &mut impl disruptor::Producer<Slot>, value: u64) {
        let mut backoff = Backoff::default();
        while producer.try_publish(|slot| slot.value = value).is_err() {
            backoff.snooze();
        }
    }

    /// Hands every event to `each` until the producer is dropped and every
    /// event is read, a batch per poll, backing off when none is ready.
    fn poll_all(mut poller: Poller, mut each: impl FnMut(u64)) {
        let mut backoff = Backoff::default();
        loop {
            match poller.poll() {
                Ok(mut events) => {
                    for slot in &mut events {
                        each(slot.value);
                    }
                    backoff = Backoff::default();
                }
                Err(disruptor::Polling::NoEvents) => backoff.snooze(),
                Err(disruptor::Polling::Shutdown) => return,
            }
        }
    }

    fn recv_all(poller: Poller) -> u64 {
        let mut got = 0;
        Self::poll_all(poller, |value| {
            black_box(value);
            got += 1;
        });
        got
    }

    fn latencies(poller: Poller) -> Vec<u64> {
        let mut out = Vec::new();
        Self::poll_all(poller, |sent| out.push(now_ns().saturating_sub(sent)));
        out
    }
}

impl Contender for Disruptor {
    const NAME: &'static str = "disruptor (backpressured)";
    fn fanout(subs: usize, duration: Duration) -> f64 {
        let (mut producer, pollers) = Self::open(subs);
        // Dropping the producer at the end of the closure shuts the pollers
        // down once they have read everything.
        run_fanout(pollers, Self::recv_all, move || {
            publish_for(duration, |i| Self::publish(&mut producer, i));
        })
    }
    fn latency(messages: u64) -> Vec<u64> {
        let (mut producer, mut pollers) = Self::open(1);
        run_latency(pollers.remove(0), Self::latencies, messages, move |stamp| {
            Self::publish(&mut producer, stamp);
        })
    }
    fn publish_ns(_idle: usize, _ops: u64) -> Option<f64> {
        // Needs a consumer, and an idle one would block the producer.
        None
    }
}

struct Crossbeam;

impl Crossbeam {
    /// One bounded channel per subscriber.
    fn channels(
        subs: usize,
    ) -> (
        Vec<crossbeam_channel::Sender<u64>>,
        Vec<crossbeam_channel::Receiver<u64>>,
    ) {
        (0..subs)
            .map(|_| crossbeam_channel::bounded(CAPACITY))
            .unzip()
    }

    /// Offers `msg` to every subscriber; a full one misses it.
    fn send(senders: &[crossbeam_channel::Sender<u64>], msg: u64) -> usize {
        senders.iter().filter(|tx| tx.try_send(msg).is_ok()).count()
    }
}

impl Contender for Crossbeam {
    const NAME: &'static str = "crossbeam-channel (per-sub, try_send)";
    fn fanout(subs: usize, duration: Duration) -> f64 {
        let (senders, receivers) = Self::channels(subs);
        run_fanout(
            receivers,
            |rx| rx.iter().count() as u64,
            move || {
                publish_for(duration, |i| {
                    Self::send(&senders, i);
                });
            },
        )
    }
    fn latency(messages: u64) -> Vec<u64> {
        let (senders, mut receivers) = Self::channels(1);
        run_latency(
            receivers.remove(0),
            |rx| {
                rx.iter()
                    .map(|sent| now_ns().saturating_sub(sent))
                    .collect()
            },
            messages,
            move |stamp| {
                Self::send(&senders, stamp);
            },
        )
    }
    fn publish_ns(idle: usize, ops: u64) -> Option<f64> {
        let (senders, _idle) = Self::channels(idle);
        Some(time_ns(ops, |i| {
            black_box(Self::send(&senders, i));
        }))
    }
}

/// One library's entry points.
struct Runner {
    name: &'static str,
    fanout: fn(usize, Duration) -> f64,
    latency: fn(u64) -> Vec<u64>,
    publish_ns: fn(usize, u64) -> Option<f64>,
    batch_ns: fn(u64) -> Option<(f64, bool)>,
}

fn contender<C: Contender>() -> Runner {
    Runner {
        name: C::NAME,
        fanout: C::fanout,
        latency: C::latency,
        publish_ns: C::publish_ns,
        batch_ns: C::batch_ns,
    }
}

/// What one library measured, samples per round (or per latency block).
#[derive(Default)]
struct Samples {
    /// Per subscriber count (index into `SUBSCRIBERS`): M deliveries/s.
    fanout: Vec<Vec<f64>>,
    /// (p50, p99) per latency block, ns.
    latency: Vec<(f64, f64)>,
    publish_empty: Vec<f64>,
    publish_idle: Vec<f64>,
    batch: Vec<f64>,
    batch_native: bool,
}

/// Medians of one library's samples.
struct Summary {
    name: &'static str,
    fanout: Vec<Option<f64>>,
    p50: Option<f64>,
    p99: Option<f64>,
    publish_empty: Option<f64>,
    publish_idle: Option<f64>,
    batch: Option<f64>,
    batch_native: bool,
}

impl Summary {
    fn of(name: &'static str, s: &Samples) -> Self {
        Self {
            name,
            fanout: s.fanout.iter().map(|v| median(v.clone())).collect(),
            p50: median(s.latency.iter().map(|l| l.0).collect()),
            p99: median(s.latency.iter().map(|l| l.1).collect()),
            publish_empty: median(s.publish_empty.clone()),
            publish_idle: median(s.publish_idle.clone()),
            batch: median(s.batch.clone()),
            batch_native: s.batch_native,
        }
    }
}

/// The `p` quantile of sorted latencies, in ns; 0 when nothing was measured.
fn ns_at(sorted: &[u64], p: f64) -> f64 {
    percentile(sorted, p).map_or(0.0, |ns| ns as f64)
}

fn cell(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.digits$}"))
}

fn json_number(v: Option<f64>) -> String {
    v.map_or_else(|| "null".into(), |v| format!("{v:.4}"))
}

fn to_json(rounds: usize, fanning: Duration, probes: u64, all: &[Summary]) -> String {
    let mut out = format!(
        "{{\n  \"capacity\": {CAPACITY},\n  \"rounds\": {rounds},\n  \"fanout_ms\": {},\n  \"latency_probes_per_round\": {probes},\n  \"libraries\": [\n",
        fanning.as_millis()
    );
    for (i, s) in all.iter().enumerate() {
        let fanout: Vec<String> = SUBSCRIBERS
            .iter()
            .zip(&s.fanout)
            .map(|(subs, v)| format!("\"{subs}\": {}", json_number(*v)))
            .collect();
        let _ = writeln!(
            out,
            "    {{\"name\": \"{}\", \"fanout_m_deliveries_per_s\": {{{}}}, \"latency_p50_ns\": {}, \"latency_p99_ns\": {}, \"publish_no_subscriber_ns\": {}, \"publish_idle_subscriber_ns\": {}, \"batch_ns_per_message\": {}, \"batch_call\": {}}}{}",
            s.name,
            fanout.join(", "),
            json_number(s.p50),
            json_number(s.p99),
            json_number(s.publish_empty),
            json_number(s.publish_idle),
            json_number(s.batch),
            s.batch_native,
            if i + 1 < all.len() { "," } else { "" }
        );
    }
    out.push_str("  ]\n}\n");
    out
}

fn main() {
    let args = BenchArgs::from_env();
    let (full, quick, rounds) = (args.full, args.quick, args.rounds());
    // Every fan-out publishes for `fanning`, whatever the library
    // (`publish_for`).
    let (fanning, mut probes, ops) = match (full, quick) {
        (true, false) => (Duration::from_millis(200), 20_000, 2_000_000),
        (true, true) => (Duration::from_millis(50), 2_000, 500_000),
        (false, _) => (Duration::from_millis(2), 500, 10_000),
    };
    // `--fanout-only` skips the other scenarios (for profiling the fan-out).
    let fanout_only = args.flag("--fanout-only");
    if fanout_only {
        probes = 0;
    }
    // `--only NAME` keeps the libraries whose name contains NAME.
    let only = args.value("--only");
    let runners: Vec<Runner> = [
        contender::<Backend<SoaBus<u64>>>(),
        contender::<Backend<ClassicBus<u64>>>(),
        contender::<Tokio>(),
        contender::<AsyncBroadcast>(),
        contender::<Crossbeam>(),
        contender::<JonhooBus>(),
        contender::<Disruptor>(),
    ]
    .into_iter()
    .filter(|r| only.as_deref().is_none_or(|name| r.name.contains(name)))
    .collect();

    let mut samples: Vec<Samples> = runners
        .iter()
        .map(|_| Samples {
            fanout: vec![Vec::new(); SUBSCRIBERS.len()],
            ..Samples::default()
        })
        .collect();
    let blocks = (probes / LATENCY_BLOCK).max(1);
    let block = probes.min(LATENCY_BLOCK);
    for round in 0..rounds {
        for offset in 0..runners.len() {
            let r = (round + offset) % runners.len();
            let (runner, sample) = (&runners[r], &mut samples[r]);
            for (s, subs) in SUBSCRIBERS.iter().enumerate() {
                sample.fanout[s].push((runner.fanout)(*subs, fanning) / 1e6);
            }
            if fanout_only {
                continue;
            }
            sample.publish_empty.extend((runner.publish_ns)(0, ops));
            sample.publish_idle.extend((runner.publish_ns)(1, ops));
            if let Some((ns, native)) = (runner.batch_ns)(ops / BATCH) {
                sample.batch.push(ns);
                sample.batch_native = native;
            }
        }
        // Latency in blocks, every library's block back to back, so a stall
        // of the VM lands in one library's block, not its whole run.
        for b in 0..blocks {
            for offset in 0..runners.len() {
                let r = (round + b as usize + offset) % runners.len();
                if block > 0 {
                    let mut lat = (runners[r].latency)(block);
                    lat.sort_unstable();
                    samples[r]
                        .latency
                        .push((ns_at(&lat, 0.5), ns_at(&lat, 0.99)));
                }
            }
        }
    }
    let summaries: Vec<Summary> = runners
        .iter()
        .zip(&samples)
        .map(|(runner, s)| Summary::of(runner.name, s))
        .collect();

    println!(
        "rounds: {rounds}, {fanning:?} of publishing per fan-out, {probes} latency probes per round, capacity {CAPACITY}"
    );
    println!(
        "\n{:<38} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "fan-out (M deliveries/s), latency",
        "1 sub",
        "2 subs",
        "4 subs",
        "8 subs",
        "16 subs",
        "p50 ns",
        "p99 ns"
    );
    for s in &summaries {
        let cells: Vec<String> = s
            .fanout
            .iter()
            .map(|v| format!("{:>9}", cell(*v, 2)))
            .collect();
        println!(
            "{:<38} {} {:>9} {:>9}",
            s.name,
            cells.join(" "),
            cell(s.p50, 0),
            cell(s.p99, 0)
        );
    }
    println!(
        "\n{:<38} {:>12} {:>12} {:>14}",
        "publish cost (ns)", "no sub", "1 idle sub", "batch of 64/msg"
    );
    for s in &summaries {
        let batch = match (s.batch, s.batch_native) {
            (Some(ns), true) => format!("{ns:.2}"),
            (Some(ns), false) => format!("{ns:.2} (loop)"),
            (None, _) => "-".into(),
        };
        println!(
            "{:<38} {:>12} {:>12} {:>14}",
            s.name,
            cell(s.publish_empty, 2),
            cell(s.publish_idle, 2),
            batch
        );
    }

    // Machine-readable lines for `cargo xtask perf-gate`.
    for s in &summaries {
        for (subs, v) in SUBSCRIBERS.iter().zip(&s.fanout) {
            if let Some(v) = v {
                println!("perf\tfanout\t{}\t{subs}\t{v:.4}", s.name);
            }
        }
        if let (Some(p50), Some(p99)) = (s.p50, s.p99) {
            println!("perf\tlatency\t{}\t{p50:.0}\t{p99:.0}", s.name);
        }
        for (case, v) in [
            ("empty", s.publish_empty),
            ("idle", s.publish_idle),
            ("batch", s.batch),
        ] {
            if let Some(v) = v {
                println!("perf\tpublish\t{}\t{case}\t{v:.4}", s.name);
            }
        }
    }
    if let Some(path) = args.value("--json") {
        std::fs::write(&path, to_json(rounds, fanning, probes, &summaries))
            .unwrap_or_else(|e| panic!("cannot write {path}: {e}"));
        eprintln!("comparables: wrote {path}");
    }
}
