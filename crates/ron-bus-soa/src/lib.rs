#![doc = include_str!("../README.md")]
//!
//! A lock-free, structure-of-arrays broadcast ring backend for the
//! ron-kernel bus: [`SoaBus`] implements `ron_bus::BusBackend` and passes
//! the same conformance kit as every backend.
//!
//! In short: a publish claims a sequence number with one `fetch_add`,
//! writes the payload in place (no allocation per message) and stamps its
//! slot; any number of publishers. Each subscriber owns a cursor and a pin:
//! a read stores only to the subscriber's own cache line, so readers never
//! contend with each other or slow publishers, and a lapped subscriber
//! learns from the stamp exactly how many messages it lost (`Lagged(n)`).
//! Payload cells are twice the capacity, and a floor raised about once per
//! `capacity` publishes keeps publishers off cells being cloned. Wake-ups
//! are coalesced: a publish with nobody parked costs one fence and one load.
//! A subscriber's `recv_many` reads the run of messages waiting under one
//! pin and one fence.
//! No payload code runs between a claim and its stamp, so a panicking
//! `clone` or `drop` leaves the ring usable. Batches claim a chunk per ring
//! at once, with stack use bounded by the payload's size; one ring per
//! distinct interest mask keeps each subscriber's lag exact. No limit on
//! subscribers.
//!
//! The protocol (the fields, who writes and who reads each, the invariants
//! I1-I3 and how loom checks them) is documented once, on the ring itself:
//! `src/ring.rs` (`cargo doc -p ron-bus-soa --document-private-items`).
//!
//! The layout mirrors `ron-bus-classic`'s: `bus.rs` holds the publisher
//! handle (`route` writes a message to the rings its topic matches,
//! `publish_with` is the inlined common publish, `publish_routed` the out
//! of line one that takes the lock), `receiver.rs` the subscriber side;
//! `ring.rs` and `sync.rs` are SoA's own. The mask table and the wake
//! accounting are `ron_bus::MaskTable` and `ron_bus::WakeTally`, shared
//! with classic.
//!
//! `unsafe` lives in the `ring` module only; under `RUSTFLAGS="--cfg loom"`
//! the same code runs on loom's primitives (`tests/loom_*.rs`).
//!
//! # Example
//!
//! ```
//! use ron_bus::{BusBackend, BusReceiver, RecvError};
//! use ron_bus_soa::SoaBus;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let bus = SoaBus::with_capacity(4)?;
//! let mut rx = bus.subscribe();
//! for i in 0..6 {
//!     bus.publish(i);
//! }
//! assert_eq!(rx.recv().await, Err(RecvError::Lagged(2))); // 0 and 1 were overwritten
//! assert_eq!(rx.recv().await?, 2);
//! drop(bus); // the last publisher handle: the bus closes after draining
//! assert_eq!(rx.recv().await?, 3);
//! # Ok(())
//! # }
//! ```

#![deny(unsafe_code)]

mod bus;
mod receiver;
mod ring;
mod sync;

pub use bus::SoaBus;
pub use receiver::SoaReceiver;
