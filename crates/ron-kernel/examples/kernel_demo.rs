//! The whole kernel in one process: metrics and health over HTTP, the event
//! bus (its stats on `/metrics`), a supervisor running two services (a
//! `ticker` that warms up for a second and then reports on the bus every
//! second, and a `flaky` one that panics a few seconds after every start, so
//! restarts with backoff show in the logs, on the bus and in
//! `service_restarts_total`), a subscriber that logs every event, and
//! graceful shutdown on Ctrl-C (services stopped within their timeouts, then
//! `Shutdown` published).
//!
//! Configuration comes from `config/ron-kernel.toml` (or the file named by
//! `RON_CONFIG`), overridden by `RON_*` variables, and is reloaded live:
//! edit the file and the log shows `ConfigUpdated`, `/metrics` shows
//! `config_reloads_total` and `amnesia_mode` follow; a broken edit is
//! logged and counted in `config_reload_errors_total`, and nothing changes.
//!
//! With `RON_BRIDGE_URL` set (or `[bridge] url`), the demo joins a fleet:
//! its bus events go to the other kernels over NATS (`ron-bridge-nats`), and
//! theirs arrive on a second, local bus of `Remote<KernelEvent>` that a task
//! logs as `remote bus event node=<node> event=<event>`. `/metrics` then
//! also shows the `bridge_*` series and `tokio_alive_tasks` (the demo's
//! runtime tasks, read at scrape time, for leak checks). An export or
//! import topic name that is not one of the kernel's (`health`,
//! `config_updated`, `service_crashed`, `shutdown`, or `*`) stops the demo
//! at start-up with an error naming it.
//!
//! ```text
//! cargo run -p ron-kernel --example kernel_demo
//! RON_METRICS_ADDR=127.0.0.1:0 cargo run -p ron-kernel --example kernel_demo
//! RON_BRIDGE_URL=nats://127.0.0.1:4222 RON_BRIDGE_NODE=a cargo run -p ron-kernel --example kernel_demo
//! ```
//!
//! Prints exactly one line on stdout, `metrics listening on http://ADDR`, once
//! it serves; logs go to stderr (`RUST_LOG` filters them). A service's own
//! lines carry its supervisor span, naming the service and its restart
//! count: `INFO child{service=flaky restarts=1}: kernel_demo: flaky: started`.

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ron_bridge_nats::{Bridge, BridgeMetrics, BridgeOptions, Remote, Topics};
use ron_bus_soa::{SoaBus, SoaReceiver};
use ron_kernel::bus::{BusBackend as _, BusReceiver as _, RecvError, autotune_capacity};
use ron_kernel::config::{KernelConfigListener, LiveConfig, Loader, WatchOptions};
use ron_kernel::supervisor::{
    Backoff, ChildContext, ChildSpec, HealthMode, KernelReporter, Strategy, Supervisor,
};
use ron_kernel::{Bus, Config, HealthState, KernelEvent, Metrics, wait_for_ctrl_c};
use tracing_subscriber::EnvFilter;

