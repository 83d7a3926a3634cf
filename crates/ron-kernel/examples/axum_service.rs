//! The kernel inside an axum service you already have: one port serves the
//! app's own route (`/hello`) and the kernel's `/metrics`, `/healthz` and
//! `/readyz`, merged at the root and nested again under `/ops` (a real
//! service picks one of the two). Behind them: the kernel's bus (its stats
//! on `/metrics`, every event logged) and a supervisor running a `cache`
//! service that warms up for two seconds (`AXUM_SERVICE_WARM_UP_MS`
//! milliseconds when set) before it reports healthy, so `/readyz` answers
//! 503 first and 200 after.
//!
//! ```text
//! cargo run -p ron-kernel --example axum_service
//! RON_METRICS_ADDR=127.0.0.1:0 cargo run -p ron-kernel --example axum_service
//! curl localhost:9600/hello; curl localhost:9600/readyz; curl localhost:9600/ops/metrics
//! ```
//!
//! In your own crate, enable the facade's `axum` feature
//! (`ron-kernel = { features = ["axum"] }`) for `Metrics::router`; this
//! example gets it from ron-kernel's dev-dependencies, so the command above
//! needs no flag.
//!
//! The address is the configuration's `metrics.addr` (`RON_METRICS_ADDR`,
//! default `127.0.0.1:9600`; port 0 picks a free one). Prints exactly one
//! line on stdout, `listening on http://ADDR`, once it serves; logs go to
//! stderr (`RUST_LOG` filters them). Ctrl-C stops the services, then the
//! server.

use std::io::{IsTerminal as _, Write as _};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use ron_kernel::bus::RecvError;
use ron_kernel::config::Loader;
use ron_kernel::supervisor::{
    CancellationToken, ChildContext, ChildSpec, HealthMode, KernelReporter, Supervisor,
};
use ron_kernel::{Bus, HealthState, KernelEvent, Metrics, wait_for_ctrl_c};
use tracing_subscriber::EnvFilter;

/// How long `cache` takes before it reports healthy (and `/readyz` turns
/// 200), unless [`WARM_UP_VAR`] says otherwise.
const WARM_UP: Duration = Duration::from_secs(2);

/// Milliseconds of warm-up instead of [`WARM_UP`]: the test sets a longer
/// one, so that its first requests are answered while still booting even
/// on a loaded machine.
const WARM_UP_VAR: &str = "AXUM_SERVICE_WARM_UP_MS";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    // Defaults overridden by `RON_CONFIG`'s file (if set) and `RON_*`.
    let config = Loader::new(None).load()?;
    let warm_up = match std::env::var(WARM_UP_VAR) {
        Ok(ms) => Duration::from_millis(
            ms.parse()
                .map_err(|e| format!("{WARM_UP_VAR}={ms:?}: {e}"))?,
        ),
        Err(_) => WARM_UP,
    };
    let metrics = Metrics::new(config.amnesia)?;
    let bus: Bus = metrics.make_bus(64)?;
    let logger = tokio::spawn(log_events(bus.subscribe()));
    let health = Arc::new(HealthState::new());
    health.set(|s| s.set_config_loaded(true));

    // The kernel's routers take the app's state type, so they merge and
    // nest before `with_state` like any other route.
    let app = Router::new()
        .route("/hello", get(hello))
        .merge(metrics.router(Arc::clone(&health)))
        .nest("/ops", metrics.router(Arc::clone(&health)))
        .with_state(Arc::clone(&health));
    let listener = tokio::net::TcpListener::bind(config.metrics.addr).await?;
    let bound = listener.local_addr()?;
    let stop = CancellationToken::new();
    let mut serving = tokio::spawn(
        axum::serve(listener, app)
            .with_graceful_shutdown(stop.clone().cancelled_owned())
            .into_future(),
    );
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on http://{bound}")?;
    stdout.flush()?;
    drop(stdout);

    let supervisor = Supervisor::builder()
        .reporter(KernelReporter::new(
            bus.clone(),
            metrics.clone(),
            Arc::clone(&health),
        ))
        .child(ChildSpec::new("cache", move |ctx| cache(ctx, warm_up)).health(HealthMode::Reported))
        .build();
    let mut supervising = tokio::spawn(supervisor.run(stop.clone()));

    // Which task ended first (and was awaited by `select!`): the other is
    // awaited after `stop`, whether or not it has finished by then, so its
    // error is never dropped.
    let first = tokio::select! {
        signal = wait_for_ctrl_c() => {
            signal?;
            tracing::info!("shutting down");
            None
        }
        ended = &mut supervising => {
            // Only an intensity trip ends the supervisor on its own.
            let error = ended?.err().map(|e| e.to_string()).unwrap_or_default();
            tracing::error!(%error, "supervisor gave up; shutting down");
            Some(Ended::Supervisor)
        }
        served = &mut serving => {
            tracing::error!(result = ?served, "server ended; shutting down");
            Some(Ended::Server)
        }
    };
    stop.cancel();
    if first != Some(Ended::Supervisor) {
        supervising.await??;
    }
    if first != Some(Ended::Server) {
        serving.await??;
    }
    bus.publish(KernelEvent::Shutdown);
    // The last publisher handle goes: the logger drains, sees `Closed`, ends.
    drop(bus);
    logger.await?;
    tracing::info!("bye");
    Ok(())
}

/// The app's own route; its state is the kernel's readiness.
async fn hello(State(health): State<Arc<HealthState>>) -> String {
    let ready = health.snapshot().is_ready();
    format!("hello from an axum app with ron-kernel inside (ready: {ready})\n")
}

/// The task that ended the example's wait, already awaited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    Supervisor,
    Server,
}

/// A service that warms up for `warm_up`, reports healthy, then waits to
/// be stopped.
async fn cache(ctx: ChildContext, warm_up: Duration) -> Result<(), std::io::Error> {
    tokio::select! {
        () = ctx.cancelled() => return Ok(()),
        () = tokio::time::sleep(warm_up) => {}
    }
    ctx.mark_healthy();
    ctx.cancelled().await;
    Ok(())
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
