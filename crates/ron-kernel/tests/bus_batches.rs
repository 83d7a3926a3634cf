//! Batches on the facade's bus respect interest masks exactly as single
//! publishes do, on every backend: each event of a `publish_many` goes out
//! on its own topic.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ron_kernel::KernelEvent;
use ron_kernel::bus::{Backend, Bus, Subscriber, TryRecvError};

fn crash(service: &str) -> KernelEvent {
    KernelEvent::ServiceCrashed {
        service: service.into(),
        reason: "boom".into(),
    }
}

/// Receives until `Empty`.
fn drain(rx: &mut Subscriber) -> Vec<KernelEvent> {
    let mut got = Vec::new();
    loop {
        match rx.try_recv() {
            Ok(event) => got.push(event),
            Err(TryRecvError::Empty) => return got,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
}

fn batched_health_events_skip_a_crash_subscriber_on(backend: Backend) {
    let bus = Bus::with_backend(backend, 8).unwrap();
    let mut everything = bus.subscribe();
    let mut crashes = bus.subscribe_with_interest(KernelEvent::SERVICE_CRASHED);
    let batch = vec![
        KernelEvent::health("a", true),
        crash("a"),
        KernelEvent::health("b", false),
        KernelEvent::Shutdown,
        crash("b"),
    ];
    // Each event reaches the full-mask subscriber, the crashes also the
    // narrow one: what five single publishes would return.
    assert_eq!(bus.publish_many(batch.clone()), 5 + 2, "{backend:?}");
    assert_eq!(drain(&mut everything), batch, "{backend:?}");
    assert_eq!(
        drain(&mut crashes),
        vec![crash("a"), crash("b")],
        "{backend:?}: a crash subscriber got batched events of other kinds"
    );
}

#[test]
fn batched_health_events_skip_a_crash_subscriber_on_every_backend() {
    batched_health_events_skip_a_crash_subscriber_on(Backend::Soa);
    batched_health_events_skip_a_crash_subscriber_on(Backend::Classic);
}

/// With no subscriber for a batch's kinds, the batch reaches nobody and
/// every event counts as unheard, as single publishes would.
fn a_batch_outside_every_interest_reaches_nobody_on(backend: Backend) {
    let bus = Bus::with_backend(backend, 8).unwrap();
    let mut crashes = bus.subscribe_with_interest(KernelEvent::SERVICE_CRASHED);
    let health: Vec<_> = (0..20)
        .map(|i| KernelEvent::health(&format!("svc{i}"), true))
        .collect();
    assert_eq!(bus.publish_many(health), 0, "{backend:?}");
    assert_eq!(drain(&mut crashes), vec![], "{backend:?}");
    let stats = bus.stats().snapshot();
    assert_eq!(
        (stats.published, stats.no_receivers),
        (20, 20),
        "{backend:?}"
    );
    assert_eq!(stats.receiver_lag, 0, "{backend:?}");
}

#[test]
fn a_batch_outside_every_interest_reaches_nobody_on_every_backend() {
    a_batch_outside_every_interest_reaches_nobody_on(Backend::Soa);
    a_batch_outside_every_interest_reaches_nobody_on(Backend::Classic);
}
