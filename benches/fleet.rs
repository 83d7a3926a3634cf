//! Across processes: bus events from one publisher node to two subscriber
//! nodes through one local `nats-server` (a real one, on a free loopback
//! port), with the `ron-bridge-nats` bridge, measured side by side with
//! raw `async-nats` in one run.
//!
//! Three nodes in this process, each its own SoA bus and its own bridge
//! with its own NATS connection, so every event leaves through a socket,
//! crosses the server process and comes back through two others: P exports
//! its bus, A and B import everything P exports.
//!
//! * throughput: P's bus holds a burst of 50,000 events (a `service`
//!   string and two integers, JSON about 90 bytes on the wire); the
//!   bridge's export rate is events handed to the client per second, until
//!   its counters account for the whole burst. Beside it, one task of a
//!   raw `async-nats` client publishes the same events, already encoded the
//!   bridge's way, on the same subject: the transport alone. Then the rate
//!   at which A and B received them (events/s per subscriber node) and any
//!   they lost (NATS core is lossy: a slow consumer loses).
//! * latency: P publishes 5,000 events/s for a second, sleeping between
//!   messages; p50/p99 of publish (on P's bus) to delivery (on A's and B's
//!   import buses), one clock for all three.
//!
//! Each round runs raw and bridge back to back, in alternating order; the
//! table gives medians over the rounds, and the gate's ratio (bridge export
//! rate over raw) is the median of the rounds' ratios.
//!
//! ```text
//! cargo bench -p ron-benches --bench fleet            # 5 rounds
//! cargo bench -p ron-benches --bench fleet -- --rounds 9
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use ron_benches::async_harness::sleep_paced;
use ron_benches::cli::BenchArgs;
use ron_benches::harness::now_ns;
use ron_benches::nats::NatsServer;
use ron_benches::{median, percentile};
use ron_bridge_nats::{Bridge, BridgeMetrics, BridgeOptions, Remote, Topics, envelope};
use ron_bus::{BusBackend, BusReceiver, RecvError};
use ron_bus_soa::SoaBus;
use serde::{Deserialize, Serialize};

const CLUSTER: &str = "bench";
const PROBE: u64 = 1;
/// Events per second of the latency run.
const PACED_RATE: f64 = 5_000.0;
/// Longest any wait for counters lasts.
const WAIT: Duration = Duration::from_secs(20);

/// A `ServiceCrashed`-sized event that carries its publish time.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Probe {
    seq: u64,
    sent_ns: u64,
    service: String,
}

impl Probe {
    fn new(seq: u64) -> Self {
        Self {
            seq,
            sent_ns: now_ns(),
            service: "checkout-api".to_owned(),
        }
    }
}

fn topics() -> Topics<Probe> {
    Topics::new(|_| PROBE, &[(PROBE, "probe")]).unwrap()
}

/// One kernel: its bus, its import bus and the bridge between them and NATS.
struct Node {
    local: SoaBus<Probe>,
    remote: SoaBus<Remote<Probe>>,
    metrics: BridgeMetrics,
    bridge: Bridge,
}

impl Node {
    fn start(url: &str, name: &str) -> Self {
        let local = SoaBus::with_capacity(1 << 16).unwrap();
        let remote = SoaBus::with_capacity(1 << 16).unwrap();
        let metrics = BridgeMetrics::register(&prometheus::Registry::new()).unwrap();
        let options = BridgeOptions::new(url, CLUSTER, name);
        let bridge =
            Bridge::start(options, topics(), &local, &remote, metrics.clone(), None).unwrap();
        Self {
            local,
            remote,
            metrics,
            bridge,
        }
    }

    /// Events this node's bridge has accounted for on the export side
    /// (exported, or dropped for an export reason).
    fn exports_settled(&self) -> u64 {
        self.metrics.exported() + self.metrics.dropped_export()
    }
}

