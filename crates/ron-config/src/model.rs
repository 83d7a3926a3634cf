//! [`Config`]: the typed configuration and its documented defaults.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The whole configuration of a ron-kernel service.
///
/// Every field has a default, so a file of comments only is a valid
/// configuration (an empty file is refused by the [`Loader`](crate::Loader):
/// it is what a truncating writer leaves behind); unknown fields are errors (a typo never goes unnoticed). Construct with
/// [`Config::default`] and set fields, or load with
/// [`Loader`](crate::Loader).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct Config {
    /// Version of this configuration (default 1). A reload whose content
    /// changed gets `max(file version, previous version + 1)`, so versions
    /// only grow.
    pub version: u64,
    /// Amnesia mode: keep no persistent state (default `false`). Exported
    /// as the `amnesia_mode` gauge.
    pub amnesia: bool,
    /// The metrics and health HTTP server.
    pub metrics: MetricsConfig,
    /// The kernel bus.
    pub bus: BusConfig,
    /// Restart limits of the kernel's supervisor.
    pub supervisor: SupervisorConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            version: 1,
            amnesia: false,
            metrics: MetricsConfig::default(),
            bus: BusConfig::default(),
            supervisor: SupervisorConfig::default(),
        }
    }
}

/// `[metrics]`: where `/metrics`, `/healthz` and `/readyz` are served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct MetricsConfig {
    /// Listen address (default `127.0.0.1:9600`; port 0 picks a free port).
    pub addr: SocketAddr,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 9600)),
        }
    }
}

/// `[bus]`: the kernel bus's ring.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct BusConfig {
    /// Ring capacity in messages, `1..=1048576` (rounded up to a power of
    /// two by the bus). Absent (the default): autotuned from
    /// `expected_subscribers`.
    pub capacity: Option<usize>,
    /// Subscribers the autotune plans for, `1..=65536` (default 4).
    pub expected_subscribers: usize,
}

impl Default for BusConfig {
    fn default() -> Self {
        Self {
            capacity: None,
            expected_subscribers: 4,
        }
    }
}

/// `[supervisor]`: restart intensity and backoff (see `ron-supervisor`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct SupervisorConfig {
    /// At most this many restarts... (default 3)
    pub max_restarts: u32,
    /// ...within this many milliseconds, `>= 1` (default 5000).
    pub window_ms: u64,
    /// First restart delay in milliseconds, `>= 1` (default 100).
    pub backoff_base_ms: u64,
    /// Longest restart delay in milliseconds, `backoff_base_ms..=86400000`
    /// (default 30000).
    pub backoff_cap_ms: u64,
    /// A run this long (milliseconds, `>= 1`) resets the backoff (default 10000).
    pub reset_after_ms: u64,
}

impl Default for SupervisorConfig {
    fn default() -> Self {
        Self {
            max_restarts: 3,
            window_ms: 5_000,
            backoff_base_ms: 100,
            backoff_cap_ms: 30_000,
            reset_after_ms: 10_000,
        }
    }
}

impl SupervisorConfig {
    /// `window_ms` as a duration.
    pub fn window(&self) -> Duration {
        Duration::from_millis(self.window_ms)
    }

    /// `backoff_base_ms` as a duration.
    pub fn backoff_base(&self) -> Duration {
        Duration::from_millis(self.backoff_base_ms)
    }

    /// `backoff_cap_ms` as a duration.
    pub fn backoff_cap(&self) -> Duration {
        Duration::from_millis(self.backoff_cap_ms)
    }

    /// `reset_after_ms` as a duration.
    pub fn reset_after(&self) -> Duration {
        Duration::from_millis(self.reset_after_ms)
    }
}
