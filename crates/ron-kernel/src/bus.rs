//! The kernel bus: [`KernelEvent`]s over a backend chosen at construction:
//! the SoA ring by default, tokio's broadcast channel on request
//! ([`Bus::with_backend`]).
//!
//! The contract (lagging, closing, interest masks, wake-ups) is `ron-bus`'s;
//! see [`ron_bus`] for it and for generic code over any backend.

use std::sync::Arc;

pub use ron_bus::{
    ALL_TOPICS, BusBackend, BusError, BusReceiver, BusStats, BusStatsSnapshot, RecvError,
    TryRecvError, autotune_capacity,
};
#[cfg(feature = "stream")]
pub use ron_bus::{BusStream, Lagged};
use ron_bus_classic::{ClassicBus, ClassicReceiver};
use ron_bus_soa::{SoaBus, SoaReceiver};

/// Compatibility path: `ron_kernel::bus::KernelEvent` keeps working.
pub use crate::events::KernelEvent;

/// Which implementation carries a [`Bus`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Backend {
    /// The lock-free structure-of-arrays ring (crate `ron-bus-soa`).
    #[default]
    Soa,
    /// `tokio::sync::broadcast` (crate `ron-bus-classic`).
    Classic,
}

/// The kernel's bus of [`KernelEvent`]s. Cloning gives another publisher
/// handle; the bus closes when the last one drops.
///
/// Each event is published on its own [topic](KernelEvent::topic), so a
/// subscriber can listen to some kinds only with
/// [`subscribe_with_interest`](Self::subscribe_with_interest).
///
/// # Example
///
/// ```
/// use ron_kernel::bus::Bus;
/// use ron_kernel::KernelEvent;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let bus = Bus::new(64)?;
/// let mut rx = bus.subscribe();
/// assert_eq!(bus.publish(KernelEvent::health("api", true)), 1);
/// assert_eq!(rx.recv().await?, KernelEvent::health("api", true));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Bus {
    inner: Inner,
}

#[derive(Debug, Clone)]
enum Inner {
    Soa(SoaBus<KernelEvent>),
    Classic(ClassicBus<KernelEvent>),
}

/// A subscriber of a [`Bus`].
#[derive(Debug)]
pub struct Subscriber {
    inner: SubscriberInner,
}

#[derive(Debug)]
enum SubscriberInner {
    Soa(SoaReceiver<KernelEvent>),
    Classic(ClassicReceiver<KernelEvent>),
}

impl Bus {
    /// A bus on the default backend retaining `capacity` events per
    /// subscriber (rounded up to a power of two; see [`autotune_capacity`]).
    ///
    /// # Errors
    ///
    /// [`BusError`] for a capacity of 0 or above the maximum.
    pub fn new(capacity: usize) -> Result<Self, BusError> {
        Self::with_backend(Backend::default(), capacity)
    }

    /// A bus on a chosen backend.
    ///
    /// # Errors
    ///
    /// As [`Bus::new`].
    pub fn with_backend(backend: Backend, capacity: usize) -> Result<Self, BusError> {
        match backend {
            Backend::Soa => Ok(Self {
                inner: Inner::Soa(SoaBus::with_capacity(capacity)?),
            }),
            Backend::Classic => Ok(Self {
                inner: Inner::Classic(ClassicBus::with_capacity(capacity)?),
            }),
        }
    }

    /// The backend carrying this bus.
    pub fn backend(&self) -> Backend {
        match self.inner {
            Inner::Soa(_) => Backend::Soa,
            Inner::Classic(_) => Backend::Classic,
        }
    }

    /// Publishes `event` on its topic; never blocks. Returns how many
    /// subscribers will see it.
    pub fn publish(&self, event: KernelEvent) -> usize {
        BusBackend::publish(self, event)
    }