/// The repository's example configuration, wherever the demo is run from.
const DEFAULT_CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/ron-kernel.toml");
/// How long `flaky` runs before it panics.
const FLAKY_LIFETIME: Duration = Duration::from_secs(3);

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    // Panics are crashes the supervisor reports (with the message); keep
    // them in the log stream instead of raw stderr.
    std::panic::set_hook(Box::new(|info| tracing::debug!(%info, "panic")));

    // Start-up settings (address, bus, supervisor limits) come from this
    // first load; the live config below then follows every change.
    // Outside the repository (a packaged crate) there is no example file:
    // then only `RON_CONFIG` and the environment count.
    let default_file = Some(PathBuf::from(DEFAULT_CONFIG)).filter(|path| path.exists());
    if default_file.is_none() {
        tracing::info!(
            path = DEFAULT_CONFIG,
            "no example config: defaults and RON_* only"
        );
    }
    let loader = Loader::new(default_file);
    let file = loader.file();
    let config = loader.load()?;
    let metrics = Metrics::new(config.amnesia)?;
    let capacity = config
        .bus
        .capacity
        .unwrap_or_else(|| autotune_capacity(config.bus.expected_subscribers, None));
    let bus: Bus = metrics.make_bus(capacity)?;
    let logger = tokio::spawn(log_events(bus.subscribe()));
    let health = Arc::new(HealthState::new());
    // Before the config listener and the supervisor publish anything, so
    // that every event of this run is exported or counted.
    let fleet = if config.bridge.enabled() {
        Some(join_fleet(&config, &bus, &metrics, &health, capacity)?)
    } else {
        None
    };
    let listener = KernelConfigListener::new(bus.clone(), metrics.clone(), Arc::clone(&health));
    let live = LiveConfig::start(loader, WatchOptions::default(), listener.clone())?;
    tracing::info!(
        ?file,
        version = live.current().version,
        "configuration loaded"
    );

    let (server, bound) = metrics
        .serve(config.metrics.addr, Arc::clone(&health))
        .await?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "metrics listening on http://{bound}")?;
    stdout.flush()?;
    drop(stdout);

    listener.loaded(&live.current());
    let ticker_bus = bus.clone();
    let flaky_runs = Arc::new(AtomicU64::new(0));
    let supervisor = Supervisor::builder()
        .strategy(Strategy::OneForOne)
        .intensity(config.supervisor.max_restarts, config.supervisor.window())
        .backoff(Backoff::new(
            config.supervisor.backoff_base(),
            config.supervisor.backoff_cap(),
        ))
        .reset_after(config.supervisor.reset_after())
        .reporter(KernelReporter::new(
            bus.clone(),
            metrics.clone(),
            Arc::clone(&health),
        ))
        .child(
            ChildSpec::new("ticker", move |ctx| ticker(ctx, ticker_bus.clone()))
                .health(HealthMode::Reported)
                .shutdown_timeout(Duration::from_secs(2)),
        )
        .child(ChildSpec::new("flaky", move |ctx| {
            flaky(ctx, flaky_runs.fetch_add(1, Ordering::Relaxed) + 1)
        }))
        .build();
    let stop = ron_kernel::supervisor::CancellationToken::new();
    let mut supervising = tokio::spawn(supervisor.run(stop.clone()));

    tokio::select! {
        signal = wait_for_ctrl_c() => {
            signal?;
            tracing::info!("shutting down");
            stop.cancel();
            let report = supervising.await??;
            tracing::info!(clean = ?report.clean, aborted = ?report.aborted, "services stopped");
        }
        ended = &mut supervising => {
            // Only an intensity trip ends the supervisor on its own.
            let error = ended?.err().map(|e| e.to_string()).unwrap_or_default();
            tracing::error!(%error, "supervisor gave up; shutting down");
        }
    }
    live.stop().await;
    bus.publish(KernelEvent::Shutdown);
    if let Some(fleet) = fleet {
        fleet.leave().await?;
    }
    // The last publisher handles go: the logger drains, sees `Closed`, ends.
    drop((bus, listener));
    logger.await?;
    server.shutdown().await?;
    tracing::info!("bye");
    Ok(())
}

/// A well-behaved service: takes a second to warm up, says it is healthy,
/// then reports on the bus every second until told to stop.
async fn ticker(ctx: ChildContext, bus: Bus) -> Result<(), std::io::Error> {
    tokio::select! {
        () = ctx.cancelled() => return Ok(()),
        () = tokio::time::sleep(Duration::from_secs(1)) => {}
    }
    ctx.mark_healthy();
    tracing::info!("ticker: warmed up, reporting every second");
    let period = Duration::from_secs(1);
    let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    loop {
        tokio::select! {
            () = ctx.cancelled() => return Ok(()),
            _ = beat.tick() => {
                bus.publish(KernelEvent::health(ctx.name(), true));
            }
        }
    }
}

