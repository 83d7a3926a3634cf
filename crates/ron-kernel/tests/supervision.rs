//! The kernel's supervisor wiring: crashes reach the bus, the metrics and
//! the readiness gates (paused clock, so every delay is virtual).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use ron_kernel::bus::{Subscriber, TryRecvError};
use ron_kernel::health::ServiceState;
use ron_kernel::supervisor::{
    Backoff, CancellationToken, ChildSpec, HealthMode, KernelReporter, Restart, Supervisor,
    SupervisorError,
};
use ron_kernel::{Bus, HealthState, KernelEvent, Metrics};

struct Kernel {
    metrics: Metrics,
    bus: Bus,
    health: Arc<HealthState>,
}

impl Kernel {
    fn new() -> Self {
        let metrics = Metrics::new(false).unwrap();
        let bus = metrics.make_bus(256).unwrap();
        let health = Arc::new(HealthState::new());
        health.set(|s| s.set_config_loaded(true));
        Self {
            metrics,
            bus,
            health,
        }
    }

    fn reporter(&self) -> KernelReporter {
        KernelReporter::new(
            self.bus.clone(),
            self.metrics.clone(),
            Arc::clone(&self.health),
        )
    }

    fn gate(&self, service: &str) -> Option<ServiceState> {
        self.health.snapshot().service(service)
    }

    fn series(&self, line_start: &str) -> Option<String> {
        let text = self.metrics.render().unwrap();
        text.lines()
            .find(|l| l.starts_with(line_start))
            .map(str::to_owned)
    }
}

