//! What a batched receive gains: each ron-bus backend's 4 subscribers
//! receiving one message at a time against receiving in runs of up to 64,
//! on OS threads and on tokio tasks, side by side in one run.
//!
//! * drain (the gated figure): the subscribers find a backlog of 65,536
//!   messages waiting and take all of it: receive-bound by construction,
//!   so it measures what a receive costs, which is what runs save (one pin
//!   and one fence per run in SoA, one poll per run on a task);
//! * flood (reported): the publisher sends as fast as it can to
//!   subscribers that keep up, capacity 1024: publisher-bound, so a
//!   cheaper receive changes little there (docs/PERFORMANCE.md).
//!
//! Threads: [`ron_benches::harness`], [`Receive::OneByOne`]
//! (`blocking_recv` per message) against [`Receive::Runs`]
//! (`try_recv_many`, `blocking_recv` when empty). Tasks:
//! [`ron_benches::async_harness`] on a 2-worker runtime, [`OnBus`]
//! (`recv().await` per message) against [`InRuns`]
//! (`recv_many(&mut buf, 64).await`). Deliveries per second (a lapped
//! subscriber's losses are not deliveries). Each round runs the two ways
//! back to back, in alternating order; the gain is the median over the
//! rounds of each round's ratio.
//!
//! ```text
//! cargo bench -p ron-benches --bench recv_many            # 5 rounds
//! cargo bench -p ron-benches --bench recv_many -- --rounds 9
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::Duration;

use ron_benches::async_harness::{AsyncChannel, InRuns, drain, flood};
use ron_benches::cli::BenchArgs;
use ron_benches::harness::{Receive, backend_drain, backend_fanout};
use ron_benches::median;
use ron_benches::rounds::OnBus;
use ron_bus::BusBackend;
use ron_bus_classic::ClassicBus;
use ron_bus_soa::SoaBus;

const SUBSCRIBERS: usize = 4;
/// The drain's backlog (and its bus's capacity).
const BACKLOG: usize = 1 << 16;
/// The flood's capacity.
const CAPACITY: usize = 1024;

/// M deliveries/s of one way of receiving, given the flood's duration.
type Way = fn(Duration) -> f64;

fn drain_threads<B: BusBackend<u64>>(receive: Receive) -> f64 {
    backend_drain::<B>(BACKLOG, SUBSCRIBERS, receive).unwrap() / 1e6
}

fn drain_tasks<C: AsyncChannel>(_: Duration) -> f64 {
    drain::<C>(BACKLOG, SUBSCRIBERS).unwrap().deliveries_per_s() / 1e6
}

fn flood_threads<B: BusBackend<u64>>(receive: Receive, duration: Duration) -> f64 {
    backend_fanout::<B>(CAPACITY, SUBSCRIBERS, duration, receive).unwrap() / 1e6
}

fn flood_tasks<C: AsyncChannel>(duration: Duration) -> f64 {
    flood::<C>(CAPACITY, SUBSCRIBERS, duration)
        .unwrap()
        .deliveries_per_s()
        / 1e6
}

/// One comparison: its perf key, one message at a time, in runs.
struct Pair {
    key: &'static str,
    label: &'static str,
    one_by_one: Way,
    runs: Way,
}

const fn pair(key: &'static str, label: &'static str, one_by_one: Way, runs: Way) -> Pair {
    Pair {
        key,
        label,
        one_by_one,
        runs,
    }
}

#[rustfmt::skip]
const PAIRS: [Pair; 8] = [
    pair("recv_many_gain_threads_4", "drain, SoA, threads",
         |_| drain_threads::<SoaBus<u64>>(Receive::OneByOne), |_| drain_threads::<SoaBus<u64>>(Receive::Runs)),
    pair("recv_many_gain_tasks_4", "drain, SoA, tasks",
         drain_tasks::<OnBus<SoaBus<u64>>>, drain_tasks::<InRuns<SoaBus<u64>>>),
    pair("classic_recv_many_gain_threads_4", "drain, classic, threads",
         |_| drain_threads::<ClassicBus<u64>>(Receive::OneByOne), |_| drain_threads::<ClassicBus<u64>>(Receive::Runs)),
    pair("classic_recv_many_gain_tasks_4", "drain, classic, tasks",
         drain_tasks::<OnBus<ClassicBus<u64>>>, drain_tasks::<InRuns<ClassicBus<u64>>>),
    pair("recv_many_flood_gain_threads_4", "flood, SoA, threads",
         |m| flood_threads::<SoaBus<u64>>(Receive::OneByOne, m), |m| flood_threads::<SoaBus<u64>>(Receive::Runs, m)),
    pair("recv_many_flood_gain_tasks_4", "flood, SoA, tasks",
         flood_tasks::<OnBus<SoaBus<u64>>>, flood_tasks::<InRuns<SoaBus<u64>>>),
    pair("classic_recv_many_flood_gain_threads_4", "flood, classic, threads",
         |m| flood_threads::<ClassicBus<u64>>(Receive::OneByOne, m), |m| flood_threads::<ClassicBus<u64>>(Receive::Runs, m)),
    pair("classic_recv_many_flood_gain_tasks_4", "flood, classic, tasks",
         flood_tasks::<OnBus<ClassicBus<u64>>>, flood_tasks::<InRuns<ClassicBus<u64>>>),
];

fn main() {
    let args = BenchArgs::from_env();
    let rounds = args.rounds();
    // Every flood publishes for `flooding`, threads and tasks alike.
    let flooding = match (args.full, args.quick) {
        (true, false) => Duration::from_millis(50),
        (true, true) => Duration::from_micros(12_500),
        (false, _) => Duration::from_micros(500),
    };
    println!(
        "recv_many: {SUBSCRIBERS} subscribers; drain of {BACKLOG}; flood of {flooding:?} at capacity {CAPACITY}; {rounds} rounds"
    );
    println!(
        "{:<26} {:>12} {:>12} {:>8}",
        "M deliveries/s", "recv", "runs", "gain"
    );
    for pair in &PAIRS {
        let (mut ones, mut runs, mut gains) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..rounds {
            // Alternating order: the VM's drift lands on both ways.
            let (one, run) = if round % 2 == 0 {
                let one = (pair.one_by_one)(flooding);
                (one, (pair.runs)(flooding))
            } else {
                let run = (pair.runs)(flooding);
                ((pair.one_by_one)(flooding), run)
            };
            ones.push(one);
            runs.push(run);
            gains.push(run / one);
        }
        let lo = gains.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = gains.iter().copied().fold(0.0, f64::max);
        let (one, run, gain) = (
            median(ones).unwrap(),
            median(runs).unwrap(),
            median(gains).unwrap(),
        );
        println!(
            "{:<26} {one:>12.2} {run:>12.2} {gain:>8.2}   (min {lo:.2}, max {hi:.2})",
            pair.label
        );
        println!("perf\tratio\t{}\t{gain:.4}", pair.key);
    }
}
