#![doc = include_str!("../README.md")]
//!
//! The ron-kernel bus over `tokio::sync::broadcast`.
//!
//! [`ClassicBus`] implements the [`ron_bus`] contract with tokio's broadcast
//! channel doing the storage, the lag detection and the waking. What tokio
//! does not give, the wrapper adds, and says so:
//!
//! * **Exact lag** is tokio's own `Lagged(n)`; the wrapper only counts it.
//! * **Interest masks**: tokio has no topics, so each distinct interest mask
//!   gets its own tokio channel (subscribers with the same mask share it) and
//!   a publish sends to the channels whose mask matches its topic. Messages
//!   outside a subscriber's interest therefore never reach its channel, never
//!   wake it and never push its messages out. The channels of the narrower
//!   masks sit in a [`ron_bus::MaskTable`] behind a lock, and the union of
//!   their masks in an atomic a publish reads first, as in `ron-bus-soa`: a
//!   publish whose topic matches no narrower mask (every publish, with only
//!   full-mask subscribers) is exactly one tokio send and takes no lock; a
//!   topic-0 publish reaches nobody and makes no send either. A narrower
//!   mask's channel outlives its last subscriber until the next narrower
//!   subscribe prunes it: until then a publish matching it still takes the
//!   lock and makes a send that stores nothing.
//! * **Wake accounting**: tokio already wakes a parked receiver once and not
//!   again until it re-parks. The receiver counts a delivery that ended a
//!   park as a notify *send* and any other delivery as *suppressed*, in a
//!   local [`ron_bus::WakeTally`] added to the bus stats when it goes idle
//!   (parks, finds the bus empty, or drops), so receiving costs no shared
//!   write.
//! * **`publish_many`** (and `publish_many_topic`, each message on its own
//!   topic) sends in order; tokio wakes parked receivers on the first
//!   message and finds them awake for the rest, so a batch costs one
//!   wake-up per parked subscriber. It saves the per-message bookkeeping.
//! * **Batched receive**: tokio has no `recv_many` on a broadcast
//!   receiver, so `recv_many` and `try_recv_many` call its `try_recv` in a
//!   loop (waiting in its `recv` only when nothing is waiting). tokio's
//!   `try_recv` moves past a lag as it reports it, so a lag met after a
//!   run has taken messages is held in the receiver and reported (and
//!   counted) by its next receive, where one-by-one receives report it.
//! * **Panicking payloads**: a `clone` or `drop` that panics inside a send
//!   or a receive propagates to its caller; tokio's locks ignore poisoning
//!   and its slots stay consistent, so the bus stays usable (the
//!   conformance kit's payload cases check it). A receive whose `clone`
//!   panicked has moved past that message (tokio's cursor moves first, the
//!   contract on every backend); a send whose replaced payload's `drop`
//!   panicked has stored its message, and counts it in the stats, but may
//!   not have woken parked receivers (the next send does).
//!
//! The layout mirrors `ron-bus-soa`'s: `bus.rs` holds the publisher handle
//! (`route` writes a message to the channels its topic matches,
//! `publish_with` is the inlined common publish, `publish_routed` the out of
//! line one that takes the lock), `receiver.rs` the subscriber side.
//!
//! # Performance
//!
//! `publish`: one tokio send (a mutex and a slot write) plus a thread-local
//! counter bump; one more send per matching narrower interest mask. No
//! allocation. `subscribe`: tokio's; a new interest mask allocates a channel
//! of `capacity` slots. Measured against raw tokio in
//! `benches/classic.rs` (see the README).
//!
//! # Example
//!
//! ```
//! use ron_bus::{BusBackend, BusReceiver};
//! use ron_bus_classic::ClassicBus;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let bus = ClassicBus::with_capacity(ron_bus::autotune_capacity(2, None))?;
//! let mut rx = bus.subscribe();
//! assert_eq!(bus.publish("hello"), 1);
//! assert_eq!(rx.recv().await?, "hello");
//! # Ok(())
//! # }
//! ```

mod bus;
mod receiver;

pub use bus::ClassicBus;
pub use receiver::ClassicReceiver;