/// Polls `f` every 100 µs until it is at least `target`, or stops growing
/// for 300 ms; its last value and when it last grew.
fn wait_for(target: u64, f: impl Fn() -> u64) -> (u64, Instant) {
    let start = Instant::now();
    let (mut last, mut grew) = (f(), Instant::now());
    while last < target && grew.elapsed() < Duration::from_millis(300) {
        assert!(
            start.elapsed() < WAIT,
            "counters stuck at {last} of {target}"
        );
        std::thread::sleep(Duration::from_micros(100));
        let now = f();
        if now != last {
            (last, grew) = (now, Instant::now());
        }
    }
    (last, grew)
}

/// One throughput run's figures.
struct Burst {
    /// Events per second handed to the NATS client.
    sent_per_s: f64,
    /// Events per second received by each subscriber node (mean of A, B).
    received_per_s: f64,
    /// Events a subscriber node lost, of `burst` (mean of A, B).
    lost: f64,
}

/// Imported so far by A and B together.
fn imported(subs: &[Node]) -> u64 {
    subs.iter().map(|n| n.metrics.imported()).sum()
}

/// The raw client's burst: the same events, encoded the bridge's way, on
/// P's subject, published from one task.
fn raw_burst(
    runtime: &tokio::runtime::Runtime,
    client: &async_nats::Client,
    subs: &[Node],
    burst: u64,
) -> Burst {
    let subject = format!("ron.{CLUSTER}.raw.probe");
    let payloads: Vec<Bytes> = (0..burst)
        .map(|i| Bytes::from(envelope::encode("raw", "probe", &Probe::new(i)).unwrap()))
        .collect();
    let before = imported(subs);
    let start = Instant::now();
    runtime.block_on(async {
        for payload in payloads {
            client.publish(subject.clone(), payload).await.unwrap();
        }
    });
    let sent = start.elapsed();
    received(subs, before, burst, start, sent)
}

/// The bridge's burst: `burst` events on P's bus, exported by its bridge.
fn bridge_burst(p: &Node, subs: &[Node], burst: u64) -> Burst {
    let (settled, before) = (p.exports_settled(), imported(subs));
    let exported = p.metrics.exported();
    let start = Instant::now();
    for i in 0..burst {
        p.local.publish(Probe::new(i));
    }
    let (_, done) = wait_for(settled + burst, || p.exports_settled());
    let sent = done - start;
    assert_eq!(
        p.metrics.exported() - exported,
        burst,
        "the bridge dropped part of a burst its bus held: {:?}",
        ron_bridge_nats::EXPORT_REASONS.map(|r| (r, p.metrics.dropped(r)))
    );
    received(subs, before, burst, start, sent)
}

fn received(subs: &[Node], before: u64, burst: u64, start: Instant, sent: Duration) -> Burst {
    let expected = before + burst * subs.len() as u64;
    let (got, done) = wait_for(expected, || imported(subs));
    let per_node = (got - before) as f64 / subs.len() as f64;
    Burst {
        sent_per_s: burst as f64 / sent.as_secs_f64(),
        received_per_s: per_node / (done - start).as_secs_f64(),
        lost: burst as f64 - per_node,
    }
}

/// Latencies (ns) of every delivery to A and B of `seconds` of paced
/// publishing on P, and how many events P published.
fn paced(
    runtime: &tokio::runtime::Runtime,
    p: &Node,
    subs: &[Node],
    seconds: f64,
) -> (Vec<u64>, u64) {
    // Each collector ends once its import bus has been quiet for QUIET.
    const QUIET: Duration = Duration::from_millis(500);
    let collectors: Vec<_> = subs
        .iter()
        .map(|node| {
            let mut rx = node.remote.subscribe();
            runtime.spawn(async move {
                let mut latencies = Vec::new();
                while let Ok(received) = tokio::time::timeout(QUIET, rx.recv()).await {
                    match received {
                        Ok(remote) => {
                            latencies.push(now_ns().saturating_sub(remote.event.sent_ns));
                        }
                        Err(RecvError::Lagged(_)) => {}
                        Err(RecvError::Closed) => break,
                    }
                }
                latencies
            })
        })
        .collect();
    let mut seq = 0;
    let sent = sleep_paced(PACED_RATE, Duration::from_secs_f64(seconds), |_| {
        p.local.publish(Probe::new(seq));
        seq += 1;
    });
    let mut latencies: Vec<u64> = runtime.block_on(async {
        let mut all = Vec::new();
        for collector in collectors {
            all.extend(collector.await.unwrap());
        }
        all
    });
    latencies.sort_unstable();
    (latencies, sent)
}