    /// Publishes every event in order, each on its own topic as
    /// [`publish`](Self::publish) would, with one wake-up sweep. Returns the
    /// sum of what each `publish` would have returned.
    ///
    /// ```
    /// use ron_kernel::bus::Bus;
    /// use ron_kernel::KernelEvent;
    ///
    /// let bus = Bus::new(64)?;
    /// let mut crashes = bus.subscribe_with_interest(KernelEvent::SERVICE_CRASHED);
    /// let crash = KernelEvent::ServiceCrashed { service: "db".into(), reason: "oom".into() };
    /// bus.publish_many([KernelEvent::health("db", false), crash.clone()]);
    /// assert_eq!(crashes.try_recv(), Ok(crash)); // the health event is not for it
    /// assert!(crashes.try_recv().is_err());
    /// # Ok::<(), ron_kernel::bus::BusError>(())
    /// ```
    pub fn publish_many<I: IntoIterator<Item = KernelEvent>>(&self, events: I) -> usize {
        BusBackend::publish_many(self, events)
    }

    /// A subscriber to every event published from now on.
    pub fn subscribe(&self) -> Subscriber {
        BusBackend::subscribe(self)
    }

    /// A subscriber to the events whose [topic](KernelEvent::topic) is in
    /// `mask`, e.g. `KernelEvent::HEALTH | KernelEvent::SHUTDOWN`.
    pub fn subscribe_with_interest(&self, mask: u64) -> Subscriber {
        BusBackend::subscribe_with_interest(self, mask)
    }

    /// Subscribers alive now.
    pub fn receiver_count(&self) -> usize {
        BusBackend::receiver_count(self)
    }

    /// The bus's statistics.
    pub fn stats(&self) -> &Arc<BusStats> {
        BusBackend::stats(self)
    }

    /// Events retained per subscriber.
    pub fn capacity(&self) -> usize {
        BusBackend::capacity(self)
    }
}

impl BusBackend<KernelEvent> for Bus {
    type Receiver = Subscriber;

    fn with_capacity(capacity: usize) -> Result<Self, BusError> {
        Self::new(capacity)
    }

    /// Publishes on the event's own topic: full-mask subscribers see every
    /// event, narrower ones the kinds they asked for.
    fn publish(&self, event: KernelEvent) -> usize {
        self.publish_topic(event.topic(), event)
    }

    fn publish_topic(&self, topic: u64, event: KernelEvent) -> usize {
        match &self.inner {
            Inner::Soa(bus) => bus.publish_topic(topic, event),
            Inner::Classic(bus) => bus.publish_topic(topic, event),
        }
    }

    /// Publishes each event on its own topic, as [`publish`](Self::publish) does.
    fn publish_many<I: IntoIterator<Item = KernelEvent>>(&self, events: I) -> usize {
        self.publish_many_topic(events.into_iter().map(|event| (event.topic(), event)))
    }

    fn publish_many_topic<I: IntoIterator<Item = (u64, KernelEvent)>>(&self, batch: I) -> usize {
        match &self.inner {
            Inner::Soa(bus) => bus.publish_many_topic(batch),
            Inner::Classic(bus) => bus.publish_many_topic(batch),
        }
    }

    fn subscribe(&self) -> Subscriber {
        self.subscribe_with_interest(ALL_TOPICS)
    }

    fn subscribe_with_interest(&self, mask: u64) -> Subscriber {
        let inner = match &self.inner {
            Inner::Soa(bus) => SubscriberInner::Soa(bus.subscribe_with_interest(mask)),
            Inner::Classic(bus) => SubscriberInner::Classic(bus.subscribe_with_interest(mask)),
        };
        Subscriber { inner }
    }

    fn receiver_count(&self) -> usize {
        match &self.inner {
            Inner::Soa(bus) => bus.receiver_count(),
            Inner::Classic(bus) => bus.receiver_count(),
        }
    }

    fn stats(&self) -> &Arc<BusStats> {
        match &self.inner {
            Inner::Soa(bus) => bus.stats(),
            Inner::Classic(bus) => bus.stats(),
        }
    }

    fn capacity(&self) -> usize {
        match &self.inner {
            Inner::Soa(bus) => bus.capacity(),
            Inner::Classic(bus) => bus.capacity(),
        }
    }
}

