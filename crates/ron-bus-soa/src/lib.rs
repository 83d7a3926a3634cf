//! A lock-free, structure-of-arrays broadcast ring backend for the
//! ron-kernel bus: [`SoaBus`] implements `ron_bus::BusBackend` and passes
//! the same conformance kit as every backend.
//!
//! - **Publishing** claims a sequence number with one `fetch_add` on the
//!   ring's tail, write-locks just that slot, writes the payload in place
//!   (no allocation per message), stamps it and unlocks. Any number of
//!   publishers; a publish never waits for a subscriber, only (for the
//!   length of a `clone`) for a reader inside that very slot.
//! - **Subscribers** each own a cursor. A subscriber that was lapped learns
//!   from the slot's stamp exactly how many messages it lost (`Lagged(n)`)
//!   and continues at the oldest retained one. No limit on their number.
//! - **Wake-ups** are edge-triggered and coalesced: only parked subscribers
//!   are woken, once per publish (or per `publish_many` batch); a publish
//!   with nobody parked costs one fence and one load.
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
