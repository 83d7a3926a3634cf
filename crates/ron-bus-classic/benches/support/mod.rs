//! Fan-out harness shared by the criterion bench and the interleaved ratio
//! bench: a broadcast flavour with subscriber tasks that count what they get.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ron_bus::{BusBackend, BusReceiver};
use ron_bus_classic::ClassicBus;
use tokio::sync::broadcast;

/// A broadcast flavour under the fan-out harness.
pub trait Flavour {
    fn send_one(&self, msg: u64);
    /// Spawns a task that receives forever, adding each message to `seen`.
    fn spawn_subscriber(&self, runtime: &tokio::runtime::Runtime, seen: Arc<AtomicU64>);
}

impl Flavour for broadcast::Sender<u64> {
    fn send_one(&self, msg: u64) {
        let _ = self.send(msg);
    }

    fn spawn_subscriber(&self, runtime: &tokio::runtime::Runtime, seen: Arc<AtomicU64>) {
        let mut rx = self.subscribe();
        runtime.spawn(async move {
            loop {
                let got = match rx.recv().await {
                    Ok(_) => 1,
                    Err(broadcast::error::RecvError::Lagged(lost)) => lost,
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                seen.fetch_add(got, Ordering::Release);
            }
        });
    }
}

impl Flavour for ClassicBus<u64> {
    fn send_one(&self, msg: u64) {
        BusBackend::publish(self, msg);
    }

    fn spawn_subscriber(&self, runtime: &tokio::runtime::Runtime, seen: Arc<AtomicU64>) {
        let mut rx = self.subscribe();
        runtime.spawn(async move {
            loop {
                let got = match rx.recv().await {
                    Ok(_) => 1,
                    Err(ron_bus::RecvError::Lagged(lost)) => lost,
                    Err(ron_bus::RecvError::Closed) => return,
                };
                seen.fetch_add(got, Ordering::Release);
            }
        });
    }
}

/// Time for `rounds` rounds of `capacity` messages, each fully received by
/// every subscriber before the next starts.
pub fn fanout_rounds(
    flavour: &impl Flavour,
    seen: &[Arc<AtomicU64>],
    capacity: u64,
    rounds: u64,
    next: &mut u64,
) -> Duration {
    let start = Instant::now();
    for _ in 0..rounds {
        for _ in 0..capacity {
            flavour.send_one(*next);
            *next += 1;
        }
        let target = *next;
        for counter in seen {
            while counter.load(Ordering::Acquire) < target {
                std::thread::yield_now();
            }
        }
    }
    start.elapsed()
}
