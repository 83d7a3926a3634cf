//! The facade's advertised paths, used as a user would (model: crossbeam's
//! `tests/subcrates.rs`). If a path here stops compiling, the surface changed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use ron_kernel::health::ServiceState;
use ron_kernel::{HealthState, Metrics, wait_for_ctrl_c};

#[test]
fn module_paths_name_the_same_types_as_the_root() {
    let _: fn() -> ron_kernel::health::HealthState = ron_kernel::HealthState::new;
    // Compatibility path kept from the earlier kernel.
    let _: fn() -> ron_kernel::metrics::HealthState = HealthState::new;
    let _: fn(bool) -> Result<ron_kernel::metrics::Metrics, ron_kernel::metrics::MetricsError> =
        Metrics::new;
    let _ = ron_kernel::metrics::ServeOptions::default();
    let _ = ron_kernel::metrics::TEXT_CONTENT_TYPE;
    let _ = wait_for_ctrl_c;
}

#[tokio::test]
async fn the_documented_start_up_sequence_works() {
    let metrics = Metrics::new(true).unwrap();
    let health = Arc::new(HealthState::new());
    let (server, addr) = metrics
        .serve("127.0.0.1:0".parse().unwrap(), Arc::clone(&health))
        .await
        .unwrap();
    assert_eq!(server.local_addr(), addr);
    metrics.set_amnesia(false);

    assert!(!health.all_ready());
    assert_eq!(health.missing(), ["config_loaded", "services"]);
    health.set(|s| s.set_config_loaded(true));
    health
        .set(|s| s.set_service("api", ServiceState::Healthy))
        .unwrap();
    assert!(health.all_ready());
    assert!(health.missing().is_empty());

    assert!(metrics.render().unwrap().contains("amnesia_mode 0"));
    server.shutdown().await.unwrap();
}
