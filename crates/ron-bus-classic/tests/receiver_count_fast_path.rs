//! The publish fast paths: a publish with no live receiver skips tokio's
//! channel entirely, so the count that gates it must follow every subscribe
//! and every drop, of every interest mask; a topic outside the union of the
//! narrower masks skips their lock, so the union must follow every
//! subscribe.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ron_bus::{BusBackend, BusReceiver};
use ron_bus_classic::ClassicBus;

#[test]
fn receivers_coming_and_going_switch_the_fast_path_both_ways() {
    let bus = ClassicBus::<u32>::with_capacity(8).unwrap();
    assert_eq!(bus.publish(1), 0);

    let mut all = bus.subscribe();
    assert_eq!(bus.publish(2), 1);
    assert_eq!(all.try_recv().unwrap(), 2);
    drop(all);
    assert_eq!(bus.publish(3), 0);
    assert_eq!(bus.publish_many([4, 5, 6]), 0);

    // A narrow subscriber alone also turns the fast path off.
    let mut narrow = bus.subscribe_with_interest(0b10);
    assert_eq!(bus.publish_topic(0b10, 7), 1);
    assert_eq!(bus.publish_topic(0b01, 8), 0);
    assert_eq!(narrow.try_recv().unwrap(), 7);
    let clone = bus.clone();
    let from_thread = std::thread::spawn(move || clone.subscribe());
    let mut late = from_thread.join().unwrap();
    assert_eq!(bus.publish_many([9, 10]), 4);
    assert_eq!(late.try_recv().unwrap(), 9);
    drop((narrow, late));
    assert_eq!(bus.publish(11), 0);

    let stats = bus.stats().snapshot();
    assert_eq!(stats.published, 11);
    // 1, 3, 4, 5, 6, 8 and 11 found nobody.
    assert_eq!(stats.no_receivers, 7);
}

/// The mask-union fast path: a topic outside every narrower mask goes to
/// the full-mask channel alone, without the lock; the union follows
/// subscribes (and prunes) of narrower masks.
#[test]
fn topics_outside_every_narrow_mask_reach_only_full_mask_subscribers() {
    let bus = ClassicBus::<u32>::with_capacity(8).unwrap();
    let mut all = bus.subscribe();
    let mut narrow = bus.subscribe_with_interest(0b10);
    assert_eq!(bus.publish_topic(0b01, 1), 1);
    assert_eq!(bus.publish_topic(0b11, 2), 2);
    assert_eq!(bus.publish(3), 2);
    assert_eq!(bus.publish_topic(0, 4), 0);
    assert_eq!(narrow.try_recv().unwrap(), 2);
    assert_eq!(narrow.try_recv().unwrap(), 3);
    assert!(narrow.try_recv().is_err());

    // The 0b10 channel loses its receiver; the next subscribe prunes it,
    // and the union shrinks with it (the deliveries below would be the
    // same with a stale union: only the union itself shows the prune).
    assert!(format!("{bus:?}").contains("narrow_topics: 2,"), "{bus:?}");
    drop(narrow);
    let mut other = bus.subscribe_with_interest(0b100);
    assert!(format!("{bus:?}").contains("narrow_topics: 4,"), "{bus:?}");
    assert_eq!(bus.publish_topic(0b10, 5), 1);
    assert_eq!(bus.publish_topic(0b100, 6), 2);
    assert_eq!(other.try_recv().unwrap(), 6);
    let got: Vec<u32> = std::iter::from_fn(|| all.try_recv().ok()).collect();
    assert_eq!(got, [1, 2, 3, 5, 6]);
}
