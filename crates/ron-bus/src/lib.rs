#![doc = include_str!("../README.md")]
//!
//! The ron-kernel bus contract: an in-process, bounded, lossy broadcast bus.
//!
//! This crate holds what every backend shares: the [`BusBackend`] and
//! [`BusReceiver`] traits, the errors, [`BusStats`], [`autotune_capacity`],
//! a plain [`reference`](mod@reference) backend, and (feature `conformance`) the test kit
//! every backend must pass. Backends live in sibling crates:
//! `ron-bus-classic` (over `tokio::sync::broadcast`) and `ron-bus-soa` (a
//! lock-free structure-of-arrays ring). What they build on lives here
//! once, for backend authors: [`PublishTally`] (a publish's stats, exact
//! across a panicking payload), [`MaskTable`] (one channel per narrower
//! interest mask) and [`WakeTally`] (a receiver's wake-up counts).
//!
//! # Publishing
//!
//! [`publish`](BusBackend::publish) never blocks and never waits for a
//! subscriber. It returns how many subscribers will see the message; with
//! none it returns 0 and counts `no_receivers` (not an error).
//! [`publish_many`](BusBackend::publish_many) is the same as publishing each
//! message in order, with one wake-up sweep for the batch;
//! [`publish_many_topic`](BusBackend::publish_many_topic) gives each message
//! of a batch its own topic, exactly as
//! [`publish_topic`](BusBackend::publish_topic) would.
//!
//! A payload's `Clone` or `Drop` that panics propagates to the call that ran
//! it (a publish, a batch or a receive) and leaves the bus usable: later
//! publishes complete and every subscriber continues with a consistent
//! stream (the conformance kit's payload cases hold every backend to it).
//! A receive whose `clone` panics has consumed that message: the next
//! receive returns the one after it, with no `Lagged` for it. A publish cut
//! short by a panic counts, in the stats, exactly the messages it stored
//! for some subscriber ([`PublishTally`]).
//!
//! # Lagging
//!
//! Each subscriber can fall `capacity` messages behind. Beyond that the
//! oldest of its messages are lost: its next receive returns
//! [`RecvError::Lagged(n)`](RecvError::Lagged) with the exact number lost
//! (also added to the `receiver_lag` stat), and the receive after that
//! returns the oldest message still retained. Per subscriber, messages
//! delivered + messages reported lost == messages published (within its
//! interest) since it subscribed.
//!
//! ```
//! use ron_bus::reference::ReferenceBus;
//! use ron_bus::{BusBackend, BusReceiver, TryRecvError};
//!
//! let bus = ReferenceBus::with_capacity(4)?;
//! let mut rx = bus.subscribe();
//! for i in 0..6 {
//!     bus.publish(i);
//! }
//! assert_eq!(rx.try_recv(), Err(TryRecvError::Lagged(2)));
//! assert_eq!(rx.try_recv(), Ok(2)); // the oldest retained message
//! # Ok::<(), ron_bus::BusError>(())
//! ```
//!
//! # Closing
//!
//! The bus is open while any publisher handle (a clone of the backend) lives.
//! When the last one drops, subscribers first receive everything still
//! retained for them, then [`RecvError::Closed`] on every later receive; a
//! subscriber parked in `recv` is woken for it. Dropping a subscriber never
//! affects the others. A new subscriber sees only messages published after it
//! subscribed.
//!
//! ```
//! use ron_bus::reference::ReferenceBus;
//! use ron_bus::{BusBackend, BusReceiver, TryRecvError};
//!
//! let bus = ReferenceBus::with_capacity(8)?;
//! let mut rx = bus.subscribe();
//! bus.publish("last words");
//! drop(bus);
//! assert_eq!(rx.try_recv(), Ok("last words"));
//! assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
//! # Ok::<(), ron_bus::BusError>(())
//! ```
//!
//! # Interest masks
//!
//! A subscriber may declare a 64-bit interest mask
//! ([`subscribe_with_interest`](BusBackend::subscribe_with_interest)) and a
//! message may carry a topic mask ([`publish_topic`](BusBackend::publish_topic)).
//! A subscriber sees a message when the masks share a bit. Messages outside
//! its interest do not reach it, do not wake it, and do not count toward its
//! capacity, so they can never make it lag; in a batch
//! ([`publish_many_topic`](BusBackend::publish_many_topic)) as much as alone. [`ALL_TOPICS`] as interest is
//! exactly a plain [`subscribe`](BusBackend::subscribe); as a topic, a plain
//! `publish`.
//!
//! ```
//! use ron_bus::reference::ReferenceBus;
//! use ron_bus::{BusBackend, BusReceiver, TryRecvError};
//!
//! const HEALTH: u64 = 1 << 0;
//! const CONFIG: u64 = 1 << 1;
//! let bus = ReferenceBus::with_capacity(8)?;
//! let mut config_only = bus.subscribe_with_interest(CONFIG);
//! assert_eq!(bus.publish_topic(HEALTH, "svc up"), 0);
//! assert_eq!(bus.publish_topic(CONFIG, "v2"), 1);
//! assert_eq!(config_only.try_recv(), Ok("v2"));
//! assert_eq!(config_only.try_recv(), Err(TryRecvError::Empty));
//! # Ok::<(), ron_bus::BusError>(())
//! ```
//!
//! # Wake-ups
//!
//! Wake-ups are edge-triggered and coalesced: a subscriber parked in `recv`
//! is woken by the first message for it; until it runs again, further
//! messages do not notify it again. `notify_sends` counts wake-ups sent,
//! `notify_suppressed` counts deliveries to a subscriber that was already
//! awake or already notified. `publish_many` wakes each parked subscriber at
//! most once per batch. A dropped receiver takes its registered waker with
//! it: a quiet bus keeps no waker (and so no task) of a subscriber that is
//! gone.
//!
//! # Receiving
//!
//! Async [`recv`](BusReceiver::recv) (cancel-safe), non-blocking
//! [`try_recv`](BusReceiver::try_recv), and
//! [`blocking_recv`](BusReceiver::blocking_recv) for threads outside a runtime.
//! [`recv_many`](BusReceiver::recv_many) and
//! [`try_recv_many`](BusReceiver::try_recv_many) take a run of messages
//! into a buffer, with exactly the messages, lag reports and close of one
//! `recv` per message (a run stops before a lag or the close, which the
//! next call reports).
//! With the `stream` feature, any subscriber becomes a
//! [`futures_core::Stream`] of `Result<T, Lagged>`
//! ([`into_stream`](BusReceiver::into_stream), `BusStream`), ending when
//! the bus is closed and drained.
//!
//! ```
//! use ron_bus::reference::ReferenceBus;
//! use ron_bus::{BusBackend, BusReceiver, RecvError};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), ron_bus::BusError> {
//! let bus = ReferenceBus::with_capacity(64)?;
//! let mut rx = bus.subscribe();
//! let reader = tokio::spawn(async move {
//!     let mut sum = 0;
//!     while let Ok(n) = rx.recv().await {
//!         sum += n;
//!     }
//!     sum
//! });
//! bus.publish_many([1, 2, 3]);
//! drop(bus);
//! assert_eq!(reader.await.unwrap(), 6);
//! # Ok(())
//! # }
//! ```
//!
//! # Performance
//!
//! What each operation costs depends on the backend; the contract fixes
//! only its shape. `publish` is O(1) for a bus whose subscribers all use the
//! full mask, plus one step per distinct interest mask otherwise; it never
//! allocates per message in the production backends and never calls into a
//! metrics library: [`BusStats`] are plain atomics, sharded per publishing
//! thread for per-message counts. `publish_many` saves the per-message
//! bookkeeping and the per-message wake check. `subscribe` may allocate.
//! `blocking_recv` spends up to 50 µs of CPU polling before it parks the
//! thread (see its docs). Each backend crate documents its measured costs.

mod autotune;
mod backend;
mod block_on;
#[cfg(feature = "conformance")]
pub mod conformance;
mod error;
mod mask_table;
mod recv_loop;
pub mod reference;
mod stats;
#[cfg(feature = "stream")]
mod stream;
mod tally;
mod wake_tally;

pub use autotune::{AUTOTUNE_WARN_ABOVE, autotune_capacity, autotune_warnings};
pub use backend::{ALL_TOPICS, BusBackend, BusReceiver};
pub use error::{BusError, RecvError, TryRecvError, normalize_capacity};
pub use mask_table::MaskTable;
pub use stats::{BATCH_LEN_BOUNDS, BusStats, BusStatsSnapshot};
#[cfg(feature = "stream")]
pub use stream::{BusStream, Lagged};
pub use tally::PublishTally;
pub use wake_tally::WakeTally;

/// The largest capacity a bus accepts (2^20 messages per subscriber).
pub const MAX_CAPACITY: usize = 1 << 20;
