//! Publishers and subscribers on separate OS threads, millions of messages,
//! some subscribers deliberately slow: every subscriber's deliveries plus
//! its reported losses equal exactly what was published, per publisher
//! order is kept, and the bus's lag counter matches the sum.

#![cfg(not(loom))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use ron_bus::{BusBackend, BusReceiver, RecvError};
use ron_bus_soa::SoaBus;

const PUBLISHERS: u64 = 3;
const PER_PUBLISHER: u64 = 400_000;

#[test]
fn exact_accounting_with_slow_readers_across_threads() {
    let bus = SoaBus::<u64>::with_capacity(256).unwrap();
    let subscribers: Vec<_> = (0..4u64)
        .map(|id| {
            let mut rx = bus.subscribe();
            std::thread::spawn(move || {
                let (mut delivered, mut lost) = (0u64, 0u64);
                let mut last = [None::<u64>; PUBLISHERS as usize];
                let mut rng = id.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
                loop {
                    match rx.blocking_recv() {
                        Ok(msg) => {
                            delivered += 1;
                            let (publisher, n) = ((msg >> 32) as usize, msg & 0xffff_ffff);
                            if let Some(prev) = last[publisher] {
                                assert!(n > prev, "publisher {publisher}: {n} after {prev}");
                            }
                            last[publisher] = Some(n);
                        }
                        Err(RecvError::Lagged(n)) => lost += n,
                        Err(RecvError::Closed) => return (delivered, lost),
                    }
                    // Odd subscribers are slow now and then.
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    if id % 2 == 1 && rng % 50_000 == 0 {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
            })
        })
        .collect();
    let bus = Arc::new(bus);
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|p| {
            let bus = (*bus).clone();
            std::thread::spawn(move || {
                for n in 0..PER_PUBLISHER {
                    bus.publish((p << 32) | n);
                }
            })
        })
        .collect();
    for p in publishers {
        p.join().unwrap();
    }
    let stats = Arc::clone(bus.stats());
    drop(bus);
    let mut total_lost = 0;
    for s in subscribers {
        let (delivered, lost) = s.join().unwrap();
        assert_eq!(
            delivered + lost,
            PUBLISHERS * PER_PUBLISHER,
            "delivered {delivered} + lost {lost}"
        );
        total_lost += lost;
    }
    let snapshot = stats.snapshot();
    assert_eq!(snapshot.published, PUBLISHERS * PER_PUBLISHER);
    assert_eq!(snapshot.receiver_lag, total_lost);
}

/// A heap payload whose `clone` takes its time between its two halves, so
/// a publisher that overwrote a cell while a reader clones it would show
/// as halves that disagree (or, under AddressSanitizer, as a use after
/// free).
struct SlowPair {
    a: Arc<str>,
    b: Arc<str>,
}

impl Clone for SlowPair {
    fn clone(&self) -> Self {
        let a = Arc::clone(&self.a);
        for _ in 0..64 {
            std::hint::spin_loop();
        }
        Self {
            a,
            b: Arc::clone(&self.b),
        }
    }
}

/// Heap payloads on a tiny ring, so cells are reused all the time while
/// readers clone them: every delivered payload is intact, and accounting
/// stays exact.
#[test]
fn heap_payloads_survive_constant_cell_reuse() {
    const EACH: u64 = 100_000;
    let bus = SoaBus::<SlowPair>::with_capacity(4).unwrap();
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let mut rx = bus.subscribe();
            std::thread::spawn(move || {
                let (mut delivered, mut lost) = (0u64, 0u64);
                loop {
                    match rx.blocking_recv() {
                        Ok(msg) => {
                            assert_eq!(msg.a, msg.b, "torn payload");
                            delivered += 1;
                        }
                        Err(RecvError::Lagged(n)) => lost += n,
                        Err(RecvError::Closed) => return (delivered, lost),
                    }
                }
            })
        })
        .collect();
    let publishers: Vec<_> = (0..2u64)
        .map(|p| {
            let bus = bus.clone();
            std::thread::spawn(move || {
                for n in 0..EACH {
                    let text: Arc<str> = Arc::from(format!("{p}:{n}"));
                    bus.publish(SlowPair {
                        a: Arc::clone(&text),
                        b: text,
                    });
                }
            })
        })
        .collect();
    drop(bus);
    for p in publishers {
        p.join().unwrap();
    }
    for r in readers {
        let (delivered, lost) = r.join().unwrap();
        assert_eq!(
            delivered + lost,
            2 * EACH,
            "delivered {delivered} + lost {lost}"
        );
    }
}
