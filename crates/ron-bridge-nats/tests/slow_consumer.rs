//! A slow import bus: the client's subscription queue overflows, the client
//! reports slow consumers and the bridge counts them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use ron_bridge_nats::{Bridge, BridgeMetrics, Remote};
use ron_bus::reference::{ReferenceBus, ReferenceReceiver};
use ron_bus::{BusBackend, BusError, BusStats};
use support::{NatsServer, options, topics, wait_until};

/// Incoming messages flooded at the bridge: more than its subscription
/// queue holds (8192, one queue for every imported topic).
const FLOOD: usize = 20_000;
/// An import bus that, while `stalled`, blocks the importing task inside
/// its publish: the test double of a consumer that cannot keep up.
#[derive(Debug, Clone)]
struct SlowBus {
    inner: ReferenceBus<Remote<support::Ev>>,
    stalled: Arc<AtomicBool>,
}

impl SlowBus {
    fn stall(&self) {
        let deadline = std::time::Instant::now() + support::WAIT;
        while self.stalled.load(Ordering::Acquire) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

impl BusBackend<Remote<support::Ev>> for SlowBus {
    type Receiver = ReferenceReceiver<Remote<support::Ev>>;

    fn with_capacity(capacity: usize) -> Result<Self, BusError> {
        Ok(Self {
            inner: ReferenceBus::with_capacity(capacity)?,
            stalled: Arc::new(AtomicBool::new(false)),
        })
    }
    fn publish(&self, msg: Remote<support::Ev>) -> usize {
        self.stall();
        self.inner.publish(msg)
    }
    fn publish_topic(&self, topic: u64, msg: Remote<support::Ev>) -> usize {
        self.stall();
        self.inner.publish_topic(topic, msg)
    }
    fn publish_many_topic<I>(&self, batch: I) -> usize
    where
        I: IntoIterator<Item = (u64, Remote<support::Ev>)>,
    {
        self.stall();
        self.inner.publish_many_topic(batch)
    }
    fn subscribe(&self) -> Self::Receiver {
        self.inner.subscribe()
    }
    fn subscribe_with_interest(&self, mask: u64) -> Self::Receiver {
        self.inner.subscribe_with_interest(mask)
    }
    fn receiver_count(&self) -> usize {
        self.inner.receiver_count()
    }
    fn stats(&self) -> &Arc<BusStats> {
        self.inner.stats()
    }
    fn capacity(&self) -> usize {
        self.inner.capacity()
    }
}

// Three workers: the stalled import task blocks one (std sleep inside the
// bus's publish), the client's connection task and the test need the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn a_slow_import_bus_makes_slow_consumer_drops_that_are_counted() {
    let server = NatsServer::start().expect("nats-server");
    let local = ReferenceBus::<support::Ev>::with_capacity(64).unwrap();
    let remote = SlowBus::with_capacity(1 << 15).unwrap();
    let registry = prometheus::Registry::new();
    let metrics = BridgeMetrics::register(&registry).unwrap();
    let bridge = Bridge::start(
        options(&server.url(), "a"),
        topics(),
        &local,
        &remote,
        metrics.clone(),
        None,
    )
    .unwrap();
    wait_until("connected", || bridge.is_connected()).await;

    let raw = async_nats::connect(server.url()).await.unwrap();
    let payload = Bytes::from_static(br#"{"v":1,"node":"z","topic":"tick","event":{"Tick":1}}"#);
    // Until the bridge's subscription is on the server, a message is simply
    // not delivered: flood only once one got through.
    let probes = wait_until_imported(&raw, &payload, &metrics).await;
    // From here the import task blocks at its next publish until released:
    // the flood piles up in the client's subscription queue and overflows.
    remote.stalled.store(true, Ordering::Release);
    for _ in 0..FLOOD {
        raw.publish("ron.test.z.tick", payload.clone())
            .await
            .unwrap();
    }
    raw.flush().await.unwrap();

    wait_until("slow consumer drops counted", || {
        metrics.dropped("slow_consumer") > 0
    })
    .await;
    remote.stalled.store(false, Ordering::Release);
    // What the subscription queue held is imported once the bus is fast
    // again (the client reports each drop, though its event queue loses
    // reports in a burst: until the subscription is idle, the drop count is
    // a lower bound).
    wait_until("the queued messages imported", || {
        metrics.imported() >= 8192
    })
    .await;
    assert!(metrics.imported() < FLOOD as u64, "some were dropped");
    // Once the subscription is idle, the drops are reconciled with what the
    // client received: every message imported or counted, none twice.
    let sent = probes + FLOOD as u64;
    wait_until("every message imported or dropped", || {
        metrics.imported() + metrics.dropped("slow_consumer") == sent
    })
    .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        metrics.imported() + metrics.dropped("slow_consumer"),
        sent,
        "counted twice"
    );
    assert_eq!(metrics.dropped("malformed"), 0);
    bridge.shutdown().await;
}

/// Publishes `payload` every 20 ms until one was imported; how many were
/// published.
async fn wait_until_imported(
    raw: &async_nats::Client,
    payload: &Bytes,
    metrics: &BridgeMetrics,
) -> u64 {
    let deadline = tokio::time::Instant::now() + support::WAIT;
    let mut sent = 0;
    while metrics.imported() == 0 {
        assert!(tokio::time::Instant::now() < deadline, "nothing imported");
        raw.publish("ron.test.z.tick", payload.clone())
            .await
            .unwrap();
        sent += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sent
}
