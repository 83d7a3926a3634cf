//! Configuration (from `ron-config`), and [`KernelConfigListener`], which
//! wires applied and refused reloads to the bus, the metrics and the
//! `config_loaded` readiness gate.

use std::sync::Arc;

pub use ron_config::{
    BusConfig, Config, ConfigError, ENV_KEYS, Env, LiveConfig, Loader, MetricsConfig, Problem,
    RON_CONFIG, ReloadEvent, ReloadListener, SupervisorConfig, WatchOptions, parse, validate,
};
use ron_health::HealthState;
use ron_metrics::Metrics;

use crate::{Bus, KernelEvent};

// A `bus.capacity` that validates must build a bus: ron-config's limit is
// the bus's own. ron-config does not depend on the bus (it sits beside it,
// not above it), so the kernel, which depends on both, ties the two here.
const _: () = assert!(ron_config::MAX_BUS_CAPACITY == ron_bus::MAX_CAPACITY);

/// Turns reloads into what the rest of the kernel sees:
///
/// | event | bus | metrics | health |
/// |---|---|---|---|
/// | `Applied` | `ConfigUpdated { version }` | `config_reloads_total` + 1, `amnesia_mode` follows | `config_loaded` set |
/// | `Rejected` | | `config_reload_errors_total{reason}` + 1 | unchanged (the last good config stays) |
///
/// # Example
///
/// ```
/// use std::sync::Arc;
/// use ron_kernel::config::{Env, KernelConfigListener, LiveConfig, Loader, WatchOptions};
/// use ron_kernel::{Bus, HealthState, Metrics};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let metrics = Metrics::new(false)?;
/// let bus: Bus = metrics.make_bus(64)?;
/// let health = Arc::new(HealthState::new());
/// let loader = Loader::new(None).env(Env::from_fn(|_| None)); // defaults only
/// let listener = KernelConfigListener::new(bus.clone(), metrics.clone(), Arc::clone(&health));
/// let live = LiveConfig::start(loader, WatchOptions::default(), listener.clone())?;
/// listener.loaded(&live.current()); // the first load counts too
/// assert!(health.snapshot().config_loaded());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct KernelConfigListener {
    bus: Bus,
    metrics: Metrics,
    health: Arc<HealthState>,
}

impl KernelConfigListener {
    /// A listener publishing on `bus`, counting in `metrics` and setting the
    /// `config_loaded` gate of `health`.
    pub fn new(bus: Bus, metrics: Metrics, health: Arc<HealthState>) -> Self {
        Self {
            bus,
            metrics,
            health,
        }
    }

    /// Applies a configuration that was loaded outside a reload (the first
    /// one): the amnesia gauge and the `config_loaded` gate; nothing is
    /// published or counted.
    pub fn loaded(&self, config: &Config) {
        self.metrics.set_amnesia(config.amnesia);
        self.health.set(|s| s.set_config_loaded(true));
    }
}

impl ReloadListener for KernelConfigListener {
    fn on_reload(&self, event: &ReloadEvent) {
        match event {
            ReloadEvent::Applied { config, .. } => {
                self.loaded(config);
                self.metrics.inc_config_reload();
                self.bus.publish(KernelEvent::ConfigUpdated {
                    version: config.version,
                });
            }
            ReloadEvent::Rejected { error } => self.metrics.inc_config_reload_error(error.reason()),
            other => tracing::debug!(event = ?other, "reload event without kernel wiring"),
        }
    }
}
