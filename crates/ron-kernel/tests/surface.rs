//! The facade's advertised paths, used as a user would (model: crossbeam's
//! `tests/subcrates.rs`). If a path here stops compiling, the surface changed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use ron_kernel::health::ServiceState;
use ron_kernel::{Bus, Config, HealthState, KernelEvent, Metrics, wait_for_ctrl_c};

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
    // Compatibility path kept from the earlier kernel.
    let _: ron_kernel::bus::KernelEvent = ron_kernel::events::KernelEvent::Shutdown;
    let _: fn(usize) -> Result<ron_kernel::bus::Bus, ron_kernel::bus::BusError> = Bus::new;
    let _: ron_kernel::config::Config = Config::default();
    let _: fn(Option<std::path::PathBuf>) -> ron_kernel::config::Loader =
        ron_kernel::config::Loader::new;
    let _: fn() -> ron_kernel::supervisor::SupervisorBuilder =
        ron_kernel::supervisor::Supervisor::builder;
    let _: fn(Bus, Metrics, Arc<HealthState>) -> ron_kernel::supervisor::KernelReporter =
        ron_kernel::supervisor::KernelReporter::new;
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

    let bus: Bus = metrics.make_bus(64).unwrap();
    let mut events = bus.subscribe();
    assert_eq!(bus.publish(KernelEvent::health("api", true)), 1);
    assert_eq!(
        events.recv().await.unwrap(),
        KernelEvent::health("api", true)
    );

    let text = metrics.render().unwrap();
    assert!(text.contains("amnesia_mode 0"));
    assert!(text.contains(r#"bus_published_total{bus="kernel"} 1"#));
    server.shutdown().await.unwrap();
}
