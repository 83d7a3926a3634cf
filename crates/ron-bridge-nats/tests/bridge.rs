//! The bridge against a real `nats-server` (one per test, loopback only).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use async_nats::Subject;
use bytes::Bytes;
use ron_bridge_nats::Remote;
use ron_bus::BusBackend;
use support::{
    CRASH, Ev, NatsServer, Node, TICK, WAIT, connected_pair, options, wait_flow, wait_until,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_bridges_carry_events_both_ways_without_echo() {
    let server = NatsServer::start().expect("nats-server");
    let (mut a, mut b) = connected_pair(&server).await;
    wait_flow(&b, &mut a).await;
    assert!(a.metrics.connected());

    a.local.publish_topic(CRASH, Ev::Crash("svc".into()));
    a.local.publish_topic(TICK, Ev::Tick(7));
    b.local.publish_topic(TICK, Ev::Tick(8));

    let mut at_b = vec![b.next().await, b.next().await];
    at_b.sort_by_key(|r| format!("{:?}", r.event));
    assert_eq!(
        at_b,
        [
            Remote {
                node: "a".into(),
                event: Ev::Crash("svc".into())
            },
            Remote {
                node: "a".into(),
                event: Ev::Tick(7)
            },
        ]
    );
    assert_eq!(
        a.next().await,
        Remote {
            node: "b".into(),
            event: Ev::Tick(8)
        }
    );
    // No echo: whatever reached a's import bus came from b.
    let rest = a.drain();
    assert!(rest.iter().all(|r| &*r.node == "b"), "echo: {rest:?}");
    assert!(b.drain().iter().all(|r| &*r.node == "a"));

    wait_until("a's exports counted", || a.metrics.exported() >= 2).await;
    assert!(b.metrics.imported() >= 2);
    assert_eq!(
        a.metrics.dropped("malformed") + b.metrics.dropped("malformed"),
        0
    );
    let text = prometheus::TextEncoder::new()
        .encode_to_string(&a.registry.gather())
        .unwrap();
    for series in [
        "bridge_exported_total",
        "bridge_imported_total",
        "bridge_dropped_total{reason=\"disconnected\"}",
        "bridge_connected 1",
    ] {
        assert!(text.contains(series), "{series} missing in\n{text}");
    }
    a.bridge.take().unwrap().shutdown().await;
    assert!(!a.metrics.connected());
    b.bridge.take().unwrap().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn masks_select_what_is_exported_and_imported() {
    let server = NatsServer::start().expect("nats-server");
    let url = server.url();
    // x exports everything; a exports crashes only; b imports crashes only;
    // c imports everything and exports nothing.
    let x = Node::start(options(&url, "x"));
    let a = Node::start({
        let mut o = options(&url, "a");
        o.export_mask = CRASH;
        o
    });
    let mut b = Node::start({
        let mut o = options(&url, "b");
        o.import_mask = CRASH;
        o
    });
    let mut c = Node::start({
        let mut o = options(&url, "c");
        o.export_mask = 0;
        o
    });
    for node in [&x, &a, &b, &c] {
        node.connected().await;
    }
    wait_flow(&x, &mut b).await;
    wait_flow(&x, &mut c).await;
    let probes_of_a = wait_flow(&a, &mut c).await;
    let _ = (b.drain(), c.drain());

    x.local.publish_topic(TICK, Ev::Tick(1));
    x.local.publish_topic(CRASH, Ev::Crash("x1".into()));
    a.local.publish_topic(TICK, Ev::Tick(99));
    a.local.publish_topic(CRASH, Ev::Crash("a1".into()));

    // b: only the crashes (its import mask leaves ticks on the server).
    let mut at_b = vec![b.next().await, b.next().await];
    at_b.sort_by_key(|r| r.node.clone());
    assert_eq!(
        at_b,
        [
            Remote {
                node: "a".into(),
                event: Ev::Crash("a1".into())
            },
            Remote {
                node: "x".into(),
                event: Ev::Crash("x1".into())
            },
        ]
    );
    // c: x's tick and crash, and a's crash (a never exported its tick).
    let mut at_c = Vec::new();
    for _ in 0..3 {
        at_c.push(c.next().await);
    }
    at_c.sort_by_key(|r| format!("{}{:?}", r.node, r.event));
    assert_eq!(
        at_c,
        [
            Remote {
                node: "a".into(),
                event: Ev::Crash("a1".into())
            },
            Remote {
                node: "x".into(),
                event: Ev::Crash("x1".into())
            },
            Remote {
                node: "x".into(),
                event: Ev::Tick(1)
            },
        ]
    );
    // a's tick never reached its export: every event a's export saw is a
    // crash (the probes and a1), exported or counted.
    // (An export is counted once the client took it, which may be a moment
    // after a subscriber already has it: wait for the count.)
    wait_until("a's exports counted", || {
        a.metrics.exported() + a.metrics.dropped_export() == probes_of_a + 1
    })
    .await;
    assert_eq!(c.metrics.exported(), 0);
    assert!(b.drain().iter().all(|r| matches!(r.event, Ev::Crash(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_down_at_start_the_bridge_starts_then_connects_when_nats_comes_up() {
    let mut server = NatsServer::reserve().expect("a free port");
    let mut a = Node::start({
        let mut o = options(&server.url(), "a");
        o.required = true;
        o
    });
    // `start` returned without a server; the gate says why not ready.
    assert!(!a.bridge().is_connected());
    assert!(a.health.missing().contains(&"nats".to_owned()));
    // What the export saw while disconnected is counted as dropped (that a
    // stalled connection does not hold the publisher is tests/stall.rs).
    for i in 0..10_000 {
        a.local.publish_topic(TICK, Ev::Tick(i));
    }
    wait_until("drops counted", || {
        a.metrics.dropped("disconnected") + a.metrics.dropped("lagged") == 10_000
    })
    .await;
    assert_eq!(a.metrics.exported(), 0);
    assert!(!a.metrics.connected());

    server.up().expect("nats-server up");
    let mut b = Node::start(options(&server.url(), "b"));
    a.connected().await;
    b.connected().await;
    wait_until("gate healthy", || a.health.missing() == ["config_loaded"]).await;
    assert!(a.metrics.connected());
    wait_flow(&a, &mut b).await;
    a.local.publish_topic(CRASH, Ev::Crash("late".into()));
    assert_eq!(
        b.next().await,
        Remote {
            node: "a".into(),
            event: Ev::Crash("late".into())
        }
    );

    a.bridge.take().unwrap().shutdown().await;
    assert!(
        a.health.snapshot().service("nats").is_none(),
        "gate removed at shutdown"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_restart_mid_stream_flow_resumes_and_every_event_is_accounted_for() {
    let mut server = NatsServer::start().expect("nats-server");
    let a = Node::start({
        let mut o = options(&server.url(), "a");
        o.required = true;
        o
    });
    let mut b = Node::start(options(&server.url(), "b"));
    a.connected().await;
    b.connected().await;
    let probes = wait_flow(&a, &mut b).await;
    wait_until("gate healthy", || a.health.missing() == ["config_loaded"]).await;

    // A paced publisher on a's local bus, running across the restart.
    let local = a.local.clone();
    let publisher = tokio::spawn(async move {
        for i in 0..400u64 {
            local.publish_topic(TICK, Ev::Tick(i));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.down();
    wait_until("a sees the loss", || !a.bridge().is_connected()).await;
    assert!(!a.metrics.connected());
    wait_until("gate closed", || {
        a.health.missing().contains(&"nats".to_owned())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.up().expect("nats-server up");
    // The local publisher never waited for NATS: it finishes on its own pace.
    tokio::time::timeout(WAIT, publisher)
        .await
        .unwrap()
        .unwrap();
    a.connected().await;
    b.connected().await;
    let probes_after = wait_flow(&a, &mut b).await;
    a.local.publish_topic(CRASH, Ev::Crash("after".into()));
    loop {
        let remote = b.next().await;
        if remote.event == Ev::Crash("after".into()) {
            assert_eq!(&*remote.node, "a");
            break;
        }
    }
    let m = &a.metrics;
    assert!(m.dropped("disconnected") > 0, "the outage cost events");
    // Every event a published: the probes before, 400 ticks, the probes
    // after and "after", each exported or dropped with a reason.
    // (Counted once the client took it: possibly a moment after b has it.)
    let expected = probes + 400 + probes_after + 1;
    wait_until("every event accounted for", || {
        m.exported() + m.dropped_export() == expected
    })
    .await;
    assert!(m.exported() > probes + probes_after, "ticks flowed");
    assert!(b.metrics.imported() <= m.exported());
    wait_until("gate open again", || {
        a.health.missing() == ["config_loaded"]
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_while_nats_is_down_returns() {
    let server = NatsServer::reserve().expect("a free port");
    let mut a = Node::start(options(&server.url(), "a"));
    a.local.publish_topic(CRASH, Ev::Crash("lost".into()));
    wait_until("drop counted", || a.metrics.dropped("disconnected") == 1).await;
    tokio::time::timeout(WAIT, a.bridge.take().unwrap().shutdown())
        .await
        .expect("shutdown is bounded");
    assert_eq!(a.metrics.exported(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_foreign_and_newer_messages_are_counted_and_skipped() {
    let server = NatsServer::start().expect("nats-server");
    let (mut a, mut b) = connected_pair(&server).await;

    let raw = async_nats::connect(server.url()).await.unwrap();
    let bad: [(&str, &[u8]); 7] = [
        ("ron.test.z.crash", b"not json"),
        ("ron.test.z.crash", b"\xff\x00\x01"),
        (
            "ron.test.z.crash",
            br#"{"v":1,"node":"z","topic":"crash","event":{"Nope":1}}"#,
        ),
        (
            "ron.test.z.crash",
            br#"{"v":1,"node":"other","topic":"crash","event":{"Crash":"x"}}"#,
        ),
        (
            "ron.test.z.tick",
            br#"{"v":1,"node":"z","topic":"crash","event":{"Crash":"x"}}"#,
        ),
        ("ron.test.z.tick", b""),
        ("ron.test.z.crash", br#"[1,2,3]"#),
    ];
    for (subject, payload) in bad {
        raw.publish(Subject::from(subject), Bytes::from_static(payload))
            .await
            .unwrap();
    }
    raw.publish(
        "ron.test.z.crash",
        Bytes::from_static(br#"{"v":2,"node":"z","topic":"crash","event":{"Crash":"x"}}"#),
    )
    .await
    .unwrap();
    raw.publish("ron.test.z.tick", Bytes::from_static(br#"{"v":7}"#))
        .await
        .unwrap();
    // A valid one from the raw client: imported like any node's.
    raw.publish(
        "ron.test.z.crash",
        Bytes::from_static(br#"{"v":1,"node":"z","topic":"crash","event":{"Crash":"ok"}}"#),
    )
    .await
    .unwrap();
    raw.flush().await.unwrap();

    assert_eq!(
        b.next().await,
        Remote {
            node: "z".into(),
            event: Ev::Crash("ok".into())
        }
    );
    wait_until("bad messages counted", || {
        b.metrics.dropped("malformed") == 7 && b.metrics.dropped("version") == 2
    })
    .await;
    // a saw the same messages: counted there too, and both bridges still carry.
    wait_until("a counted them too", || {
        a.metrics.dropped("malformed") == 7 && a.metrics.dropped("version") == 2
    })
    .await;
    b.local.publish_topic(TICK, Ev::Tick(3));
    loop {
        if a.next().await
            == (Remote {
                node: "b".into(),
                event: Ev::Tick(3),
            })
        {
            break;
        }
    }
    assert!(b.drain().is_empty());
}

/// One node's events arrive in the order they were published, whatever
/// their topics (one subscription, one queue, one import task).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_nodes_events_keep_their_order_across_topics() {
    let server = NatsServer::start().expect("nats-server");
    let (a, mut b) = connected_pair(&server).await;
    let _ = b.drain();
    const N: u64 = 4000;
    for i in 0..N {
        if i % 3 == 0 {
            a.local.publish_topic(CRASH, Ev::Crash(i.to_string()));
        } else {
            a.local.publish_topic(TICK, Ev::Tick(i));
        }
    }
    let mut order = Vec::new();
    while order.len() < N as usize {
        let remote = b.next().await;
        assert_eq!(&*remote.node, "a");
        order.push(match remote.event {
            Ev::Tick(i) => i,
            Ev::Crash(i) => i.parse().unwrap(),
        });
    }
    let first_out_of_order = order.iter().zip(0..).position(|(got, want)| *got != want);
    assert_eq!(
        first_out_of_order,
        None,
        "reordered: {:?}",
        first_out_of_order.map(|at| &order[at..(at + 8).min(order.len())])
    );
}

/// A message under this node's own name from another connection (a
/// second kernel misconfigured with the same name) is skipped and counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_under_our_own_node_name_are_counted_and_skipped() {
    let server = NatsServer::start().expect("nats-server");
    let (mut a, mut b) = connected_pair(&server).await;
    let raw = async_nats::connect(server.url()).await.unwrap();
    for _ in 0..2 {
        raw.publish(
            "ron.test.b.crash",
            Bytes::from_static(br#"{"v":1,"node":"b","topic":"crash","event":{"Crash":"twin"}}"#),
        )
        .await
        .unwrap();
    }
    raw.flush().await.unwrap();
    // a imports them (another node's, for a)...
    for _ in 0..2 {
        assert_eq!(
            a.next().await,
            Remote {
                node: "b".into(),
                event: Ev::Crash("twin".into())
            }
        );
    }
    // ...b counts them as its own name coming back, and imports nothing.
    wait_until("own_node counted", || b.metrics.dropped("own_node") == 2).await;
    assert!(b.drain().is_empty());
    assert_eq!(b.metrics.dropped("malformed"), 0);
}
