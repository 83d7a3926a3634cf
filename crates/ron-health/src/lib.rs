#![doc = include_str!("../README.md")]
//!
//! Named readiness gates for services built on ron-kernel.
//!
//! A [`HealthState`] holds the gates that decide readiness: `config_loaded`
//! plus one gate per service. The process is *ready* when configuration is
//! loaded, at least one service is registered and every service is
//! [`Healthy`](ServiceState::Healthy). Liveness (`/healthz`) needs no gate: a
//! process that answers is alive.
//!
//! # Degrade-first readiness
//!
//! Everything starts closed. `/readyz` (served by `ron-metrics`) answers
//! `503 booting; missing=<gates>` until [`HealthState::missing`] is empty, so
//! a load balancer never routes to a half-started process. `missing()` is
//! sorted and deduplicated, so the body is stable between scrapes.
//!
//! # Reading and writing
//!
//! Reads are lock-free and return one consistent [`HealthSnapshot`]; a write
//! edits a copy inside [`HealthState::set`] and publishes it whole. Nothing
//! here is async, so no lock can be held across an `.await`.

mod error;
mod snapshot;
mod state;
#[cfg(feature = "serde")]
mod wire;

pub use error::{HealthError, NameProblem};
pub use snapshot::{
    CONFIG_LOADED, Gate, HealthSnapshot, MAX_SERVICE_NAME_LEN, SERVICES, ServiceState,
};
pub use state::HealthState;
