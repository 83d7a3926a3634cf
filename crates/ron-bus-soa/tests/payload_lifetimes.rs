//! Every payload the ring stores is dropped exactly once: when it is
//! overwritten, or when the last ring handle goes. Heap payloads make a
//! double drop or a leak visible (also to AddressSanitizer).

#![cfg(not(loom))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use ron_bus::{BusBackend, BusReceiver, TryRecvError};
use ron_bus_soa::SoaBus;

/// A heap payload that counts how many of its kind are alive.
struct Tracked {
    text: String,
    alive: Arc<AtomicI64>,
}

impl Tracked {
    fn new(n: u64, alive: &Arc<AtomicI64>) -> Self {
        alive.fetch_add(1, Ordering::SeqCst);
        Self {
            text: format!("message {n}"),
            alive: Arc::clone(alive),
        }
    }
}

impl Clone for Tracked {
    fn clone(&self) -> Self {
        self.alive.fetch_add(1, Ordering::SeqCst);
        Self {
            text: self.text.clone(),
            alive: Arc::clone(&self.alive),
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.alive.fetch_sub(1, Ordering::SeqCst);
    }
}

#[test]
fn every_stored_payload_is_dropped_exactly_once() {
    let alive = Arc::new(AtomicI64::new(0));
    {
        let bus = SoaBus::<Tracked>::with_capacity(4).unwrap();
        let mut reader = bus.subscribe();
        let mut narrow = bus.subscribe_with_interest(0b10);
        let mut read = Vec::new();
        for n in 0..100 {
            bus.publish_topic(
                if n % 3 == 0 { 0b10 } else { 0b01 },
                Tracked::new(n, &alive),
            );
            if n % 7 == 0 {
                // Some reads, some lag: clones leave the ring, originals stay.
                loop {
                    match reader.try_recv() {
                        Ok(msg) => read.push(msg.text.clone()),
                        Err(TryRecvError::Lagged(_)) => {}
                        Err(_) => break,
                    }
                }
            }
        }
        bus.publish_many((100..110).map(|n| Tracked::new(n, &alive)));
        // Nothing read is left alive outside the ring, and each ring (the
        // full one and one narrow one) keeps at most its payload cells,
        // twice its capacity.
        assert!(
            alive.load(Ordering::SeqCst) <= 2 * 2 * 4,
            "{} alive",
            alive.load(Ordering::SeqCst)
        );
        assert!(read.iter().all(|t| t.starts_with("message ")));
        drop(bus);
        while narrow.try_recv().is_ok() {}
        // Receivers still hold the rings: their payloads are still alive.
        assert!(alive.load(Ordering::SeqCst) > 0);
    }
    assert_eq!(
        alive.load(Ordering::SeqCst),
        0,
        "leaked or double-dropped payloads"
    );
}
