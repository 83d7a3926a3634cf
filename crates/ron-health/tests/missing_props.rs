//! Property tests: whatever sequence of changes is applied, `missing()` is
//! sorted, deduplicated, and empty exactly when the gates say ready.

use proptest::prelude::*;
use ron_health::{HealthSnapshot, HealthState, ServiceState};

#[derive(Debug, Clone)]
enum Op {
    Config(bool),
    Set(String, ServiceState),
    Remove(String),
}

fn state() -> impl Strategy<Value = ServiceState> {
    prop_oneof![
        Just(ServiceState::Starting),
        Just(ServiceState::Healthy),
        Just(ServiceState::Unhealthy),
        Just(ServiceState::Failed),
    ]
}

/// A small pool of names, including invalid and reserved ones and names that
/// sort before and after the kernel gates.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a".to_owned()),
        Just("db".to_owned()),
        Just("config".to_owned()),
        Just("config_loaded".to_owned()),
        Just("services".to_owned()),
        Just("servicez".to_owned()),
        Just("zz".to_owned()),
        Just("bad name".to_owned()),
        Just(String::new()),
        "[a-z]{1,3}",
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        any::<bool>().prop_map(Op::Config),
        (name(), state()).prop_map(|(n, s)| Op::Set(n, s)),
        name().prop_map(Op::Remove),
    ]
}

/// The readiness rule, written independently of the implementation.
fn model_ready(config: bool, services: &std::collections::BTreeMap<String, ServiceState>) -> bool {
    config && !services.is_empty() && services.values().all(|s| *s == ServiceState::Healthy)
}

proptest! {
    #[test]
    fn missing_is_sorted_dedup_and_empty_iff_ready(ops in prop::collection::vec(op(), 0..40)) {
        let health = HealthState::new();
        let mut config = false;
        let mut services = std::collections::BTreeMap::new();
        for op in ops {
            match op {
                Op::Config(on) => {
                    config = on;
                    health.set(|s| s.set_config_loaded(on));
                }
                Op::Set(name, state) => {
                    if health.set(|s| s.set_service(&name, state)).is_ok() {
                        services.insert(name, state);
                    }
                }
                Op::Remove(name) => {
                    let removed = health.set(|s| s.remove_service(&name));
                    prop_assert_eq!(removed, services.remove(&name));
                }
            }
            let missing = health.missing();
            let mut normalised = missing.clone();
            normalised.sort();
            normalised.dedup();
            prop_assert_eq!(&missing, &normalised, "missing() not sorted/deduplicated");
            prop_assert_eq!(missing.is_empty(), health.all_ready());
            prop_assert_eq!(health.all_ready(), model_ready(config, &services));
            let snapshot: std::sync::Arc<HealthSnapshot> = health.snapshot();
            prop_assert_eq!(snapshot.missing(), missing);
        }
    }
}
