//! SoA against classic, interleaved: every sample
//! runs each contender back to back, so a VM switching between fast and
//! slow states moves all alike; the table gives medians over the samples
//! and the median of the per-sample ratios.
//!
//! * `fan-out`: one publisher thread, N subscriber OS threads receiving in
//!   runs (`try_recv_many`, `blocking_recv` when empty), capacity 1024;
//!   deliveries per second (lossy: a lapped subscriber's losses are not
//!   deliveries); the harness is the library's
//!   [`ron_benches::harness::backend_fanout`], the same as `comparables`.
//! * `publish`: ns per publish with 0 subscribers, and with 1 subscriber
//!   that never reads (lagging).
//! * `publish_many`: ns per message, batches of 64, vs a loop of publish.
//! * `interest`: publish cost with one subscriber whose mask excludes the
//!   traffic, vs no subscriber.
//!
//! ```text
//! cargo bench -p ron-benches --bench vs_classic
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use ron_benches::cli::BenchArgs;
use ron_benches::harness::{Receive, backend_fanout, time_ns};
use ron_benches::median;
use ron_bus::BusBackend;
use ron_bus_classic::ClassicBus;
use ron_bus_soa::SoaBus;

const SAMPLES: usize = 7;

/// Deliveries per second of `duration` of publishing to `subs` subscriber
/// threads receiving in runs, ring capacity `capacity`.
fn fanout<B: BusBackend<u64>>(subs: usize, capacity: usize, duration: Duration) -> f64 {
    backend_fanout::<B>(capacity, subs, duration, Receive::Runs).unwrap()
}

/// ns per publish with `subs` idle subscribers (never read) of `mask`.
fn publish_cost<B: BusBackend<u64>>(subs: usize, mask: u64, ops: u64) -> f64 {
    let bus = B::with_capacity(1024).unwrap();
    let _rx: Vec<_> = (0..subs)
        .map(|_| bus.subscribe_with_interest(mask))
        .collect();
    time_ns(ops, |i| {
        black_box(bus.publish_topic(0b1, i));
    })
}

/// ns per message: (loop of publish, publish_many) with one idle subscriber.
fn batch_cost<B: BusBackend<u64>>(batches: u64) -> (f64, f64) {
    let bus = B::with_capacity(1024).unwrap();
    let _rx = bus.subscribe();
    let looped = time_ns(batches * 64, |m| {
        black_box(bus.publish(m));
    });
    let many = time_ns(batches, |b| {
        black_box(bus.publish_many(b * 64..(b + 1) * 64));
    }) / 64.0;
    (looped, many)
}

/// Interleaved fan-out samples: (median soa M/s, median classic M/s,
/// median soa/classic).
fn fanout_ratio(subs: usize, capacity: usize, duration: Duration) -> (f64, f64, f64) {
    let (mut soa, mut classic, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    for sample in 0..SAMPLES {
        let (s, c) = if sample % 2 == 0 {
            let s = fanout::<SoaBus<u64>>(subs, capacity, duration);
            (s, fanout::<ClassicBus<u64>>(subs, capacity, duration))
        } else {
            let c = fanout::<ClassicBus<u64>>(subs, capacity, duration);
            (fanout::<SoaBus<u64>>(subs, capacity, duration), c)
        };
        soa.push(s / 1e6);
        classic.push(c / 1e6);
        ratio.push(s / c);
    }
    (
        median(soa).unwrap(),
        median(classic).unwrap(),
        median(ratio).unwrap(),
    )
}

/// A machine-readable line for `cargo xtask perf-gate`.
fn perf(key: &str, value: f64) {
    println!("perf\tratio\t{key}\t{value:.4}");
}

fn main() {
    let args = BenchArgs::from_env();
    let (full, quick) = (args.full, args.quick);
    let scale: u64 = match (full, quick) {
        (true, false) => 1,
        (true, true) => 5,
        (false, _) => 20,
    };
    // Each fan-out publishes for this long (`publish_for`).
    let fanning = Duration::from_millis(100) / scale as u32;
    println!(
        "{:<44} {:>12} {:>12} {:>8}",
        "case", "soa", "classic", "ratio"
    );

    for subs in [4usize, 8, 16] {
        let (soa, classic, ratio) = fanout_ratio(subs, 1024, fanning);
        println!(
            "{:<44} {:>10.2} M {:>10.2} M {:>8.2}  (soa/classic, floor >= 2)",
            format!("fan-out deliveries/s, {subs} subs"),
            soa,
            classic,
            ratio
        );
        perf(&format!("soa_vs_classic_fanout_{subs}"), ratio);
    }
    // The B1 gates: +20% at 4 subscribers / capacity 64, +30% at 16 / 128.
    for (subs, capacity) in [(4usize, 64usize), (16, 128)] {
        let (soa, classic, ratio) = fanout_ratio(subs, capacity, fanning);
        println!(
            "{:<44} {:>10.2} M {:>10.2} M {:>8.2}  (soa/classic, B1)",
            format!("fan-out, {subs} subs, capacity {capacity}"),
            soa,
            classic,
            ratio
        );
        perf(&format!("b1_fanout_{subs}_cap{capacity}"), ratio);
    }

    let ops = 2_000_000 / scale;
    for (key, label, subs, floor) in [
        ("soa_vs_classic_publish_0", "publish, 0 subs (ns)", 0, 1.0),
        (
            "soa_vs_classic_publish_lagging",
            "publish, 1 lagging sub (ns)",
            1,
            0.7,
        ),
    ] {
        let (mut soa, mut classic, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..SAMPLES {
            let s = publish_cost::<SoaBus<u64>>(subs, u64::MAX, ops);
            let c = publish_cost::<ClassicBus<u64>>(subs, u64::MAX, ops);
            soa.push(s);
            classic.push(c);
            ratio.push(s / c);
        }
        let ratio = median(ratio).unwrap();
        println!(
            "{label:<44} {:>12.2} {:>12.2} {ratio:>8.2}  (soa/classic, floor <= {floor})",
            median(soa).unwrap(),
            median(classic).unwrap()
        );
        perf(key, ratio);
    }

    let (mut gain_soa, mut gain_classic) = (Vec::new(), Vec::new());
    for _ in 0..SAMPLES {
        let (l, m) = batch_cost::<SoaBus<u64>>(20_000 / scale);
        gain_soa.push(l / m);
        let (l, m) = batch_cost::<ClassicBus<u64>>(20_000 / scale);
        gain_classic.push(l / m);
    }
    let (gain_soa, gain_classic) = (median(gain_soa).unwrap(), median(gain_classic).unwrap());
    println!(
        "{:<44} {gain_soa:>12.2} {gain_classic:>12.2} {:>8}  (loop/many, floor >= 1.5)",
        "publish_many gain per message", ""
    );
    perf("soa_publish_many_gain", gain_soa);

    let mut excluded = Vec::new();
    for _ in 0..SAMPLES {
        let none = publish_cost::<SoaBus<u64>>(0, u64::MAX, ops);
        let other = publish_cost::<SoaBus<u64>>(1, 0b10, ops);
        excluded.push(other / none);
    }
    let excluded = median(excluded).unwrap();
    println!(
        "{:<44} {excluded:>12.2} {:>12} {:>8}  (floor <= 1.10)",
        "interest-excluded sub / no sub (soa)", "", ""
    );
    perf("soa_interest_excluded", excluded);
}
