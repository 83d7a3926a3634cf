//! No fixed limit on subscribers: 1,000 of them, parked on a runtime, each
//! get every message, and each is woken per publish, not per message.

#![cfg(not(loom))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ron_bus::{BusBackend, BusReceiver, RecvError};
use ron_bus_soa::SoaBus;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_subscribers_each_get_every_message() {
    const SUBS: usize = 1_000;
    const MESSAGES: u64 = 50;
    let bus = SoaBus::<u64>::with_capacity(64).unwrap();
    let tasks: Vec<_> = (0..SUBS)
        .map(|_| {
            let mut rx = bus.subscribe();
            tokio::spawn(async move {
                let mut got = Vec::new();
                loop {
                    match rx.recv().await {
                        Ok(msg) => got.push(msg),
                        Err(RecvError::Closed) => return got,
                        Err(RecvError::Lagged(n)) => panic!("lagged {n} with room to spare"),
                    }
                }
            })
        })
        .collect();
    assert_eq!(bus.receiver_count(), SUBS);
    for i in 0..MESSAGES {
        assert_eq!(bus.publish(i), SUBS);
    }
    drop(bus);
    let expected: Vec<u64> = (0..MESSAGES).collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), expected);
    }
}
