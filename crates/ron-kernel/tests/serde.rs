//! `KernelEvent` through serde (feature `serde`): every kind round-trips,
//! internally tagged by `kind`; the facade's feature reaches the health,
//! bus-stats and supervisor types too.

#![cfg(feature = "serde")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ron_kernel::KernelEvent;
use ron_kernel::bus::{Bus, BusStatsSnapshot};
use ron_kernel::health::{HealthSnapshot, ServiceState};

#[test]
fn every_event_round_trips_through_json() {
    let events = [
        KernelEvent::health("api", true),
        KernelEvent::ConfigUpdated { version: 42 },
        KernelEvent::ServiceCrashed {
            service: "db".into(),
            reason: "connect: refused".into(),
        },
        KernelEvent::Shutdown,
    ];
    for event in events {
        let json = serde_json::to_string(&event).unwrap();
        let back: KernelEvent = serde_json::from_str(&json).unwrap();
        assert_eq!(back, event, "{json}");
        assert_eq!(back.topic(), event.topic());
    }
}

#[test]
fn events_read_as_documented() {
    assert_eq!(
        serde_json::to_value(KernelEvent::health("api", true)).unwrap(),
        serde_json::json!({"kind": "health", "service": "api", "ok": true})
    );
    assert_eq!(
        serde_json::to_value(KernelEvent::Shutdown).unwrap(),
        serde_json::json!({"kind": "shutdown"})
    );
    let unknown = serde_json::from_str::<KernelEvent>(r#"{"kind": "reboot"}"#);
    assert!(unknown.is_err(), "an unknown kind is an error, not a guess");
}

#[test]
fn the_facade_forwards_serde_to_health_and_bus_stats() {
    let mut health = HealthSnapshot::default();
    health.set_service("api", ServiceState::Healthy).unwrap();
    let back: HealthSnapshot =
        serde_json::from_str(&serde_json::to_string(&health).unwrap()).unwrap();
    assert_eq!(back, health);

    let bus = Bus::new(8).unwrap();
    bus.publish(KernelEvent::Shutdown);
    let stats = bus.stats().snapshot();
    let back: BusStatsSnapshot =
        serde_json::from_str(&serde_json::to_string(&stats).unwrap()).unwrap();
    assert_eq!(back, stats);
}
