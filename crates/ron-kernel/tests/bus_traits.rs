//! The facade's bus through `ron-bus`'s traits: generic code written for
//! any `BusBackend<KernelEvent>` (the NATS bridge is such code) takes the
//! kernel's `Bus` and its `Subscriber`, on every backend, with the same
//! topic routing, interest masks, lag and close as the inherent methods.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ron_bus_soa::SoaBus;
use ron_kernel::KernelEvent;
use ron_kernel::bus::{
    ALL_TOPICS, Backend, Bus, BusBackend, BusReceiver, RecvError, Subscriber, TryRecvError,
};

fn crash(service: &str) -> KernelEvent {
    KernelEvent::ServiceCrashed {
        service: service.into(),
        reason: "boom".into(),
    }
}

/// What a bridge does with a local bus, in two generic halves: subscribe
/// with an interest mask (keeping no publisher handle, so the local bus
/// still closes when its owner drops it) ...
fn export_subscriber<L: BusBackend<KernelEvent>>(local: &L, mask: u64) -> L::Receiver {
    let rx = local.subscribe_with_interest(mask);
    assert_eq!(BusReceiver::interest(&rx), mask);
    rx
}

/// ... then copy every event received, on the event's own topic, to
/// another bus until the local bus closes. Nothing here names the kernel's
/// bus types.
async fn pump<Rx, R>(mut rx: Rx, remote: R)
where
    Rx: BusReceiver<KernelEvent>,
    R: BusBackend<KernelEvent>,
{
    loop {
        match rx.recv().await {
            Ok(event) => {
                remote.publish_topic(event.topic(), event);
            }
            Err(RecvError::Lagged(lost)) => panic!("pump lagged by {lost}"),
            Err(RecvError::Closed) => return,
        }
    }
}

/// Generic publishing: the kernel bus's trait `publish` routes by the
/// event's topic, as its inherent `publish` does.
fn publish_all<B: BusBackend<KernelEvent>>(bus: &B, events: &[KernelEvent]) -> usize {
    events.iter().map(|e| bus.publish(e.clone())).sum()
}

/// Generic receiving until `Empty` or `Closed`.
fn drain<R: BusReceiver<KernelEvent>>(rx: &mut R) -> (Vec<KernelEvent>, bool) {
    let mut got = Vec::new();
    loop {
        match rx.try_recv() {
            Ok(event) => got.push(event),
            Err(TryRecvError::Empty) => return (got, false),
            Err(TryRecvError::Closed) => return (got, true),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
}

fn the_bus_works_through_the_traits_on(backend: Backend) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let bus = Bus::with_backend(backend, 8).unwrap();
        let remote = SoaBus::<KernelEvent>::with_capacity(8).unwrap();
        let mut remote_rx = remote.subscribe();
        let mut generic_everything: Subscriber = BusBackend::subscribe(&bus);

        let rx = export_subscriber(&bus, KernelEvent::SERVICE_CRASHED | KernelEvent::SHUTDOWN);
        let pumping = tokio::spawn(pump(rx, remote));
        assert_eq!(BusBackend::receiver_count(&bus), 2);

        let events = [
            KernelEvent::health("a", true),
            crash("a"),
            KernelEvent::health("b", false),
            KernelEvent::Shutdown,
        ];
        // Health reaches the full-mask subscriber only; the crash and the
        // shutdown also the pump's narrow one.
        assert_eq!(publish_all(&bus, &events), 4 + 2, "{backend:?}");
        // The inherent and trait paths are the same bus.
        assert_eq!(BusBackend::capacity(&bus), bus.capacity());
        assert_eq!(BusBackend::stats(&bus).snapshot().published, 4);

        // The last publisher handles go: the pump sees `Closed` and ends,
        // dropping the remote bus.
        drop(bus);
        pumping.await.unwrap();
        let (got, closed) = drain(&mut generic_everything);
        assert_eq!(got, events, "{backend:?}");
        assert!(closed, "{backend:?}: the subscriber did not see the close");
        let (forwarded, closed) = drain(&mut remote_rx);
        assert_eq!(
            forwarded,
            vec![crash("a"), KernelEvent::Shutdown],
            "{backend:?}: the pump forwarded events outside its mask"
        );
        assert!(closed, "{backend:?}");
    });
}

#[test]
fn the_bus_works_through_the_traits_on_every_backend() {
    the_bus_works_through_the_traits_on(Backend::Soa);
    the_bus_works_through_the_traits_on(Backend::Classic);
}

/// The trait constructor is the facade's default backend.
#[test]
fn with_capacity_through_the_trait_is_the_default_backend() {
    let bus = <Bus as BusBackend<KernelEvent>>::with_capacity(8).unwrap();
    assert_eq!(bus.backend(), Backend::Soa);
    let rx: Subscriber = BusBackend::subscribe_with_interest(&bus, ALL_TOPICS);
    assert_eq!(BusReceiver::interest(&rx), ALL_TOPICS);
}