/// A service with a bug: it panics [`FLAKY_LIFETIME`] after each start.
async fn flaky(ctx: ChildContext, run: u64) -> Result<(), std::io::Error> {
    tracing::info!(run, lifetime = ?FLAKY_LIFETIME, "flaky: started");
    tokio::select! {
        () = ctx.cancelled() => Ok(()),
        () = tokio::time::sleep(FLAKY_LIFETIME) => panic!("flaky: simulated failure in run {run}"),
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

/// The topic names of the kernel's events on NATS (subject tokens), one per
/// [`KernelEvent::topic`] bit.
const TOPIC_NAMES: [(u64, &str); 4] = [
    (KernelEvent::HEALTH, "health"),
    (KernelEvent::CONFIG_UPDATED, "config_updated"),
    (KernelEvent::SERVICE_CRASHED, "service_crashed"),
    (KernelEvent::SHUTDOWN, "shutdown"),
];

/// This kernel's membership of a fleet: the bridge and the task logging
/// what the other nodes publish.
struct Fleet {
    bridge: Bridge,
    remote: SoaBus<Remote<KernelEvent>>,
    logger: tokio::task::JoinHandle<()>,
}

impl Fleet {
    /// Stops the bridge (flushing what it already handed to NATS, bounded),
    /// then closes the import bus so its logger drains and ends.
    async fn leave(self) -> Result<(), tokio::task::JoinError> {
        self.bridge.shutdown().await;
        // The bridge's import tasks held the other publisher handles of
        // the import bus; with them gone, this is the last one.
        drop(self.remote);
        // Bounded: should a bridge task outlive its shutdown timeout and
        // keep a handle, the demo still exits (the logger is aborted).
        let mut logger = self.logger;
        match tokio::time::timeout(Duration::from_secs(2), &mut logger).await {
            Ok(ended) => ended,
            Err(_) => {
                tracing::warn!("remote event logger still open after the bridge stopped");
                logger.abort();
                Ok(())
            }
        }
    }
}

/// Starts the NATS bridge on `bus` as `[bridge]` says. Returns at once: the
/// bridge connects in the background (retrying with the supervisor's
/// configured backoff), so the kernel starts with NATS down too.
fn join_fleet(
    config: &Config,
    bus: &Bus,
    metrics: &Metrics,
    health: &Arc<HealthState>,
    capacity: usize,
) -> Result<Fleet, Box<dyn std::error::Error>> {
    let bridge = &config.bridge;
    let url = bridge.url.clone().unwrap_or_default();
    let topics = Topics::new(KernelEvent::topic, &TOPIC_NAMES)?;
    let names = || TOPIC_NAMES.map(|(_, name)| name).join(", ");
    let export_mask = topics
        .mask(&bridge.export)
        .map_err(|e| format!("[bridge] export: {e} (topics: {}, or *)", names()))?;
    let import_mask = topics
        .mask(&bridge.import)
        .map_err(|e| format!("[bridge] import: {e} (topics: {}, or *)", names()))?;
    let node = bridge.node_name();
    let mut options = BridgeOptions::new(url.clone(), bridge.cluster.clone(), node.clone());
    options.export_mask = export_mask;
    options.import_mask = import_mask;
    options.required = bridge.required;
    options.backoff = Backoff::new(
        config.supervisor.backoff_base(),
        config.supervisor.backoff_cap(),
    );
    let bridge_metrics = BridgeMetrics::register(metrics.registry())?;
    metrics.register(Box::new(
        AliveTasks::new(tokio::runtime::Handle::current())?,
    ))?;
    // The import bus: the other nodes' events, lossy and bounded like the
    // kernel bus (a slow logger lags and says how many it lost).
    let remote = SoaBus::<Remote<KernelEvent>>::with_capacity(capacity)?;
    let logger = tokio::spawn(log_remote_events(remote.subscribe()));
    let bridge = Bridge::start(
        options,
        topics,
        bus,
        &remote,
        bridge_metrics,
        bridge.required.then(|| Arc::clone(health)),
    )?;
    tracing::info!(
        %url,
        cluster = %config.bridge.cluster,
        %node,
        required = config.bridge.required,
        "joining the fleet over NATS"
    );
    Ok(Fleet {
        bridge,
        remote,
        logger,
    })
}

/// Logs every event the other nodes publish until the import bus closes.
async fn log_remote_events(mut events: SoaReceiver<Remote<KernelEvent>>) {
    loop {
        match events.recv().await {
            Ok(Remote { node, event }) => {
                tracing::info!(%node, ?event, "remote bus event");
            }
            Err(RecvError::Lagged(lost)) => tracing::warn!(lost, "remote event logger fell behind"),
            Err(RecvError::Closed) => return,
        }
    }
}

/// `tokio_alive_tasks`: the tasks alive on the demo's runtime, read when
/// `/metrics` is scraped, so that a task leaked per NATS reconnect shows as
/// growth (the fleet test checks it).
struct AliveTasks {
    runtime: tokio::runtime::Handle,
    gauge: prometheus::IntGauge,
}

impl AliveTasks {
    fn new(runtime: tokio::runtime::Handle) -> Result<Self, prometheus::Error> {
        let gauge = prometheus::IntGauge::new(
            "tokio_alive_tasks",
            "Tasks alive on kernel_demo's tokio runtime (read at scrape time)",
        )?;
        Ok(Self { runtime, gauge })
    }
}

impl prometheus::core::Collector for AliveTasks {
    fn desc(&self) -> Vec<&prometheus::core::Desc> {
        self.gauge.desc()
    }

    fn collect(&self) -> Vec<prometheus::proto::MetricFamily> {
        let alive = self.runtime.metrics().num_alive_tasks();
        self.gauge.set(i64::try_from(alive).unwrap_or(i64::MAX));
        self.gauge.collect()
    }
}
