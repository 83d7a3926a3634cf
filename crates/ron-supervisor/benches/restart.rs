//! Restart overhead: one crash-to-restarted cycle with a zero backoff (the
//! child returns `Err` at once; the supervisor sees the exit, accounts the
//! restart against the intensity window, reports it and spawns the next run).
//!
//! * `restart/current_thread`: supervisor and child on one thread.
//! * `restart/multi_thread`: a 2-worker runtime, as the demo runs.
//!
//! ```text
//! cargo bench -p ron-supervisor --bench restart
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use ron_supervisor::{Backoff, CancellationToken, ChildSpec, Supervisor};
use tokio::runtime::Runtime;

/// Runs a supervisor whose child crashes `crashes` times, then stays up;
/// returns the time from start until the last restart began.
fn crash_cycles(runtime: &Runtime, crashes: u64) -> Duration {
    runtime.block_on(async move {
        let runs = Arc::new(AtomicU64::new(0));
        let up = Arc::new(tokio::sync::Notify::new());
        let (counter, signal) = (Arc::clone(&runs), Arc::clone(&up));
        let child = ChildSpec::new("crashy", move |ctx| {
            let run = counter.fetch_add(1, Ordering::Relaxed);
            let signal = Arc::clone(&signal);
            async move {
                if run < crashes {
                    return Err("crash");
                }
                signal.notify_one();
                ctx.cancelled().await;
                Ok(())
            }
        });
        let supervisor = Supervisor::builder()
            // Only the cycle is measured: no delay, and a window short
            // enough that the intensity never trips.
            .intensity(u32::MAX, Duration::from_secs(1))
            .backoff(Backoff::none())
            .reporter(|_: &ron_supervisor::SupervisorEvent| {})
            .child(child)
            .build();
        let stop = CancellationToken::new();
        let began = Instant::now();
        let running = tokio::spawn(supervisor.run(stop.clone()));
        up.notified().await;
        let elapsed = began.elapsed();
        stop.cancel();
        running.await.unwrap().unwrap();
        elapsed
    })
}

fn restart(c: &mut Criterion) {
    let mut group = c.benchmark_group("restart");
    let current = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    group.bench_function("current_thread", |b| {
        b.iter_custom(|iters| crash_cycles(&current, iters))
    });
    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    group.bench_function("multi_thread", |b| {
        b.iter_custom(|iters| crash_cycles(&multi, iters))
    });
    group.finish();
}

criterion_group!(benches, restart);
criterion_main!(benches);
