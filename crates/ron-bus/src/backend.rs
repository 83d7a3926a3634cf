//! The two traits every backend implements.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use crate::{BusError, BusStats, RecvError, TryRecvError};

/// Topic mask of a message meant for everyone, and interest mask of a
/// subscriber that wants everything.
pub const ALL_TOPICS: u64 = u64::MAX;

/// A bounded, lossy broadcast bus: the publisher handle of a backend.
///
/// Cloning gives another publisher handle on the same bus; the bus closes
/// when the last handle is dropped. See the [crate docs](crate) for the
/// semantics every backend shares (lagging, closing, interest masks, wake-ups).
pub trait BusBackend<T>: Clone + Send + Sync + fmt::Debug + Sized + 'static
where
    T: Clone + Send + Sync + 'static,
{
    /// The subscriber side.
    type Receiver: BusReceiver<T>;

    /// A bus retaining `capacity` messages per subscriber, rounded up to a
    /// power of two.
    ///
    /// # Errors
    ///
    /// [`BusError::ZeroCapacity`], [`BusError::CapacityTooLarge`].
    fn with_capacity(capacity: usize) -> Result<Self, BusError>;

    /// Publishes `msg` to every subscriber; never blocks. Returns how many
    /// subscribers will see it (0 is not an error; it is counted).
    fn publish(&self, msg: T) -> usize;

    /// Publishes `msg` with a topic mask: only subscribers whose interest
    /// mask shares a bit with `topic` see it, are woken by it, or can lose it.
    fn publish_topic(&self, topic: u64, msg: T) -> usize;

    /// Publishes every message of `batch` in order, as if by [`publish`](Self::publish)
    /// each, with one wake-up sweep for the whole batch. Returns the sum of
    /// what each `publish` would have returned.
    fn publish_many<I>(&self, batch: I) -> usize
    where
        I: IntoIterator<Item = T>;

    /// A subscriber that sees every message published from now on.
    fn subscribe(&self) -> Self::Receiver;

    /// A subscriber that sees only messages whose topic shares a bit with
    /// `mask`, published from now on. `subscribe_with_interest(ALL_TOPICS)`
    /// is `subscribe()`.
    fn subscribe_with_interest(&self, mask: u64) -> Self::Receiver;

    /// Subscribers alive now.
    fn receiver_count(&self) -> usize;

    /// The bus's statistics (shared with its exporters).
    fn stats(&self) -> &Arc<BusStats>;

    /// Messages retained per subscriber (a power of two).
    fn capacity(&self) -> usize;
}

/// Polls `blocking_recv` makes with a bare spin hint before it starts
/// yielding its thread between polls.
const BLOCKING_SPINS: u32 = 16;

/// How long `blocking_recv` keeps polling (yielding between polls) before
/// it parks its thread. A park and the publisher's unpark cost a futex round
/// trip each, and waking a parked thread takes ~15 µs on a small VM
/// (measured: `docs/PERFORMANCE.md`), so a message due within a few
/// wake-ups' time is cheaper to wait for awake. Yielding lets any other
/// runnable thread have the core meanwhile.
const BLOCKING_SPIN_BUDGET: std::time::Duration = std::time::Duration::from_micros(50);

/// The subscriber side of a bus.
///
/// Dropping a receiver never affects other subscribers.
pub trait BusReceiver<T>: Send + fmt::Debug + 'static {
    /// Waits for the next message. Cancel-safe: dropping the future loses no
    /// message.
    ///
    /// # Errors
    ///
    /// [`RecvError::Lagged`] once after the subscriber lost messages, then
    /// the oldest retained message follows; [`RecvError::Closed`] after the
    /// last publisher handle dropped and every retained message was received.
    fn recv(&mut self) -> impl Future<Output = Result<T, RecvError>> + Send;

    /// The next message if one is waiting.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] when none is, otherwise as [`recv`](Self::recv).
    fn try_recv(&mut self) -> Result<T, TryRecvError>;

    /// Waits for the next message by blocking the thread: for threads outside
    /// an async runtime (inside one it would stall a worker).
    ///
    /// # Errors
    ///
    /// As [`recv`](Self::recv).
    fn blocking_recv(&mut self) -> Result<T, RecvError> {
        // A busy bus usually has the next message within nanoseconds to
        // microseconds: poll, spinning and then yielding, for up to
        // `BLOCKING_SPIN_BUDGET` before paying for a park and an unpark.
        let mut deadline = None;
        for round in 0u32.. {
            match self.try_recv() {
                Ok(msg) => return Ok(msg),
                Err(TryRecvError::Lagged(lost)) => return Err(RecvError::Lagged(lost)),
                Err(TryRecvError::Closed) => return Err(RecvError::Closed),
                Err(TryRecvError::Empty) if round < BLOCKING_SPINS => std::hint::spin_loop(),
                Err(TryRecvError::Empty) => {
                    // The clock is read every 16 polls: it costs more than one.
                    if round % 16 == 0 {
                        let now = std::time::Instant::now();
                        if now >= *deadline.get_or_insert(now + BLOCKING_SPIN_BUDGET) {
                            break;
                        }
                    }
                    std::thread::yield_now();
                }
            }
        }
        crate::block_on::block_on(self.recv())
    }

    /// The interest mask this subscriber was created with.
    fn interest(&self) -> u64;
}
