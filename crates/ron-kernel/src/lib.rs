#![doc = include_str!("../README.md")]
//!
//! ron-kernel: a small, fast, observable microkernel for Rust services.
//!
//! This is the facade. Its root exports the frozen surface, each name by an
//! explicit `pub use`; everything else lives in a module named for what it is:
//!
//! * [`bus`]: the kernel's broadcast bus of [`KernelEvent`]s (contract in
//!   `ron-bus`, default backend `ron-bus-soa`);
//! * [`config`]: typed, hot-reloaded [`Config`] (from `ron-config`) and the
//!   [`KernelConfigListener`](config::KernelConfigListener) that publishes
//!   `ConfigUpdated`, sets the amnesia gauge and counts reloads;
//! * [`events`]: the [`KernelEvent`] type;
//! * [`metrics`]: the Prometheus registry and the `/metrics`, `/healthz`,
//!   `/readyz` endpoints (from `ron-metrics`), served on their own port or
//!   mounted in your server as a [`MetricsService`](metrics::MetricsService)
//!   (tower or hyper) or, with the `axum` feature, an `axum::Router`;
//! * [`health`]: readiness gates (from `ron-health`);
//! * [`supervisor`]: OTP-style supervision (from `ron-supervisor`) and the
//!   [`KernelReporter`](supervisor::KernelReporter) that puts its events on
//!   the bus, in the metrics and on the readiness gates.
//!
//! Optional features: `axum` (above); `stream`, a [`bus::Subscriber`] as a
//! `futures_core::Stream` of `Result<KernelEvent, Lagged>`
//! (`Subscriber::into_stream`); `serde`, `Serialize`/`Deserialize` for
//! [`KernelEvent`], the health snapshot, the bus statistics snapshot and the
//! supervisor's events.

pub mod bus;
pub mod config;
pub mod events;
mod signal;
pub mod supervisor;

pub use bus::Bus;
pub use events::KernelEvent;
pub use ron_config::Config;
pub use ron_health::HealthState;
pub use ron_metrics::Metrics;
pub use signal::wait_for_ctrl_c;

pub mod health {
    //! Readiness gates: `config_loaded` plus one gate per service (see `ron-health`).

    pub use ron_health::{
        CONFIG_LOADED, Gate, HealthError, HealthSnapshot, HealthState, MAX_SERVICE_NAME_LEN,
        NameProblem, SERVICES, ServiceState,
    };
}

pub mod metrics {
    //! Prometheus registry, canonical series and the HTTP endpoints (see `ron-metrics`).

    pub use ron_metrics::http;
    pub use ron_metrics::{
        Metrics, MetricsError, MetricsService, ScrapeCounter, ServeOptions, ServerHandle,
        TEXT_CONTENT_TYPE,
    };

    /// Compatibility path: `ron_kernel::metrics::HealthState` keeps working.
    pub use ron_health::HealthState;
}
