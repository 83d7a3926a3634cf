//! ClassicBus against raw `tokio::sync::broadcast`, side by side in one run.
//!
//! * `publish/{raw,classic}/{0,1,4}`: one publish with idle subscribers
//!   (capacity 64; the ring overwrites, nobody reads).
//! * `publish_batch/{loop,many}/{1,4}`: 64 messages by a loop of `publish`
//!   and by one `publish_many` (capacity 64, idle subscribers).
//! * `fanout/{raw,classic}/{1,4,16}`: deliveries per second to subscriber
//!   tasks on a 2-worker tokio runtime. Each round publishes `capacity`
//!   messages (autotune's capacity for that many subscribers, so nothing is
//!   lost) and waits until every subscriber has received them.
//!
//! ```text
//! cargo bench -p ron-bus-classic --bench classic
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ron_benches::rounds::{Flavour, OnBus, fanout_rounds};
use ron_bus::{BusBackend, autotune_capacity};
use ron_bus_classic::ClassicBus;
use tokio::sync::broadcast;

const BATCH: u64 = 64;

fn publish(c: &mut Criterion) {
    let mut group = c.benchmark_group("publish");
    for subs in [0usize, 1, 4] {
        let (raw, _) = broadcast::channel::<u64>(64);
        let raw_rx: Vec<_> = (0..subs).map(|_| raw.subscribe()).collect();
        let classic = ClassicBus::<u64>::with_capacity(64).unwrap();
        let classic_rx: Vec<_> = (0..subs).map(|_| classic.subscribe()).collect();
        let mut i = 0u64;
        group.bench_function(BenchmarkId::new("raw", subs), |b| {
            b.iter(|| {
                i += 1;
                black_box(raw.send(i).unwrap_or(0))
            })
        });
        group.bench_function(BenchmarkId::new("classic", subs), |b| {
            b.iter(|| {
                i += 1;
                black_box(classic.publish(i))
            })
        });
        drop((raw_rx, classic_rx));
    }
    group.finish();
}

fn publish_batch(c: &mut Criterion) {
    let mut group = c.benchmark_group("publish_batch");
    group.throughput(Throughput::Elements(BATCH));
    for subs in [1usize, 4] {
        let bus = ClassicBus::<u64>::with_capacity(64).unwrap();
        let _rx: Vec<_> = (0..subs).map(|_| bus.subscribe()).collect();
        let mut next = 0u64;
        group.bench_function(BenchmarkId::new("loop", subs), |b| {
            b.iter(|| {
                for m in next..next + BATCH {
                    black_box(bus.publish(m));
                }
                next += BATCH;
            })
        });
        group.bench_function(BenchmarkId::new("many", subs), |b| {
            b.iter(|| {
                black_box(bus.publish_many(next..next + BATCH));
                next += BATCH;
            })
        });
    }
    group.finish();
}

fn fanout(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("fanout");
    for subs in [1usize, 4, 16] {
        let capacity = autotune_capacity(subs, None);
        group.throughput(Throughput::Elements((capacity * subs) as u64));

        let (raw, _) = broadcast::channel::<u64>(capacity);
        let raw_seen: Vec<_> = (0..subs).map(|_| Arc::new(AtomicU64::new(0))).collect();
        raw_seen
            .iter()
            .for_each(|s| raw.spawn_subscriber(&runtime, Arc::clone(s)));
        let classic = OnBus(ClassicBus::<u64>::with_capacity(capacity).unwrap());
        let classic_seen: Vec<_> = (0..subs).map(|_| Arc::new(AtomicU64::new(0))).collect();
        classic_seen
            .iter()
            .for_each(|s| classic.spawn_subscriber(&runtime, Arc::clone(s)));

        let (mut raw_next, mut classic_next) = (0, 0);
        group.bench_function(BenchmarkId::new("raw", subs), |b| {
            b.iter_custom(|rounds| {
                fanout_rounds(&raw, &raw_seen, capacity as u64, rounds, &mut raw_next)
            })
        });
        group.bench_function(BenchmarkId::new("classic", subs), |b| {
            b.iter_custom(|rounds| {
                fanout_rounds(
                    &classic,
                    &classic_seen,
                    capacity as u64,
                    rounds,
                    &mut classic_next,
                )
            })
        });
    }
    group.finish();
}

criterion_group!(benches, publish, publish_batch, fanout);
criterion_main!(benches);
