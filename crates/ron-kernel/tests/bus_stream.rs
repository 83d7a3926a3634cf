//! A facade subscriber as a `Stream` (feature `stream`), on every backend:
//! `StreamExt` combinators see the events in order, lag as `Lagged(n)`
//! items, and the end of the stream when the bus closes.

#![cfg(feature = "stream")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use futures_util::StreamExt;
use ron_kernel::KernelEvent;
use ron_kernel::bus::{Backend, Bus, Lagged};

/// Liveness bound for a wait; never a performance claim.
const PATIENCE: Duration = Duration::from_secs(10);

fn crash(service: &str) -> KernelEvent {
    KernelEvent::ServiceCrashed {
        service: service.into(),
        reason: "boom".into(),
    }
}

async fn combinators_see_events_lag_and_the_end_on(backend: Backend) {
    let bus = Bus::with_backend(backend, 4).unwrap();
    let items = bus.subscribe().into_stream();
    let crashes = bus
        .subscribe_with_interest(KernelEvent::SERVICE_CRASHED)
        .into_stream();
    // Six events into a capacity of 4: the full subscriber loses two.
    for i in 0..5 {
        bus.publish(KernelEvent::health(&format!("svc{i}"), true));
    }
    bus.publish(crash("db"));
    // A reader parked on the stream before the last events is woken.
    let late = bus.subscribe().into_stream();
    let reader = tokio::spawn(late.take(2).collect::<Vec<_>>());
    tokio::task::yield_now().await;
    bus.publish(KernelEvent::ConfigUpdated { version: 7 });
    bus.publish(KernelEvent::Shutdown);
    drop(bus);

    let got: Vec<Result<KernelEvent, Lagged>> = items.collect().await;
    let mut expected = vec![Err(Lagged(4))];
    expected.extend([
        Ok(KernelEvent::health("svc4", true)),
        Ok(crash("db")),
        Ok(KernelEvent::ConfigUpdated { version: 7 }),
        Ok(KernelEvent::Shutdown),
    ]);
    assert_eq!(got, expected, "{backend:?}");

    let services: Vec<String> = crashes
        .filter_map(|item| async move { item.ok() })
        .map(|event| match event {
            KernelEvent::ServiceCrashed { service, .. } => service.to_string(),
            other => panic!("not a crash: {other:?}"),
        })
        .collect()
        .await;
    assert_eq!(services, ["db"], "{backend:?}");

    let late = tokio::time::timeout(PATIENCE, reader)
        .await
        .expect("the parked stream was woken")
        .unwrap();
    assert_eq!(
        late,
        [
            Ok(KernelEvent::ConfigUpdated { version: 7 }),
            Ok(KernelEvent::Shutdown)
        ],
        "{backend:?}"
    );
}

#[tokio::test]
async fn stream_combinators_see_events_lag_and_the_end_on_every_backend() {
    combinators_see_events_lag_and_the_end_on(Backend::Soa).await;
    combinators_see_events_lag_and_the_end_on(Backend::Classic).await;
}
