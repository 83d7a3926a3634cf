//! The kernel's config wiring: a real file edited under a running
//! `LiveConfig` reaches the bus, the metrics and the readiness gate.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use ron_kernel::config::{Env, KernelConfigListener, LiveConfig, Loader, WatchOptions};
use ron_kernel::{Bus, Config, HealthState, KernelEvent, Metrics};

fn series(metrics: &Metrics, name: &str) -> String {
    let text = metrics.render().unwrap();
    text.lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn edits_publish_config_updated_and_move_the_gauges() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ron-kernel.toml");
    std::fs::write(&path, "amnesia = false\n").unwrap();
    let metrics = Metrics::new(false).unwrap();
    let bus: Bus = metrics.make_bus(64).unwrap();
    let mut events = bus.subscribe_with_interest(KernelEvent::CONFIG_UPDATED);
    let health = Arc::new(HealthState::new());
    let listener = KernelConfigListener::new(bus.clone(), metrics.clone(), Arc::clone(&health));
    let loader = Loader::new(Some(path.clone())).env(Env::from_fn(|_| None));
    let live = LiveConfig::start(
        loader,
        WatchOptions::default().debounce(Duration::from_millis(20)),
        listener.clone(),
    )
    .unwrap();
    assert!(!health.snapshot().config_loaded());
    listener.loaded(&live.current());
    assert!(health.snapshot().config_loaded());

    std::fs::write(&path, "amnesia = true\n").unwrap();
    let event = tokio::time::timeout(Duration::from_secs(15), events.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(event, KernelEvent::ConfigUpdated { version: 2 });
    assert_eq!(series(&metrics, "amnesia_mode"), "amnesia_mode 1");
    assert_eq!(
        series(&metrics, "config_reloads_total"),
        "config_reloads_total 1"
    );

    // A broken edit is counted and changes nothing; the next good one applies.
    std::fs::write(&path, "amnesia = \"very\"\n").unwrap();
    let parse_errors = "config_reload_errors_total{reason=\"parse\"}";
    for _ in 0..300 {
        if series(&metrics, parse_errors).ends_with(" 1") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(series(&metrics, parse_errors), format!("{parse_errors} 1"));
    assert!(live.current().amnesia);
    std::fs::write(&path, "amnesia = false\n").unwrap();
    let event = tokio::time::timeout(Duration::from_secs(15), events.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(event, KernelEvent::ConfigUpdated { version: 3 });
    assert_eq!(series(&metrics, "amnesia_mode"), "amnesia_mode 0");
    let current: Arc<Config> = live.current();
    assert_eq!(current.version, 3);
    live.stop().await;
}
