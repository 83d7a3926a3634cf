//! The async comparables: ron-bus's SoA and classic backends against the
//! other async broadcast channels with the subscribers as tokio *tasks*
//! awaiting `recv()` (the way the kernel's users subscribe), measured side
//! by side in one run. The harness is the library's
//! [`ron_benches::async_harness`]: N tasks (1 to 256) on one 2-worker
//! multi-thread runtime, the publisher on its own OS thread, capacity 1024.
//!
//! * flood: the publisher sends as fast as the channel takes messages for
//!   200 ms (every library's run lasts as long, so a stall of the VM weighs
//!   the same on each); deliveries per second until every task has seen
//!   the close (lossy channels count only deliveries). Median, min and max
//!   over the rounds: a library whose rate collapses in some runs shows it
//!   in the min.
//! * paced: 20 k messages/s, the publisher *sleeping* between messages
//!   (a spinning pacer takes a core the runtime needs and puts
//!   millisecond tails on everyone); p50, p99 and p99.9 of publish→receive
//!   over every delivery of a run, and the process's CPU time per delivery
//!   over the run. Medians over the rounds.
//!
//! How each library is driven: the ron-bus backends, tokio's broadcast
//! (`recv().await`), async-broadcast in overflow mode (`recv_direct()`, the
//! future its docs recommend for a plain `.await`: no boxing; the
//! publisher's `try_broadcast` never waits) and flume as one bounded channel
//! per subscriber (`recv_async()`; the publisher's `send` blocks while a
//! subscriber is full: the backpressured reference, it delivers every
//! message).
//!
//! Every round runs every library once per scenario point, in rotating
//! order, so the VM's drift between a fast and a slow state lands on all of
//! them. `--json PATH` also writes every figure as JSON; `perf\t...` lines
//! feed `cargo xtask perf-gate`, with the floors' ratios (SoA over the best
//! other library) computed here, where the rounds are known.
//!
//! ```text
//! cargo bench -p ron-benches --bench async_comparables            # 5 rounds
//! cargo bench -p ron-benches --bench async_comparables -- --quick # 1 short round
//! cargo bench -p ron-benches --bench async_comparables -- --rounds 9 --json out.json --only soa
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::fmt::Write as _;
use std::time::Duration;

use ron_benches::async_harness::{AsyncChannel, HarnessError, Run, WORKERS, flood, paced};
use ron_benches::cli::BenchArgs;
use ron_benches::harness::Next;
use ron_benches::rounds::OnBus;
use ron_benches::{median, percentile};
use ron_bus_classic::ClassicBus;
use ron_bus_soa::SoaBus;

const CAPACITY: usize = 1024;
const TASKS: [usize; 5] = [1, 4, 16, 64, 256];
/// Messages per second of the paced scenario.
const PACED_RATE: f64 = 20_000.0;
const SOA: &str = "ron-bus soa";

/// async-broadcast in overflow mode: the oldest message is dropped for a
/// full receiver, so the publisher never waits (a lossy channel, like the
/// ron-bus backends and tokio's).
struct AsyncBroadcast(async_broadcast::Sender<u64>);

impl AsyncChannel for AsyncBroadcast {
    type Rx = async_broadcast::Receiver<u64>;

    fn open(capacity: usize, subscribers: usize) -> Result<(Self, Vec<Self::Rx>), HarnessError> {
        let (mut tx, rx) = async_broadcast::broadcast(capacity);
        tx.set_overflow(true);
        let receivers = (0..subscribers).map(|_| rx.clone()).collect();
        Ok((Self(tx), receivers))
    }

    fn send(&mut self, msg: u64) {
        // Err only when every receiver is gone: nothing to deliver.
        let _ = self.0.try_broadcast(msg);
    }

    async fn recv(rx: &mut Self::Rx) -> Next {
        match rx.recv_direct().await {
            Ok(msg) => Next::Message(msg),
            Err(async_broadcast::RecvError::Overflowed(_)) => Next::Lost,
            Err(async_broadcast::RecvError::Closed) => Next::Closed,
        }
    }
}

