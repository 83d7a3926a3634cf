#![doc = include_str!("../README.md")]
//!
//! # API
//!
//! - [`Topics`]: topic bits and their names (subject tokens);
//! - [`BridgeOptions`], [`Bridge::start`], [`Bridge::shutdown`];
//! - [`Remote<T>`]: an imported event and its node;
//! - [`BridgeMetrics`]: the Prometheus series;
//! - [`envelope`]: the versioned wire format.

mod bridge;
pub mod envelope;
mod error;
mod metrics;
mod topics;

pub use bridge::{Bridge, BridgeOptions, NATS_GATE, Remote};
pub use error::{BridgeError, DecodeError};
pub use metrics::{BridgeMetrics, DROP_REASONS, EXPORT_REASONS, IMPORT_REASONS};
pub use topics::Topics;
