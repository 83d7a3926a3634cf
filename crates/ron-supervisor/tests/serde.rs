//! `SupervisorEvent` through serde (feature `serde`): every kind of event
//! round-trips, internally tagged by `event`.

#![cfg(feature = "serde")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use ron_supervisor::{StopCause, StopKind, SupervisorEvent};

#[test]
fn every_event_round_trips_through_json() {
    let events = [
        SupervisorEvent::Started {
            service: "db".into(),
        },
        SupervisorEvent::Healthy {
            service: "db".into(),
        },
        SupervisorEvent::Crashed {
            service: "db".into(),
            reason: "connect: refused".into(),
            restart_in: Some(Duration::from_millis(1500)),
        },
        SupervisorEvent::Exited {
            service: "db".into(),
            restart_in: None,
        },
        SupervisorEvent::StoppingForSibling {
            service: "api".into(),
            sibling: "db".into(),
        },
        SupervisorEvent::StoppedForSibling {
            service: "api".into(),
            sibling: "db".into(),
            how: StopKind::Detached,
        },
        SupervisorEvent::GaveUp {
            service: "db".into(),
            max_restarts: 5,
            within: Duration::from_secs(10),
        },
        SupervisorEvent::Stopped {
            service: "db".into(),
            how: StopKind::Aborted,
            cause: StopCause::GaveUp,
        },
    ];
    for event in events {
        let json = serde_json::to_string(&event).unwrap();
        let back: SupervisorEvent = serde_json::from_str(&json).unwrap();
        assert_eq!(back, event, "{json}");
    }
}

#[test]
fn a_crash_reads_as_documented() {
    let event = SupervisorEvent::Crashed {
        service: "db".into(),
        reason: "boom".into(),
        restart_in: Some(Duration::from_secs(1)),
    };
    assert_eq!(
        serde_json::to_value(&event).unwrap(),
        serde_json::json!({
            "event": "crashed",
            "service": "db",
            "reason": "boom",
            "restart_in": {"secs": 1, "nanos": 0},
        })
    );
    let stopped = SupervisorEvent::Stopped {
        service: "db".into(),
        how: StopKind::NotRunning,
        cause: StopCause::Shutdown,
    };
    assert_eq!(
        serde_json::to_value(&stopped).unwrap(),
        serde_json::json!({"event": "stopped", "service": "db", "how": "not_running", "cause": "shutdown"})
    );
}