/// One bounded flume channel per subscriber, fed with a blocking `send`:
/// backpressured, every subscriber gets every message.
struct Flume(Vec<flume::Sender<u64>>);

impl AsyncChannel for Flume {
    type Rx = flume::Receiver<u64>;

    fn open(capacity: usize, subscribers: usize) -> Result<(Self, Vec<Self::Rx>), HarnessError> {
        let (senders, receivers) = (0..subscribers).map(|_| flume::bounded(capacity)).unzip();
        Ok((Self(senders), receivers))
    }

    fn send(&mut self, msg: u64) {
        for tx in &self.0 {
            // Err only when that subscriber is gone.
            let _ = tx.send(msg);
        }
    }

    async fn recv(rx: &mut Self::Rx) -> Next {
        match rx.recv_async().await {
            Ok(msg) => Next::Message(msg),
            Err(flume::RecvError::Disconnected) => Next::Closed,
        }
    }
}

/// One library's entry points.
struct Lib {
    name: &'static str,
    flood: fn(usize, Duration) -> Run,
    paced: fn(usize, Duration) -> Run,
}

fn flood_of<C: AsyncChannel>(tasks: usize, duration: Duration) -> Run {
    flood::<C>(CAPACITY, tasks, duration).unwrap()
}

fn paced_of<C: AsyncChannel>(tasks: usize, duration: Duration) -> Run {
    paced::<C>(CAPACITY, tasks, PACED_RATE, duration).unwrap()
}

fn lib<C: AsyncChannel>(name: &'static str) -> Lib {
    Lib {
        name,
        flood: flood_of::<C>,
        paced: paced_of::<C>,
    }
}

/// One paced run's figures: p50, p99, p99.9 in ns, CPU ns per delivery.
#[derive(Clone, Copy)]
struct PacedSample {
    p50: f64,
    p99: f64,
    p999: f64,
    cpu: Option<f64>,
}

impl PacedSample {
    fn of(run: &Run) -> Self {
        let at = |p| percentile(&run.latencies, p).map_or(f64::NAN, |ns| ns as f64);
        Self {
            p50: at(0.5),
            p99: at(0.99),
            p999: at(0.999),
            cpu: run.cpu_ns_per_delivery(),
        }
    }
}

/// Samples of one library, per task count (index into [`TASKS`]), one per
/// round.
struct Samples {
    /// M deliveries/s.
    flood: Vec<Vec<f64>>,
    paced: Vec<Vec<PacedSample>>,
}

/// Medians (flood: and extremes) of one library at one task count.
struct Point {
    flood: Option<(f64, f64, f64)>,
    p50: Option<f64>,
    p99: Option<f64>,
    p999: Option<f64>,
    cpu: Option<f64>,
}

impl Point {
    fn of(flood: &[f64], paced: &[PacedSample]) -> Self {
        let lo = flood.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = flood.iter().copied().fold(0.0, f64::max);
        let med = |f: fn(&PacedSample) -> f64| median(paced.iter().map(f).collect());
        Self {
            flood: median(flood.to_vec()).map(|m| (m, lo, hi)),
            p50: med(|s| s.p50),
            p99: med(|s| s.p99),
            p999: med(|s| s.p999),
            cpu: median(paced.iter().filter_map(|s| s.cpu).collect()),
        }
    }
}

/// One paced figure of a [`Point`].
type Field = fn(&Point) -> Option<f64>;

