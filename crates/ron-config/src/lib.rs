#![doc = include_str!("../README.md")]
//!
//! Typed, validated configuration for ron-kernel services, hot-reloaded
//! from a TOML file and the environment.
//!
//! - [`Config`]: `version`, `amnesia`, `[metrics]`, `[bus]`, `[supervisor]`,
//!   `[bridge]` (NATS, off unless a `url` is set: [`BridgeConfig`]), each
//!   field with a documented default; unknown fields are errors.
//! - [`Loader`]: defaults < file (`RON_CONFIG`, else a default path) <
//!   environment (the `RON_*` keys in [`ENV_KEYS`]); an environment value
//!   that does not parse is an error, never ignored. The file must be a
//!   regular file of at most [`MAX_FILE_BYTES`] and not empty.
//! - [`validate`]: a pure function returning **every** problem with its
//!   field path; parse errors carry line and column ([`ConfigError`]).
//! - [`LiveConfig`]: the current configuration behind an atomic pointer,
//!   kept up to date by a `notify` watcher on the directories the file's
//!   path goes through (symlinks included: Kubernetes ConfigMaps, release
//!   switches) and an environment poller; changes apply by content,
//!   exactly once each, and a bad file changes nothing. Changes reach a [`ReloadListener`] (the
//!   `ron-kernel` facade turns them into `ConfigUpdated` on the bus, the
//!   `amnesia_mode` gauge and the `config_*` counters).
//!
//! # Example
//!
//! ```
//! use ron_config::{Config, Env, Loader};
//!
//! // Only the environment: no file.
//! let env = Env::from_fn(|key| match key {
//!     "RON_METRICS_ADDR" => Some("127.0.0.1:0".to_owned()),
//!     _ => None,
//! });
//! let config: Config = Loader::new(None).env(env).load()?;
//! assert_eq!(config.metrics.addr.port(), 0);
//! assert_eq!(config.supervisor.max_restarts, 3);
//! # Ok::<(), ron_config::ConfigError>(())
//! ```

mod dirwatch;
mod env;
mod error;
mod load;
mod model;
mod read;
mod resolve;
mod validate;
mod watch;

pub use env::{ENV_KEYS, Env, RON_CONFIG};
pub use error::ConfigError;
pub use load::{Loader, parse};
pub use model::{BridgeConfig, BusConfig, Config, MetricsConfig, SupervisorConfig};
pub use read::MAX_FILE_BYTES;
pub use validate::{
    MAX_BACKOFF_CAP_MS, MAX_BUS_CAPACITY, MAX_EXPECTED_SUBSCRIBERS, MAX_SUBJECT_TOKEN_LEN, Problem,
    validate,
};
pub use watch::{LiveConfig, ReloadEvent, ReloadListener, WatchOptions};
