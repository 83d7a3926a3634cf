#![doc = include_str!("../README.md")]
//!
//! Prometheus metrics and the health endpoints of ron-kernel services.
//!
//! [`Metrics`] is a Prometheus registry that owns the kernel's canonical
//! series (`amnesia_mode`, `kernel_ready`, `service_restarts_total{service}`,
//! `service_failures_total{service}`, `config_reloads_total`,
//! `config_reload_errors_total{reason}`,
//! `request_latency_seconds{route,method}`, `http_write_timeouts_total`, the
//! `process_*` series on Linux); other crates add theirs through [`Metrics::register`], reading their own
//! atomics at scrape time with [`ScrapeCounter`] or
//! [`PullingGauge`](prometheus::PullingGauge). [`Metrics::serve`] runs a hyper
//! server with `/metrics`, `/healthz` and degrade-first `/readyz` (driven by a
//! [`HealthState`](ron_health::HealthState)); see [`http`] for the routes and
//! the limits that protect it. To answer them in a server you already run,
//! [`Metrics::service`] gives them as a socket-free [`MetricsService`] (a
//! tower and a hyper service) and, with the `axum` feature, `Metrics::router`
//! as an `axum::Router` to merge or nest under a prefix.

mod bus;
mod error;
pub mod http;
mod registry;
mod scrape;

pub use error::MetricsError;
pub use http::{MetricsService, ServeOptions, ServerHandle};
pub use registry::{Metrics, TEXT_CONTENT_TYPE};
pub use scrape::ScrapeCounter;
