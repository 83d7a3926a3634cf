//! The fan-out to subscriber *tasks* in lossless rounds: how the classic
//! backend's micro-benches compare its per-delivery cost with raw
//! `tokio::sync::broadcast`, where the subscribers are async tasks on a
//! tokio runtime, not threads in a blocking receive ([`crate::harness`]).
//!
//! Each round publishes `capacity` messages (so nothing is lost) and waits,
//! yielding, until every subscriber has counted them all.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ron_bus::{BusBackend, BusReceiver, RecvError};
use tokio::runtime::Runtime;
use tokio::sync::broadcast;

/// A broadcast channel under the rounds harness.
pub trait Flavour {
    /// Publishes one message (a full or subscriber-less channel may drop it).
    fn send_one(&self, msg: u64);
    /// Spawns a task that receives until the channel closes, adding each
    /// message (and each message reported lost) to `seen`.
    fn spawn_subscriber(&self, runtime: &Runtime, seen: Arc<AtomicU64>);
}

impl Flavour for broadcast::Sender<u64> {
    fn send_one(&self, msg: u64) {
        let _ = self.send(msg);
    }

    fn spawn_subscriber(&self, runtime: &Runtime, seen: Arc<AtomicU64>) {
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

/// A ron-bus backend as a [`Flavour`] (a wrapper, because ron-bus could
/// one day implement its trait for tokio's sender).
#[derive(Debug, Clone)]
pub struct OnBus<B>(pub B);

impl<B: BusBackend<u64>> Flavour for OnBus<B> {
    fn send_one(&self, msg: u64) {
        self.0.publish(msg);
    }

    fn spawn_subscriber(&self, runtime: &Runtime, seen: Arc<AtomicU64>) {
        let mut rx = self.0.subscribe();
        runtime.spawn(async move {
            loop {
                let got = match rx.recv().await {
                    Ok(_) => 1,
                    Err(RecvError::Lagged(lost)) => lost,
                    Err(RecvError::Closed) => return,
                };
                seen.fetch_add(got, Ordering::Release);
            }
        });
    }
}

/// Time for `rounds` rounds of `capacity` messages, each fully received by
/// every subscriber (its `seen` reached the count sent) before the next
/// starts. `next` is the next message number, carried across calls.
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
