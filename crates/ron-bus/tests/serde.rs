//! `BusStatsSnapshot` through serde (feature `serde`): a real bus's counters
//! round-trip, and a snapshot missing a counter reads it as 0.

#![cfg(feature = "serde")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ron_bus::reference::ReferenceBus;
use ron_bus::{BusBackend, BusReceiver, BusStatsSnapshot};

#[test]
fn a_busy_bus_s_stats_round_trip_through_json() {
    let bus = ReferenceBus::with_capacity(2).unwrap();
    bus.publish(0u64);
    let mut rx = bus.subscribe();
    bus.publish_many([1, 2, 3]);
    assert!(rx.try_recv().is_err(), "lagged");
    let snapshot = bus.stats().snapshot();
    assert!(snapshot.published > 0 && snapshot.receiver_lag > 0 && snapshot.no_receivers > 0);

    let json = serde_json::to_string(&snapshot).unwrap();
    let back: BusStatsSnapshot = serde_json::from_str(&json).unwrap();
    assert_eq!(back, snapshot);
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["published"], 4);
    assert_eq!(value["receiver_lag"], 1);
}

#[test]
fn a_missing_counter_reads_as_zero() {
    let back: BusStatsSnapshot = serde_json::from_str(r#"{"published": 7}"#).unwrap();
    let mut expected = BusStatsSnapshot::default();
    expected.published = 7;
    assert_eq!(back, expected);
}