/// The floors' ratios, SoA over the best other library: the flood's in the
/// worst round (min over rounds of SoA / the fastest other in that round),
/// the paced ones on the medians (SoA / the lowest other).
fn ratios(libs: &[Lib], samples: &[Samples], points: &[Vec<Point>]) -> Vec<(String, f64)> {
    let Some(soa) = libs.iter().position(|l| l.name == SOA) else {
        return Vec::new();
    };
    let others: Vec<usize> = (0..libs.len()).filter(|i| *i != soa).collect();
    if others.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (t, tasks) in TASKS.iter().enumerate() {
        let worst_round = samples[soa].flood[t]
            .iter()
            .enumerate()
            .map(|(round, ours)| {
                let best = others
                    .iter()
                    .filter_map(|o| samples[*o].flood[t].get(round))
                    .copied()
                    .fold(0.0, f64::max);
                ours / best
            })
            .fold(f64::INFINITY, f64::min);
        if worst_round.is_finite() {
            out.push((format!("async_flood_soa_over_best_{tasks}"), worst_round));
        }
        let lowest_other = |f: Field| {
            others
                .iter()
                .filter_map(|o| f(&points[*o][t]))
                .fold(f64::INFINITY, f64::min)
        };
        let fields: [(&str, Field); 3] =
            [("p99", |p| p.p99), ("p999", |p| p.p999), ("cpu", |p| p.cpu)];
        for (key, f) in fields {
            if let Some(ours) = f(&points[soa][t]) {
                let theirs = lowest_other(f);
                if theirs.is_finite() && theirs > 0.0 {
                    out.push((format!("async_{key}_soa_over_best_{tasks}"), ours / theirs));
                }
            }
        }
    }
    out
}

fn cell(v: Option<f64>, scale: f64, digits: usize) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{:.digits$}", v / scale))
}

fn json_number(v: Option<f64>) -> String {
    v.filter(|v| v.is_finite())
        .map_or_else(|| "null".into(), |v| format!("{v:.4}"))
}

