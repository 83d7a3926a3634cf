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