impl Subscriber {
    /// Waits for the next event (cancel-safe).
    ///
    /// # Errors
    ///
    /// [`RecvError::Lagged`] after losing events, [`RecvError::Closed`] once
    /// the bus is closed and drained.
    pub async fn recv(&mut self) -> Result<KernelEvent, RecvError> {
        BusReceiver::recv(self).await
    }

    /// The next event if one is waiting.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] when none is, otherwise as [`recv`](Self::recv).
    pub fn try_recv(&mut self) -> Result<KernelEvent, TryRecvError> {
        BusReceiver::try_recv(self)
    }

    /// Waits for events and appends a run of them to `buf`: at least one,
    /// at most `max`, every event waiting up to the next lag or the close
    /// (cancel-safe). Returns how many it appended. The events, lag
    /// reports and close are exactly [`recv`](Self::recv)'s, one call per
    /// event: a lag or the close met after some events is reported by the
    /// next call; `max == 0` returns `Ok(0)` at once. See
    /// [`BusReceiver::recv_many`].
    ///
    /// ```
    /// use ron_kernel::bus::Bus;
    /// use ron_kernel::KernelEvent;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let bus = Bus::new(64)?;
    /// let mut rx = bus.subscribe();
    /// bus.publish_many([KernelEvent::health("a", true), KernelEvent::health("b", true)]);
    /// let mut events = Vec::new();
    /// assert_eq!(rx.recv_many(&mut events, 64).await?, 2);
    /// assert_eq!(events[1], KernelEvent::health("b", true));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`recv`](Self::recv), with nothing appended.
    pub async fn recv_many(
        &mut self,
        buf: &mut Vec<KernelEvent>,
        max: usize,
    ) -> Result<usize, RecvError> {
        BusReceiver::recv_many(self, buf, max).await
    }

    /// Appends the events waiting to `buf`, at most `max`, without
    /// waiting: as [`recv_many`](Self::recv_many), or
    /// [`TryRecvError::Empty`] when none is.
    ///
    /// # Errors
    ///
    /// As [`try_recv`](Self::try_recv), with nothing appended.
    pub fn try_recv_many(
        &mut self,
        buf: &mut Vec<KernelEvent>,
        max: usize,
    ) -> Result<usize, TryRecvError> {
        BusReceiver::try_recv_many(self, buf, max)
    }

    /// Waits for the next event by blocking the thread (outside a runtime).
    ///
    /// # Errors
    ///
    /// As [`recv`](Self::recv).
    pub fn blocking_recv(&mut self) -> Result<KernelEvent, RecvError> {
        BusReceiver::blocking_recv(self)
    }

    /// This subscriber as a `futures_core::Stream` of
    /// `Result<KernelEvent, Lagged>` (feature `stream`): each event in
    /// order, [`Lagged`] where it lost events, the end once the bus is
    /// closed and drained. See [`BusStream`].
    ///
    /// ```
    /// use futures_util::StreamExt;
    /// use ron_kernel::bus::Bus;
    /// use ron_kernel::KernelEvent;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let bus = Bus::new(64)?;
    /// let mut healthy = bus
    ///     .subscribe_with_interest(KernelEvent::HEALTH)
    ///     .into_stream()
    ///     .filter_map(|event| std::future::ready(event.ok()));
    /// bus.publish(KernelEvent::health("api", true));
    /// assert_eq!(healthy.next().await, Some(KernelEvent::health("api", true)));
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "stream")]
    pub fn into_stream(self) -> EventStream {
        BusStream::new(self)
    }
}

/// A [`Subscriber`] as a `futures_core::Stream` (feature `stream`).
#[cfg(feature = "stream")]
pub type EventStream = BusStream<KernelEvent, Subscriber>;

impl BusReceiver<KernelEvent> for Subscriber {
    async fn recv(&mut self) -> Result<KernelEvent, RecvError> {
        match &mut self.inner {
            SubscriberInner::Soa(rx) => rx.recv().await,
            SubscriberInner::Classic(rx) => rx.recv().await,
        }
    }