fn main() {
    let args = BenchArgs::from_env();
    let rounds = args.rounds();
    let (burst, seconds) = match (args.full, args.quick) {
        (true, false) => (50_000, 1.0),
        (true, true) => (10_000, 0.3),
        (false, _) => (500, 0.05),
    };
    let server = NatsServer::start().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let _enter = runtime.enter();
    let p = Node::start(&server.url(), "p");
    let subs = [
        Node::start(&server.url(), "a"),
        Node::start(&server.url(), "b"),
    ];
    let client = runtime.block_on(async_nats::connect(server.url())).unwrap();
    for node in std::iter::once(&p).chain(&subs) {
        wait_for(1, || u64::from(node.bridge.is_connected()));
        assert!(node.bridge.is_connected(), "a bridge did not connect");
    }
    // The import subscriptions are made once connected: give them a
    // moment to reach the server before the first event.
    std::thread::sleep(Duration::from_millis(100));

    let (mut raw, mut bridge, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    let (mut p50, mut p99, mut lost_paced) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        // Alternating order: the VM's drift lands on both.
        let (r, b) = if round % 2 == 0 {
            let r = raw_burst(&runtime, &client, &subs, burst);
            (r, bridge_burst(&p, &subs, burst))
        } else {
            let b = bridge_burst(&p, &subs, burst);
            (raw_burst(&runtime, &client, &subs, burst), b)
        };
        ratio.push(b.sent_per_s / r.sent_per_s);
        raw.push(r);
        bridge.push(b);
        let (latencies, sent) = paced(&runtime, &p, &subs, seconds);
        p50.push(percentile(&latencies, 0.5).unwrap_or(0) as f64 / 1e3);
        p99.push(percentile(&latencies, 0.99).unwrap_or(0) as f64 / 1e3);
        lost_paced.push((sent * subs.len() as u64).saturating_sub(latencies.len() as u64) as f64);
    }
    let med = |v: Vec<f64>| median(v).unwrap();
    let figures = |runs: &[Burst]| {
        (
            med(runs.iter().map(|b| b.sent_per_s / 1e3).collect()),
            med(runs.iter().map(|b| b.received_per_s / 1e3).collect()),
            med(runs.iter().map(|b| b.lost).collect()),
        )
    };
    let (raw_sent, raw_received, raw_lost) = figures(&raw);
    let (bridge_sent, bridge_received, bridge_lost) = figures(&bridge);
    println!(
        "fleet: 1 publisher node, 2 subscriber nodes, one nats-server on 127.0.0.1; burst of {burst}, paced {PACED_RATE}/s for {seconds} s; {rounds} rounds (medians)"
    );
    println!(
        "{:<34} {:>14} {:>18} {:>12}",
        "burst", "sent k/s", "received k/s/node", "lost/node"
    );
    println!(
        "{:<34} {raw_sent:>14.1} {raw_received:>18.1} {raw_lost:>12.0}",
        "raw async-nats, one task (encoded)"
    );
    println!(
        "{:<34} {bridge_sent:>14.1} {bridge_received:>18.1} {bridge_lost:>12.0}",
        "ron-bridge-nats export"
    );
    let ratio = med(ratio);
    println!("bridge export / raw publish: {ratio:.2} (floor >= 0.5)");
    println!(
        "paced, publish on P -> delivery on A and B: p50 {:.1} µs, p99 {:.1} µs, lost {:.0} per run",
        med(p50.clone()),
        med(p99.clone()),
        med(lost_paced)
    );
    println!("perf\tratio\tbridge_export_over_raw\t{ratio:.4}");
    println!(
        "perf\tfleet\t{raw_sent:.1}\t{bridge_sent:.1}\t{bridge_received:.1}\t{bridge_lost:.0}\t{:.1}\t{:.1}",
        med(p50),
        med(p99)
    );
    drop(p);
    drop(subs);
}
