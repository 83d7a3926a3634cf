//! The two traits every backend implements: the contract, and nothing of
//! how a backend meets it (the blocking receive loop is in `recv_loop`).

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
    ///
    /// The contract is "as if by `publish` of each message", whatever topic
    /// `publish` gives it. The provided default puts every message on
    /// [`ALL_TOPICS`] (what a backend's `publish` does: it is
    /// [`publish_many_topic`](Self::publish_many_topic) with that topic on
    /// each message); a type whose `publish` picks a topic per message
    /// overrides it to match (the kernel's facade `Bus` routes each event
    /// by its own topic).
    fn publish_many<I>(&self, batch: I) -> usize
    where
        I: IntoIterator<Item = T>,
    {
        self.publish_many_topic(batch.into_iter().map(|msg| (ALL_TOPICS, msg)))
    }

    /// Publishes every `(topic, message)` of `batch` in order, as if by
    /// [`publish_topic`](Self::publish_topic) each: a message reaches, wakes
    /// and can cost lag only the subscribers whose interest shares a bit
    /// with its own topic. One wake-up sweep for the whole batch. Returns
    /// the sum of what each `publish_topic` would have returned.
    ///
    /// ```
    /// use ron_bus::reference::ReferenceBus;
    /// use ron_bus::{BusBackend, BusReceiver, TryRecvError};
    ///
    /// const HEALTH: u64 = 1 << 0;
    /// const CRASH: u64 = 1 << 1;
    /// let bus = ReferenceBus::with_capacity(8)?;
    /// let mut crashes = bus.subscribe_with_interest(CRASH);
    /// let reached = bus.publish_many_topic([(HEALTH, "up"), (CRASH, "boom"), (HEALTH, "up")]);
    /// assert_eq!(reached, 1);
    /// assert_eq!(crashes.try_recv(), Ok("boom"));
    /// assert_eq!(crashes.try_recv(), Err(TryRecvError::Empty));
    /// # Ok::<(), ron_bus::BusError>(())
    /// ```
    fn publish_many_topic<I>(&self, batch: I) -> usize
    where
        I: IntoIterator<Item = (u64, T)>;

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
    ///
    /// # Panics
    ///
    /// When the message's `clone` panics (backends clone what they hand
    /// out): the panic propagates, and the message is consumed, so the next
    /// receive returns the one after it. Likewise for `try_recv` and
    /// `blocking_recv`.
    fn recv(&mut self) -> impl Future<Output = Result<T, RecvError>> + Send;

    /// The next message if one is waiting.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] when none is, otherwise as [`recv`](Self::recv).
    fn try_recv(&mut self) -> Result<T, TryRecvError>;

    /// Waits for messages and appends a run of them to `buf`, in order: at
    /// least one, at most `max`. Returns how many it appended. Cancel-safe
    /// like [`recv`](Self::recv): a poll that appends messages is the poll
    /// that completes, so dropping the future loses no message.
    ///
    /// The messages, the lag reports and the close are exactly those of
    /// [`recv`](Self::recv) called once per message, so a subscriber may mix
    /// the two freely:
    ///
    /// - a run stops *before* a lag: when some messages were appended, it
    ///   returns `Ok(n)` for those, and the next receive (of any kind)
    ///   reports [`RecvError::Lagged`], where `recv` would have reported it;
    ///   a lag at the subscriber's position before anything was appended is
    ///   `Err(Lagged(k))` with nothing appended;
    /// - likewise the close: `Ok(n)` for the last retained messages, then
    ///   [`RecvError::Closed`] on the next call;
    /// - `max == 0` returns `Ok(0)` at once without looking at the bus (no
    ///   wait, no lag or close taken), as `tokio::sync::mpsc`'s `recv_many`
    ///   does with a limit of 0;
    /// - `buf` is only appended to: what it held before stays, and its
    ///   growth is what the call returns. An `Err` appends nothing.
    ///
    /// It never waits to fill a batch: once a message is there it takes
    /// what is waiting and returns. How many of the waiting messages beyond
    /// the first it takes is the backend's: the provided implementation
    /// takes one per call (a loop over [`try_recv`](Self::try_recv) could
    /// not hand back a lag it met after some messages), and `ron-bus-soa`,
    /// `ron-bus-classic` and the [reference](crate::reference) backend
    /// take every message waiting, up to `max`, up to the next lag or the
    /// close (the SoA ring reads the run under one pin and one fence).
    ///
    /// # Errors
    ///
    /// As [`recv`](Self::recv), with nothing appended.
    ///
    /// # Panics
    ///
    /// When a message's `clone` panics, as [`recv`](Self::recv): the
    /// messages appended before it stay in `buf`, the one whose `clone`
    /// panicked is consumed, and the next receive returns the one after it.
    ///
    /// ```
    /// use ron_bus::reference::ReferenceBus;
    /// use ron_bus::{BusBackend, BusReceiver, RecvError};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), ron_bus::BusError> {
    /// let bus = ReferenceBus::with_capacity(4)?;
    /// let mut rx = bus.subscribe();
    /// bus.publish_many(0..6); // 0 and 1 are lost
    /// drop(bus);
    /// let mut buf = Vec::new();
    /// assert_eq!(rx.recv_many(&mut buf, 64).await, Err(RecvError::Lagged(2)));
    /// assert_eq!(rx.recv_many(&mut buf, 3).await, Ok(3));
    /// assert_eq!(rx.recv_many(&mut buf, 3).await, Ok(1));
    /// assert_eq!(buf, [2, 3, 4, 5]);
    /// assert_eq!(rx.recv_many(&mut buf, 3).await, Err(RecvError::Closed));
    /// # Ok(())
    /// # }
    /// ```
    fn recv_many(
        &mut self,
        buf: &mut Vec<T>,
        max: usize,
    ) -> impl Future<Output = Result<usize, RecvError>> + Send
    where
        T: Send,
    {
        async move {
            if max == 0 {
                return Ok(0);
            }
            buf.push(self.recv().await?);
            Ok(1)
        }
    }

    /// Appends the messages waiting to `buf`, in order, at most `max`,
    /// without waiting. Returns how many it appended.
    ///
    /// As [`recv_many`](Self::recv_many) (the same run, stopping before a
    /// lag or the close, `Ok(0)` for `max == 0`), except that when nothing
    /// is waiting it returns [`TryRecvError::Empty`] instead of waiting. On
    /// a thread outside a runtime, runs are `try_recv_many`, with
    /// [`blocking_recv`](Self::blocking_recv) for the first message after
    /// an `Empty`.
    ///
    /// # Errors
    ///
    /// As [`try_recv`](Self::try_recv), with nothing appended.
    ///
    /// # Panics
    ///
    /// As [`recv_many`](Self::recv_many).
    ///
    /// ```
    /// use ron_bus::reference::ReferenceBus;
    /// use ron_bus::{BusBackend, BusReceiver, TryRecvError};
    ///
    /// let bus = ReferenceBus::with_capacity(8)?;
    /// let mut rx = bus.subscribe();
    /// bus.publish_many([1, 2, 3]);
    /// let mut buf = Vec::new();
    /// assert_eq!(rx.try_recv_many(&mut buf, 64), Ok(3));
    /// assert_eq!(buf, [1, 2, 3]);
    /// assert_eq!(rx.try_recv_many(&mut buf, 64), Err(TryRecvError::Empty));
    /// # Ok::<(), ron_bus::BusError>(())
    /// ```
    fn try_recv_many(&mut self, buf: &mut Vec<T>, max: usize) -> Result<usize, TryRecvError> {
        if max == 0 {
            return Ok(0);
        }
        buf.push(self.try_recv()?);
        Ok(1)
    }

    /// Waits for the next message by blocking the thread: for threads outside
    /// an async runtime (inside one it would stall a worker).
    ///
    /// When nothing is waiting, the thread first yields once, then polls
    /// (spinning) for up to 50 µs, and only then parks until a publish wakes
    /// it. A wait therefore costs up to 50 µs of CPU, and a message that
    /// arrives within that window is seen within a poll instead of after a
    /// thread wake-up.
    ///
    /// # Errors
    ///
    /// As [`recv`](Self::recv).
    fn blocking_recv(&mut self) -> Result<T, RecvError> {
        crate::recv_loop::blocking_recv(self)
    }

    /// The interest mask this subscriber was created with.
    fn interest(&self) -> u64;

    /// This subscriber as a [`Stream`](futures_core::Stream) of
    /// `Result<T, Lagged>` (feature `stream`): see [`BusStream`](crate::BusStream).
    #[cfg(feature = "stream")]
    fn into_stream(self) -> crate::BusStream<T, Self>
    where
        Self: Sized,
        T: Clone + Send + Sync + 'static,
    {
        crate::BusStream::new(self)
    }
}