    fn try_recv(&mut self) -> Result<KernelEvent, TryRecvError> {
        match &mut self.inner {
            SubscriberInner::Soa(rx) => rx.try_recv(),
            SubscriberInner::Classic(rx) => rx.try_recv(),
        }
    }

    async fn recv_many(
        &mut self,
        buf: &mut Vec<KernelEvent>,
        max: usize,
    ) -> Result<usize, RecvError> {
        match &mut self.inner {
            SubscriberInner::Soa(rx) => rx.recv_many(buf, max).await,
            SubscriberInner::Classic(rx) => rx.recv_many(buf, max).await,
        }
    }

    fn try_recv_many(
        &mut self,
        buf: &mut Vec<KernelEvent>,
        max: usize,
    ) -> Result<usize, TryRecvError> {
        match &mut self.inner {
            SubscriberInner::Soa(rx) => rx.try_recv_many(buf, max),
            SubscriberInner::Classic(rx) => rx.try_recv_many(buf, max),
        }
    }

    fn interest(&self) -> u64 {
        match &self.inner {
            SubscriberInner::Soa(rx) => rx.interest(),
            SubscriberInner::Classic(rx) => rx.interest(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events_route_by_topic_on(backend: Backend) {
        let bus = Bus::with_backend(backend, 8).unwrap();
        assert_eq!(bus.backend(), backend);
        let mut all = bus.subscribe();
        let mut crashes = bus.subscribe_with_interest(KernelEvent::SERVICE_CRASHED);
        assert_eq!(bus.publish(KernelEvent::health("a", true)), 1);
        let crash = KernelEvent::ServiceCrashed {
            service: "a".into(),
            reason: "boom".into(),
        };
        assert_eq!(bus.publish(crash.clone()), 2);
        assert_eq!(all.try_recv(), Ok(KernelEvent::health("a", true)));
        assert_eq!(all.try_recv(), Ok(crash.clone()));
        assert_eq!(crashes.try_recv(), Ok(crash));
        assert_eq!(crashes.try_recv(), Err(TryRecvError::Empty));
        assert_eq!(bus.receiver_count(), 2);
        drop(bus);
        assert_eq!(all.try_recv(), Err(TryRecvError::Closed));
    }

    #[test]
    fn events_route_by_topic_on_every_backend() {
        events_route_by_topic_on(Backend::Soa);
        events_route_by_topic_on(Backend::Classic);
    }

    /// The facade's batched receive is its backend's: the whole run, the
    /// lag before it, the close after it.
    fn recv_many_takes_the_run_on(backend: Backend) {
        let bus = Bus::with_backend(backend, 4).unwrap();
        let mut rx = bus.subscribe();
        let events: Vec<KernelEvent> = (0..6)
            .map(|i| KernelEvent::health(&format!("svc{i}"), true))
            .collect();
        bus.publish_many(events.clone());
        let mut got = Vec::new();
        assert_eq!(rx.try_recv_many(&mut got, 64), Err(TryRecvError::Lagged(2)));
        assert_eq!(rx.try_recv_many(&mut got, 3), Ok(3));
        bus.publish(events[0].clone());
        drop(bus);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            assert_eq!(rx.recv_many(&mut got, 0).await, Ok(0));
            assert_eq!(rx.recv_many(&mut got, 64).await, Ok(2));
            assert_eq!(rx.recv_many(&mut got, 64).await, Err(RecvError::Closed));
        });
        let mut want = events[2..].to_vec();
        want.push(events[0].clone());
        assert_eq!(got, want);
    }

    #[test]
    fn recv_many_takes_the_run_on_every_backend() {
        recv_many_takes_the_run_on(Backend::Soa);
        recv_many_takes_the_run_on(Backend::Classic);
    }

    #[test]
    fn the_default_backend_is_the_soa_ring() {
        assert_eq!(Bus::new(8).unwrap().backend(), Backend::Soa);
    }
}