fn to_json(
    rounds: usize,
    duration: Duration,
    libs: &[Lib],
    points: &[Vec<Point>],
    ratios: &[(String, f64)],
) -> String {
    let mut out = format!(
        "{{\n  \"capacity\": {CAPACITY},\n  \"rounds\": {rounds},\n  \"workers\": {WORKERS},\n  \"paced_rate_per_s\": {PACED_RATE},\n  \"paced_seconds\": {},\n  \"libraries\": [\n",
        duration.as_secs_f64()
    );
    for (i, (lib, points)) in libs.iter().zip(points).enumerate() {
        let flood: Vec<String> = TASKS
            .iter()
            .zip(points)
            .map(|(tasks, p)| {
                let (m, lo, hi) = match p.flood {
                    Some((m, lo, hi)) => (Some(m), Some(lo), Some(hi)),
                    None => (None, None, None),
                };
                format!(
                    "\"{tasks}\": {{\"median\": {}, \"min\": {}, \"max\": {}}}",
                    json_number(m),
                    json_number(lo),
                    json_number(hi)
                )
            })
            .collect();
        let paced: Vec<String> = TASKS
            .iter()
            .zip(points)
            .map(|(tasks, p)| {
                format!(
                    "\"{tasks}\": {{\"p50_ns\": {}, \"p99_ns\": {}, \"p999_ns\": {}, \"cpu_ns_per_delivery\": {}}}",
                    json_number(p.p50),
                    json_number(p.p99),
                    json_number(p.p999),
                    json_number(p.cpu)
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "    {{\"name\": \"{}\", \"flood_m_deliveries_per_s\": {{{}}}, \"paced\": {{{}}}}}{}",
            lib.name,
            flood.join(", "),
            paced.join(", "),
            if i + 1 < libs.len() { "," } else { "" }
        );
    }
    let ratios: Vec<String> = ratios
        .iter()
        .map(|(k, v)| format!("\"{k}\": {}", json_number(Some(*v))))
        .collect();
    let _ = writeln!(out, "  ],\n  \"ratios\": {{{}}}\n}}", ratios.join(", "));
    out
}

fn main() {
    let args = BenchArgs::from_env();
    let (full, quick, rounds) = (args.full, args.quick, args.rounds());
    // Every flood run publishes for `flooding`, every paced one for
    // `duration`, whatever the library.
    let (flooding, duration) = match (full, quick) {
        (true, false) => (Duration::from_millis(200), Duration::from_millis(500)),
        (true, true) => (Duration::from_millis(50), Duration::from_millis(200)),
        (false, _) => (Duration::from_millis(2), Duration::from_millis(20)),
    };
    let only = args.value("--only");
    let libs: Vec<Lib> = [
        lib::<OnBus<SoaBus<u64>>>(SOA),
        lib::<OnBus<ClassicBus<u64>>>("ron-bus classic"),
        lib::<tokio::sync::broadcast::Sender<u64>>("tokio broadcast"),
        lib::<AsyncBroadcast>("async-broadcast (overflow)"),
        lib::<Flume>("flume (per-sub, backpressured)"),
    ]
    .into_iter()
    .filter(|l| only.as_deref().is_none_or(|name| l.name.contains(name)))
    .collect();

    let mut samples: Vec<Samples> = libs
        .iter()
        .map(|_| Samples {
            flood: vec![Vec::new(); TASKS.len()],
            paced: vec![Vec::new(); TASKS.len()],
        })
        .collect();
    for round in 0..rounds {
        for (t, tasks) in TASKS.iter().enumerate() {
            for offset in 0..libs.len() {
                let l = (round + t + offset) % libs.len();
                let run = (libs[l].flood)(*tasks, flooding);
                samples[l].flood[t].push(run.deliveries_per_s() / 1e6);
            }
            for offset in 0..libs.len() {
                let l = (round + t + offset) % libs.len();
                let run = (libs[l].paced)(*tasks, duration);
                samples[l].paced[t].push(PacedSample::of(&run));
            }
        }
    }
    let points: Vec<Vec<Point>> = samples
        .iter()
        .map(|s| {
            s.flood
                .iter()
                .zip(&s.paced)
                .map(|(f, p)| Point::of(f, p))
                .collect()
        })
        .collect();
    let ratios = ratios(&libs, &samples, &points);

    println!(
        "async: rounds {rounds}, {WORKERS}-worker runtime, capacity {CAPACITY}, flood for {flooding:?} per run, paced {PACED_RATE} msgs/s for {duration:?}"
    );
    print!("\n{:<34}", "flood, M deliveries/s: median (min-max)");
    for tasks in TASKS {
        print!(" {:>20}", format!("{tasks} tasks"));
    }
    println!();
    for (lib, points) in libs.iter().zip(&points) {
        print!("{:<34}", lib.name);
        for p in points {
            let text = p.flood.map_or_else(
                || "-".into(),
                |(m, lo, hi)| format!("{m:.2} ({lo:.2}-{hi:.2})"),
            );
            print!(" {text:>20}");
        }
        println!();
    }
    println!(
        "\n{:<34} {:>6} {:>9} {:>9} {:>9} {:>12}",
        "paced, latency µs", "tasks", "p50", "p99", "p99.9", "CPU ns/dlv"
    );
    for (t, tasks) in TASKS.iter().enumerate() {
        for (lib, points) in libs.iter().zip(&points) {
            let p = &points[t];
            println!(
                "{:<34} {tasks:>6} {:>9} {:>9} {:>9} {:>12}",
                lib.name,
                cell(p.p50, 1e3, 1),
                cell(p.p99, 1e3, 1),
                cell(p.p999, 1e3, 1),
                cell(p.cpu, 1.0, 0)
            );
        }
    }
    println!("\nSoA over the best other library (flood: its worst round; paced: medians):");
    for (key, v) in &ratios {
        println!("  {key:<34} {v:.3}");
    }

    // Machine-readable lines for `cargo xtask perf-gate`.
    let machine = |v: Option<f64>| json_number(v).replace("null", "-");
    for (lib, points) in libs.iter().zip(&points) {
        for (tasks, p) in TASKS.iter().zip(points) {
            if let Some((m, lo, hi)) = p.flood {
                println!(
                    "perf\tasync_flood\t{}\t{tasks}\t{m:.4}\t{lo:.4}\t{hi:.4}",
                    lib.name
                );
            }
            println!(
                "perf\tasync_paced\t{}\t{tasks}\t{}\t{}\t{}\t{}",
                lib.name,
                machine(p.p50),
                machine(p.p99),
                machine(p.p999),
                machine(p.cpu)
            );
        }
    }
    for (key, v) in &ratios {
        println!("perf\tratio\t{key}\t{v:.4}");
    }
    if let Some(path) = args.value("--json") {
        std::fs::write(&path, to_json(rounds, duration, &libs, &points, &ratios))
            .unwrap_or_else(|e| panic!("cannot write {path}: {e}"));
        eprintln!("async_comparables: wrote {path}");
    }
}
