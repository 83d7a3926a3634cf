//! ClassicBus against raw `tokio::sync::broadcast`, *interleaved*: each
//! sample times both sides back to back (alternating which goes first), so
//! a VM that switches between fast and slow states moves both alike. The
//! table gives the median time per operation of each side and the median of
//! the per-sample ratios, with the classic backend's gates:
//!
//! * `publish` with 0, 1, 4 idle subscribers: classic / raw ≤ 1.15;
//! * `fanout` to 1, 4, 16 subscriber tasks: raw / classic time ≤ 1.15
//!   (i.e. classic delivers at least 1/1.15 of raw's rate);
//! * `publish_many` vs a loop of `publish` (64 messages): loop / many,
//!   reported against the A2 gate of 1.15 (see docs/PERFORMANCE.md for why
//!   a backend over tokio's channel cannot reach it).
//!
//! ```text
//! cargo bench -p ron-bus-classic --bench ratios
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use ron_benches::median;
use ron_benches::rounds::{Flavour, OnBus, fanout_rounds};
use ron_bus::{BusBackend, autotune_capacity};
use ron_bus_classic::ClassicBus;
use tokio::sync::broadcast;

/// Samples per case (odd, for a true median).
const SAMPLES: usize = 31;
const BATCH: u64 = 64;

/// One line of the table.
struct Row {
    /// Key of the machine-readable line `cargo xtask perf-gate` reads.
    key: String,
    case: String,
    base_ns: f64,
    ours_ns: f64,
    ratio: f64,
    gate: f64,
    /// Whether the ratio is "ours over base" (lower is better) or
    /// "base over ours" (higher is better for ours).
    lower_is_better: bool,
}

/// Runs `SAMPLES` interleaved samples of `base` and `ours`, each timing
/// `ops` operations, and returns (median base ns/op, median ours ns/op,
/// median of ours/base).
fn interleaved(
    ops: u64,
    mut base: impl FnMut() -> Duration,
    mut ours: impl FnMut() -> Duration,
) -> (f64, f64, f64) {
    let (mut b, mut o, mut r) = (Vec::new(), Vec::new(), Vec::new());
    for sample in 0..SAMPLES {
        let (tb, to) = if sample % 2 == 0 {
            let tb = base();
            (tb, ours())
        } else {
            let to = ours();
            (base(), to)
        };
        let (nb, no) = (
            tb.as_secs_f64() * 1e9 / ops as f64,
            to.as_secs_f64() * 1e9 / ops as f64,
        );
        b.push(nb);
        o.push(no);
        r.push(no / nb);
    }
    (median(b).unwrap(), median(o).unwrap(), median(r).unwrap())
}

fn publish_rows(rows: &mut Vec<Row>) {
    const OPS: u64 = 200_000;
    for subs in [0usize, 1, 4] {
        let (raw, _) = broadcast::channel::<u64>(64);
        let _raw_rx: Vec<_> = (0..subs).map(|_| raw.subscribe()).collect();
        let classic = ClassicBus::<u64>::with_capacity(64).unwrap();
        let _classic_rx: Vec<_> = (0..subs).map(|_| classic.subscribe()).collect();
        let time_raw = || {
            let start = Instant::now();
            for i in 0..OPS {
                black_box(raw.send(i).unwrap_or(0));
            }
            start.elapsed()
        };
        let time_classic = || {
            let start = Instant::now();
            for i in 0..OPS {
                black_box(classic.publish(i));
            }
            start.elapsed()
        };
        let (base_ns, ours_ns, ratio) = interleaved(OPS, time_raw, time_classic);
        rows.push(Row {
            key: format!("classic_vs_raw_publish_{subs}"),
            case: format!("publish, {subs} idle subs (classic/raw)"),
            base_ns,
            ours_ns,
            ratio,
            gate: 1.15,
            lower_is_better: true,
        });
    }
}

fn batch_rows(rows: &mut Vec<Row>) {
    const BATCHES: u64 = 4_000;
    for subs in [1usize, 4] {
        let bus = ClassicBus::<u64>::with_capacity(64).unwrap();
        let _rx: Vec<_> = (0..subs).map(|_| bus.subscribe()).collect();
        let time_loop = || {
            let start = Instant::now();
            for b in 0..BATCHES {
                for m in b * BATCH..(b + 1) * BATCH {
                    black_box(bus.publish(m));
                }
            }
            start.elapsed()
        };
        let time_many = || {
            let start = Instant::now();
            for b in 0..BATCHES {
                black_box(bus.publish_many(b * BATCH..(b + 1) * BATCH));
            }
            start.elapsed()
        };
        let (base_ns, ours_ns, ratio) = interleaved(BATCHES * BATCH, time_loop, time_many);
        rows.push(Row {
            key: format!("classic_publish_many_gain_{subs}"),
            case: format!("publish_many vs loop, {subs} subs (loop/many)"),
            base_ns,
            ours_ns,
            ratio: 1.0 / ratio,
            gate: 1.15,
            lower_is_better: false,
        });
    }
}

fn fanout_rows(rows: &mut Vec<Row>) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for subs in [1usize, 4, 16] {
        let capacity = autotune_capacity(subs, None) as u64;
        let rounds = 20_000 / capacity;
        let (raw, _) = broadcast::channel::<u64>(capacity as usize);
        let raw_seen: Vec<_> = (0..subs).map(|_| Arc::new(AtomicU64::new(0))).collect();
        raw_seen
            .iter()
            .for_each(|s| raw.spawn_subscriber(&runtime, Arc::clone(s)));
        let classic = OnBus(ClassicBus::<u64>::with_capacity(capacity as usize).unwrap());
        let classic_seen: Vec<_> = (0..subs).map(|_| Arc::new(AtomicU64::new(0))).collect();
        classic_seen
            .iter()
            .for_each(|s| classic.spawn_subscriber(&runtime, Arc::clone(s)));
        let (mut raw_next, mut classic_next) = (0, 0);
        let deliveries = rounds * capacity * subs as u64;
        let (base_ns, ours_ns, ratio) = interleaved(
            deliveries,
            || fanout_rounds(&raw, &raw_seen, capacity, rounds, &mut raw_next),
            || fanout_rounds(&classic, &classic_seen, capacity, rounds, &mut classic_next),
        );
        rows.push(Row {
            key: format!("classic_vs_raw_fanout_{subs}"),
            case: format!("fan-out, {subs} subs (classic/raw time per delivery)"),
            base_ns,
            ours_ns,
            ratio,
            gate: 1.15,
            lower_is_better: true,
        });
    }
}

fn main() {
    let mut rows = Vec::new();
    publish_rows(&mut rows);
    batch_rows(&mut rows);
    fanout_rows(&mut rows);
    println!(
        "{:<55} {:>10} {:>10} {:>8} {:>8}  verdict",
        "case", "base ns", "ours ns", "ratio", "gate"
    );
    for row in rows {
        let pass = if row.lower_is_better {
            row.ratio <= row.gate
        } else {
            row.ratio >= row.gate
        };
        let op = if row.lower_is_better { "<=" } else { ">=" };
        println!(
            "{:<55} {:>10.2} {:>10.2} {:>8.3} {op}{:>6.2}  {}",
            row.case,
            row.base_ns,
            row.ours_ns,
            row.ratio,
            row.gate,
            if pass { "pass" } else { "FAIL" }
        );
        // Machine-readable, for `cargo xtask perf-gate`.
        println!("perf\tratio\t{}\t{:.4}", row.key, row.ratio);
    }
}
