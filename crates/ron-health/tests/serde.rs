//! `HealthSnapshot` and `ServiceState` through serde (feature `serde`): a
//! snapshot round-trips in its documented shape, and a name
//! `set_service` would refuse is refused on the way in too.

#![cfg(feature = "serde")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ron_health::{HealthSnapshot, ServiceState};

#[test]
fn a_snapshot_round_trips_in_its_documented_shape() {
    let mut snapshot = HealthSnapshot::default();
    snapshot.set_config_loaded(true);
    snapshot.set_service("api", ServiceState::Healthy).unwrap();
    snapshot.set_service("db", ServiceState::Starting).unwrap();
    snapshot.set_service("cache", ServiceState::Failed).unwrap();

    let value = serde_json::to_value(&snapshot).unwrap();
    assert_eq!(
        value,
        serde_json::json!({
            "config_loaded": true,
            "services": {"api": "healthy", "cache": "failed", "db": "starting"},
        })
    );
    let back: HealthSnapshot = serde_json::from_value(value).unwrap();
    assert_eq!(back, snapshot);
    assert_eq!(back.missing(), ["cache", "db"]);
}

#[test]
fn every_state_is_its_word() {
    for state in [
        ServiceState::Starting,
        ServiceState::Healthy,
        ServiceState::Unhealthy,
        ServiceState::Failed,
    ] {
        let json = serde_json::to_string(&state).unwrap();
        assert_eq!(json, format!("\"{}\"", state.as_str()));
        assert_eq!(serde_json::from_str::<ServiceState>(&json).unwrap(), state);
    }
}

#[test]
fn a_name_set_service_refuses_is_refused_on_input() {
    for bad in ["", "config_loaded", "services", "sp ace", "a,b"] {
        let json = serde_json::json!({"config_loaded": true, "services": {bad: "healthy"}});
        let err = serde_json::from_value::<HealthSnapshot>(json).unwrap_err();
        assert!(
            err.to_string().contains("invalid service name"),
            "{bad:?}: {err}"
        );
    }
}

#[test]
fn missing_fields_are_an_empty_snapshot() {
    let back: HealthSnapshot = serde_json::from_str("{}").unwrap();
    assert_eq!(back, HealthSnapshot::default());
}
