//! Configuration reload, end to end: the time from a file save to the
//! `ConfigUpdated` event on the kernel bus (real file, real `notify`
//! watcher, the kernel's listener), and the cost of reading the current
//! snapshot.
//!
//! ```text
//! cargo bench -p ron-kernel --bench config_reload
//! ```
//!
//! The save-to-event delay includes the watcher's debounce (the quiet time
//! that turns an editor's several events into one reload); it is reported
//! with the default 100 ms and with 10 ms.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ron_benches::{median, percentile};
use ron_kernel::bus::RecvError;
use ron_kernel::config::{Env, KernelConfigListener, LiveConfig, Loader, WatchOptions};
use ron_kernel::{Bus, HealthState, KernelEvent, Metrics};

const SAVES: usize = 60;

async fn save_to_event(debounce: Duration) -> (Duration, Duration, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ron-kernel.toml");
    std::fs::write(&path, "amnesia = false\n").unwrap();
    let metrics = Metrics::new(false).unwrap();
    let bus: Bus = metrics.make_bus(64).unwrap();
    let mut events = bus.subscribe_with_interest(KernelEvent::CONFIG_UPDATED);
    let listener = KernelConfigListener::new(bus.clone(), metrics, Arc::new(HealthState::new()));
    let loader = Loader::new(Some(path.clone())).env(Env::from_fn(|_| None));
    let live =
        LiveConfig::start(loader, WatchOptions::default().debounce(debounce), listener).unwrap();

    let mut delays = Vec::with_capacity(SAVES);
    for i in 0..SAVES {
        let saved = Instant::now();
        std::fs::write(&path, format!("amnesia = {}\n", i % 2 == 0)).unwrap();
        loop {
            match tokio::time::timeout(Duration::from_secs(10), events.recv()).await {
                Ok(Ok(KernelEvent::ConfigUpdated { .. })) => break,
                Ok(Ok(_)) => {}
                Ok(Err(RecvError::Lagged(_))) => {}
                other => panic!("no ConfigUpdated: {other:?}"),
            }
        }
        delays.push(saved.elapsed());
        // Keep saves apart, so each is its own reload.
        tokio::time::sleep(debounce * 2).await;
    }
    live.stop().await;
    delays.sort();
    (
        percentile(&delays, 0.5).unwrap(),
        percentile(&delays, 0.99).unwrap(),
        *delays.last().unwrap(),
    )
}

fn snapshot_read_ns() -> f64 {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = runtime.enter();
    let live = LiveConfig::start(
        Loader::new(None).env(Env::from_fn(|_| None)),
        WatchOptions::default(),
        |_: &ron_kernel::config::ReloadEvent| {},
    )
    .unwrap();
    let samples: Vec<f64> = (0..15)
        .map(|_| {
            const READS: u32 = 1_000_000;
            let start = Instant::now();
            for _ in 0..READS {
                black_box(live.current().amnesia);
            }
            start.elapsed().as_secs_f64() * 1e9 / f64::from(READS)
        })
        .collect();
    median(samples).unwrap()
}

fn main() {
    // `cargo test --benches` passes no `--bench`: keep that a quick smoke run.
    let full = std::env::args().any(|a| a == "--bench");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!(
        "snapshot read (LiveConfig::current): median {:.1} ns",
        snapshot_read_ns()
    );
    let debounces: &[u64] = if full { &[100, 10] } else { &[10] };
    for &ms in debounces {
        let (p50, p99, max) = runtime.block_on(save_to_event(Duration::from_millis(ms)));
        println!(
            "save -> ConfigUpdated, debounce {ms} ms, {SAVES} saves: median {p50:?}, p99 {p99:?}, max {max:?}"
        );
    }
}
