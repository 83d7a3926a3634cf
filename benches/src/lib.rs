//! The measuring kit every benchmark in the workspace shares, and the home
//! of the cross-library benches (`comparables`, `vs_classic`).
//!
//! * [`median`] and [`percentile`]: the one definition of each. Benches take
//!   several samples and report their median, because this VM drifts
//!   between a fast and a slow state and a mean would blend the two.
//! * [`harness`]: the fan-out and latency harness, the same for every
//!   library a bench compares (ron-bus backends through
//!   [`harness::backend_fanout`] and [`harness::backend_latency`], other
//!   channels through [`harness::run_fanout`] and [`harness::run_latency`]).
//! * [`async_harness`]: subscribers as tokio tasks awaiting `recv()` on a
//!   2-worker runtime, the publisher on its own thread: flood (deliveries
//!   per second) and paced (latency and CPU per delivery, the publisher
//!   sleeping between messages).
//! * [`cli::BenchArgs`]: the flags every bench main reads (`--bench`,
//!   `--quick`, `--rounds`, ...).
//! * [`nats::NatsServer`]: a real `nats-server` on a free loopback port
//!   (started, killed, restarted), for the fleet bench and tests.
//! * [`rounds`]: the fan-out to subscriber tasks on a tokio runtime in
//!   lossless rounds, with which the classic backend's micro-benches compare
//!   it with raw `tokio::sync::broadcast`.
//!
//! The library needs only the bus contract, tokio and thiserror, so a
//! crate's own micro-benches can dev-depend on it without building the
//! peers the cross-library benches compare against.
//!
//! ```
//! use ron_benches::{median, percentile};
//!
//! assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
//! let sorted = [10_u64, 20, 30, 40, 50];
//! assert_eq!(percentile(&sorted, 0.5), Some(30));
//! assert_eq!(percentile(&sorted, 0.99), Some(50));
//! ```

pub mod async_harness;
pub mod cli;
pub mod harness;
pub mod nats;
pub mod rounds;
mod stats;

pub use stats::{median, percentile};
