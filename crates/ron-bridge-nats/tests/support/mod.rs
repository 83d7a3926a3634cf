//! A real `nats-server` per test, on a free loopback port, killed on drop.

#![allow(dead_code)] // each test file uses its own part of the kit

use std::time::Duration;

/// Longest any wait in these tests lasts before failing (the ping test
/// needs about 15 s: three 5 s ping intervals).
pub const WAIT: Duration = Duration::from_secs(30);

/// The workspace's one `nats-server` harness (free loopback port, kill,
/// restart on the same port, SIGSTOP/SIGCONT), from `ron-benches`.
pub use ron_benches::nats::NatsServer;

/// Polls `done` every 10 ms until it holds, failing after [`WAIT`].
pub async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {WAIT:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

use std::sync::Arc;

use ron_bridge_nats::{Bridge, BridgeMetrics, BridgeOptions, Remote, Topics};
use ron_bus::reference::ReferenceBus;
use ron_bus::{BusBackend, BusReceiver, TryRecvError};
use ron_health::HealthState;
use ron_supervisor::Backoff;
use serde::{Deserialize, Serialize};

pub const TICK: u64 = 1 << 0;
pub const CRASH: u64 = 1 << 1;

/// A test event: two named topics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Ev {
    Tick(u64),
    Crash(String),
}

pub fn topics() -> Topics<Ev> {
    Topics::new(
        |e: &Ev| match e {
            Ev::Tick(_) => TICK,
            Ev::Crash(_) => CRASH,
        },
        &[(TICK, "tick"), (CRASH, "crash")],
    )
    .expect("valid topics")
}

pub fn options(url: &str, node: &str) -> BridgeOptions {
    let mut options = BridgeOptions::new(url, "test", node);
    // Fast retries: a restarted server is found again within a second.
    options.backoff = Backoff::new(Duration::from_millis(20), Duration::from_millis(300));
    options
}

/// One kernel's side: its local bus, its import bus and the bridge between
/// them and NATS.
pub struct Node {
    pub name: &'static str,
    pub local: ReferenceBus<Ev>,
    pub remote: ReferenceBus<Remote<Ev>>,
    pub inbox: <ReferenceBus<Remote<Ev>> as BusBackend<Remote<Ev>>>::Receiver,
    pub metrics: BridgeMetrics,
    pub registry: prometheus::Registry,
    pub health: Arc<HealthState>,
    pub bridge: Option<Bridge>,
}

impl Node {
    pub fn start(options: BridgeOptions) -> Self {
        Self::start_with_capacity(options, 1 << 16)
    }

    /// [`start`](Self::start) with a local bus of `capacity` events.
    pub fn start_with_capacity(options: BridgeOptions, capacity: usize) -> Self {
        let name: &'static str = Box::leak(options.node.clone().into_boxed_str());
        let local = ReferenceBus::with_capacity(capacity).expect("bus");
        let remote = ReferenceBus::with_capacity(1 << 16).expect("bus");
        let inbox = remote.subscribe();
        let registry = prometheus::Registry::new();
        let metrics = BridgeMetrics::register(&registry).expect("register");
        let health = Arc::new(HealthState::new());
        let bridge = Bridge::start(
            options,
            topics(),
            &local,
            &remote,
            metrics.clone(),
            Some(Arc::clone(&health)),
        )
        .expect("bridge starts");
        Self {
            name,
            local,
            remote,
            inbox,
            metrics,
            registry,
            health,
            bridge: Some(bridge),
        }
    }

    pub fn bridge(&self) -> &Bridge {
        self.bridge.as_ref().expect("running")
    }

    pub async fn connected(&self) {
        wait_until(&format!("{} connected", self.name), || {
            self.bridge().is_connected()
        })
        .await;
    }

    /// Every remote event waiting now, probes left out.
    pub fn drain(&mut self) -> Vec<Remote<Ev>> {
        let mut out = Vec::new();
        loop {
            match self.inbox.try_recv() {
                Ok(remote) if remote.event == Ev::Crash("probe".into()) => {}
                Ok(remote) => out.push(remote),
                Err(TryRecvError::Empty) => return out,
                Err(other) => panic!("import bus: {other:?}"),
            }
        }
    }

    /// Waits for the next remote event that is not a probe.
    pub async fn next(&mut self) -> Remote<Ev> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let remote = tokio::time::timeout_at(deadline, self.inbox.recv())
                .await
                .unwrap_or_else(|_| panic!("{}: no remote event within {WAIT:?}", self.name))
                .expect("import bus open");
            if remote.event != Ev::Crash("probe".into()) {
                return remote;
            }
        }
    }
}

/// Publishes probes (crash "probe") on `from` every 50 ms until `to` has
/// imported one of them from `from`: the subscriptions are on the server
/// and the flow works. Returns how many probes `from` published.
/// Nodes `a` and `b` of `server`, both connected, events flowing from `a`
/// to `b`.
pub async fn connected_pair(server: &NatsServer) -> (Node, Node) {
    let a = Node::start(options(&server.url(), "a"));
    let mut b = Node::start(options(&server.url(), "b"));
    a.connected().await;
    b.connected().await;
    wait_flow(&a, &mut b).await;
    (a, b)
}

pub async fn wait_flow(from: &Node, to: &mut Node) -> u64 {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut sent = 0;
    loop {
        from.local.publish_topic(CRASH, Ev::Crash("probe".into()));
        sent += 1;
        let until = tokio::time::Instant::now() + Duration::from_millis(50);
        while let Ok(Ok(remote)) = tokio::time::timeout_at(until, to.inbox.recv()).await {
            if &*remote.node == from.name && remote.event == Ev::Crash("probe".into()) {
                return sent;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no flow from {} to {} within {WAIT:?}",
            from.name,
            to.name
        );
    }
}