fn drain(events: &mut Subscriber) -> Vec<KernelEvent> {
    let mut out = Vec::new();
    loop {
        match events.try_recv() {
            Ok(event) => out.push(event),
            Err(TryRecvError::Empty) => return out,
            Err(other) => panic!("{other:?}"),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn crashes_are_published_counted_and_gated_until_the_supervisor_gives_up() {
    let kernel = Kernel::new();
    let mut events = kernel.bus.subscribe();
    let supervisor = Supervisor::builder()
        .intensity(2, Duration::from_secs(60))
        .backoff(Backoff::new(Duration::from_secs(1), Duration::from_secs(1)))
        .reporter(kernel.reporter())
        .child(ChildSpec::new("steady", |ctx| async move {
            ctx.cancelled().await;
            Ok::<(), std::io::Error>(())
        }))
        .child(ChildSpec::new("flaky", |_ctx| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Err::<(), _>("disk on fire")
        }))
        .build();
    let running = tokio::spawn(supervisor.run(CancellationToken::new()));

    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(kernel.gate("flaky"), Some(ServiceState::Healthy));
    assert!(kernel.health.all_ready());
    let first = drain(&mut events);
    assert!(
        first.contains(&KernelEvent::health("flaky", true)),
        "{first:?}"
    );

    // First crash at 5 s: published, counted, gate unhealthy during backoff.
    tokio::time::sleep(Duration::from_millis(4_200)).await;
    assert_eq!(kernel.gate("flaky"), Some(ServiceState::Unhealthy));
    assert_eq!(kernel.health.missing(), ["flaky"]);
    assert!(drain(&mut events).contains(&KernelEvent::ServiceCrashed {
        service: "flaky".into(),
        reason: "disk on fire".into(),
    }));
    assert_eq!(
        kernel
            .series("service_restarts_total{service=\"flaky\"}")
            .as_deref(),
        Some("service_restarts_total{service=\"flaky\"} 1")
    );

    // Third crash trips the intensity (2 restarts allowed).
    let error = running.await.unwrap().unwrap_err();
    assert!(
        matches!(error, SupervisorError::IntensityExceeded { ref service, .. } if &**service == "flaky")
    );
    assert_eq!(kernel.gate("flaky"), Some(ServiceState::Failed));
    assert_eq!(
        kernel.gate("steady"),
        Some(ServiceState::Failed),
        "everything under a failed supervisor"
    );
    assert!(!kernel.health.all_ready());
    assert_eq!(
        kernel
            .series("service_restarts_total{service=\"flaky\"}")
            .as_deref(),
        Some("service_restarts_total{service=\"flaky\"} 2")
    );
    assert_eq!(
        kernel
            .series("service_failures_total{service=\"flaky\"}")
            .as_deref(),
        Some("service_failures_total{service=\"flaky\"} 1")
    );
    let last = drain(&mut events);
    assert!(
        last.contains(&KernelEvent::health("flaky", false)),
        "{last:?}"
    );
    let crashes = last
        .iter()
        .filter(|e| matches!(e, KernelEvent::ServiceCrashed { .. }))
        .count();
    assert_eq!(crashes, 3, "two crashes and the give-up: {last:?}");
}

#[tokio::test(start_paused = true)]
async fn shutdown_drops_readiness_and_a_finished_job_leaves_no_gate() {
    let kernel = Kernel::new();
    let supervisor = Supervisor::builder()
        .reporter(kernel.reporter())
        .child(
            ChildSpec::new("api", |ctx| async move {
                tokio::time::sleep(Duration::from_secs(2)).await;
                ctx.mark_healthy();
                ctx.cancelled().await;
                Ok::<(), std::io::Error>(())
            })
            .health(HealthMode::Reported),
        )
        .child(
            ChildSpec::new("migrate", |_ctx| async {
                tokio::time::sleep(Duration::from_secs(1)).await;
                Ok::<(), std::io::Error>(())
            })
            .restart(Restart::Transient),
        )
        .build();
    let stop = CancellationToken::new();
    let running = tokio::spawn(supervisor.run(stop.clone()));

    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(kernel.gate("api"), Some(ServiceState::Starting));
    assert_eq!(kernel.health.missing(), ["api"]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(kernel.gate("migrate"), None, "done jobs leave readiness");
    assert!(kernel.health.all_ready());

    stop.cancel();
    running.await.unwrap().unwrap();
    assert_eq!(kernel.gate("api"), Some(ServiceState::Unhealthy));
    assert!(!kernel.health.all_ready());
}

/// A sibling stopped for a one-for-all restart is not ready from the moment
/// its stop begins: its gate must not say `Healthy` while it is being
/// cancelled (which may take its whole shutdown timeout plus the abort
/// grace).
#[tokio::test(start_paused = true)]
async fn a_sibling_being_stopped_for_a_restart_is_not_ready() {
    let kernel = Kernel::new();
    let seen_when_cancelled = Arc::new(std::sync::Mutex::new(None));
    let (health, seen) = (Arc::clone(&kernel.health), Arc::clone(&seen_when_cancelled));
    let supervisor = Supervisor::builder()
        .strategy(ron_kernel::supervisor::Strategy::OneForAll)
        .backoff(Backoff::none())
        .reporter(kernel.reporter())
        .child(
            ChildSpec::new("slow_to_stop", move |ctx| {
                let (health, seen) = (Arc::clone(&health), Arc::clone(&seen));
                async move {
                    ctx.cancelled().await;
                    let gate = health.snapshot().service("slow_to_stop");
                    seen.lock().unwrap().get_or_insert(gate);
                    // Still stopping for a while after the cancellation.
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    Ok::<(), std::io::Error>(())
                }
            })
            .shutdown_timeout(Duration::from_secs(5)),
        )
        .child(ChildSpec::new("crasher", |_ctx| async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Err::<(), _>("boom")
        }))
        .build();
    let stop = CancellationToken::new();
    let running = tokio::spawn(supervisor.run(stop.clone()));

    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(kernel.gate("slow_to_stop"), Some(ServiceState::Healthy));
    // The crash at 1 s starts the sibling's 2 s stop; halfway through it:
    tokio::time::sleep(Duration::from_secs(1)).await;
    let gate = kernel.gate("slow_to_stop");
    assert_ne!(gate, Some(ServiceState::Healthy), "gate while stopping");
    assert!(!kernel.health.all_ready());
    assert_ne!(
        *seen_when_cancelled.lock().unwrap(),
        Some(Some(ServiceState::Healthy)),
        "gate when the stop began"
    );
    stop.cancel();
    running.await.unwrap().unwrap();
}
