//! A lock-free, structure-of-arrays broadcast ring backend for the
//! ron-kernel bus: [`SoaBus`] implements `ron_bus::BusBackend` and passes
//! the same conformance kit as every backend.
//!
//! - **Publishing** claims a sequence number with one `fetch_add` on the
//!   ring's tail, writes the payload in place (no allocation per message)
//!   and stamps its slot. Any number of publishers. Payload cells are twice
//!   the capacity, so a publish overwrites a message already outside the
//!   retained window; once per `capacity` publishes it raises the ring's
//!   floor and waits only for a reader in the middle of cloning a message
//!   below it.
//! - **Subscribers** each own a cursor and a pin. Reading stores to the
//!   pin (the subscriber's own cache line) and loads the stamp: readers
//!   write no shared memory, so they never contend with each other or with
//!   publishers. A subscriber that was lapped learns from the slot's stamp
//!   exactly how many messages it lost (`Lagged(n)`) and continues at the
//!   oldest retained one. No limit on their number.
//! - **Wake-ups** are edge-triggered and coalesced: only parked subscribers
//!   are woken, once per publish (or per `publish_many` batch); a publish
//!   with nobody parked costs one fence and one load. A dropped receiver
//!   takes its waker out of the parked list.
//! - **Panicking payloads**: a publisher runs no payload code between
//!   claiming sequence numbers and stamping them (clones before, drops of
//!   replaced payloads after), so a `clone` or `drop` that panics
//!   propagates and leaves the ring consistent and usable.
//! - **Batches** claim a chunk per ring at once: 64 messages, fewer for
//!   payloads over 128 bytes, so a batch's stack use stays within ~16 KiB
//!   or two payloads.
//! - **Interest masks**: one ring per distinct mask (full-mask subscribers
//!   share one), so a subscriber's capacity and lag count only its traffic.
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
