//! The whole kernel in one process: metrics and health over HTTP, the event
//! bus (its stats on `/metrics`), a demo service that becomes healthy after a
//! second and reports its health on the bus every second, a subscriber that
//! logs every event, graceful shutdown on Ctrl-C.
//!
//! ```text
//! cargo run -p ron-kernel --example kernel_demo
//! RON_METRICS_ADDR=127.0.0.1:0 cargo run -p ron-kernel --example kernel_demo
//! ```
//!
//! Prints exactly one line on stdout, `metrics listening on http://ADDR`, once
//! it serves; logs go to stderr (`RUST_LOG` filters them).

use std::io::{IsTerminal as _, Write as _};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ron_kernel::bus::{RecvError, autotune_capacity};
use ron_kernel::health::ServiceState;
use ron_kernel::{Bus, HealthState, KernelEvent, Metrics, wait_for_ctrl_c};
use tracing_subscriber::EnvFilter;

const DEFAULT_ADDR: &str = "127.0.0.1:9600";
const DEMO_SERVICE: &str = "demo";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    let addr = listen_addr()?;
    let metrics = Metrics::new(false)?;
    // One subscriber (the logger) in this demo.
    let bus: Bus = metrics.make_bus(autotune_capacity(1, None))?;
    let logger = tokio::spawn(log_events(bus.subscribe()));
    let health = Arc::new(HealthState::new());
    health.set(|s| s.set_service(DEMO_SERVICE, ServiceState::Starting))?;

    let (server, bound) = metrics.serve(addr, Arc::clone(&health)).await?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "metrics listening on http://{bound}")?;
    stdout.flush()?;
    drop(stdout);

    // There is no configuration file yet: start-up itself is the load.
    health.set(|s| s.set_config_loaded(true));
    let demo = tokio::spawn(demo_service(Arc::clone(&health), bus.clone()));

    wait_for_ctrl_c().await?;
    tracing::info!("shutting down");
    demo.abort();
    health.set(|s| s.set_service(DEMO_SERVICE, ServiceState::Failed))?;
    bus.publish(KernelEvent::Shutdown);
    // The last publisher handle goes: the logger drains, sees `Closed`, ends.
    drop(bus);
    let _ = demo.await;
    logger.await?;
    server.shutdown().await?;
    tracing::info!("bye");
    Ok(())
}

/// `RON_METRICS_ADDR`, or the default; a bad value is an error, not a fallback.
fn listen_addr() -> Result<SocketAddr, String> {
    match std::env::var("RON_METRICS_ADDR") {
        Ok(value) => value.parse().map_err(|e| {
            format!("RON_METRICS_ADDR={value:?} is not a socket address (e.g. 127.0.0.1:9600): {e}")
        }),
        Err(std::env::VarError::NotPresent) => DEFAULT_ADDR.parse().map_err(|e| format!("{e}")),
        Err(e) => Err(format!("RON_METRICS_ADDR: {e}")),
    }
}

/// A stand-in service: takes a second to warm up, then reports healthy, on
/// its readiness gate once and on the bus every second.
async fn demo_service(health: Arc<HealthState>, bus: Bus) {
    bus.publish(KernelEvent::health(DEMO_SERVICE, false));
    tokio::time::sleep(Duration::from_secs(1)).await;
    if let Err(e) = health.set(|s| s.set_service(DEMO_SERVICE, ServiceState::Healthy)) {
        tracing::error!(error = %e, "cannot mark the demo service healthy");
        return;
    }
    let mut beat = tokio::time::interval(Duration::from_secs(1));
    loop {
        beat.tick().await;
        bus.publish(KernelEvent::health(DEMO_SERVICE, true));
    }
}

/// Logs every event on the bus until it closes.
async fn log_events(mut events: ron_kernel::bus::Subscriber) {
    loop {
        match events.recv().await {
            Ok(event) => tracing::info!(?event, "bus event"),
            Err(RecvError::Lagged(lost)) => tracing::warn!(lost, "event logger fell behind"),
            Err(RecvError::Closed) => return,
        }
    }
}
