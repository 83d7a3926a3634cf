//! The deterministic cases of the contract, one function each.

// This module is test code compiled into the library for backends to run:
// a failed expectation must panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::pin::pin;
use std::task::Poll;
use std::thread;
use std::time::Duration;

use super::waker::Probe;
use crate::{ALL_TOPICS, BusBackend, BusError, BusReceiver, RecvError, TryRecvError};

/// Liveness bound for waits in these tests; never a performance claim.
const PATIENCE: Duration = Duration::from_secs(30);

fn bus<B: BusBackend<u64>>(capacity: usize) -> B {
    B::with_capacity(capacity).unwrap()
}

/// Receives until `Empty`, returning the messages and the lag reports.
fn drain<R: BusReceiver<u64>>(rx: &mut R) -> (Vec<u64>, Vec<u64>) {
    let (mut messages, mut lags) = (Vec::new(), Vec::new());
    loop {
        match rx.try_recv() {
            Ok(m) => messages.push(m),
            Err(TryRecvError::Lagged(n)) => lags.push(n),
            Err(TryRecvError::Empty | TryRecvError::Closed) => return (messages, lags),
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// `publish` returns the number of subscribers that will see the message,
/// and `receiver_count` agrees as subscribers come and go.
pub fn publish_returns_the_receiver_count<B: BusBackend<u64>>() {
    let bus: B = bus(8);
    assert_eq!(bus.receiver_count(), 0);
    let subs: Vec<_> = (0..3).map(|_| bus.subscribe()).collect();
    assert_eq!(bus.receiver_count(), 3);
    assert_eq!(bus.publish(1), 3);
    let mut subs = subs.into_iter();
    drop(subs.next());
    assert_eq!(bus.receiver_count(), 2);
    assert_eq!(bus.publish(2), 2);
    assert_eq!(
        bus.clone().publish(3),
        2,
        "a cloned handle publishes on the same bus"
    );
}

/// With no subscriber, `publish` returns 0, which is counted, not an error.
pub fn no_receivers_returns_zero_and_counts<B: BusBackend<u64>>() {
    let bus: B = bus(8);
    assert_eq!(bus.publish(1), 0);
    assert_eq!(bus.publish_topic(ALL_TOPICS, 2), 0);
    let stats = bus.stats().snapshot();
    assert_eq!((stats.published, stats.no_receivers), (2, 2));
    let _rx = bus.subscribe();
    assert_eq!(bus.publish(3), 1);
    let stats = bus.stats().snapshot();
    assert_eq!((stats.published, stats.no_receivers), (3, 2));
}

/// Capacity 0 is a typed error; others round up to a power of two.
pub fn capacity_is_validated_and_normalised<B: BusBackend<u64>>() {
    assert!(matches!(B::with_capacity(0), Err(BusError::ZeroCapacity)));
    assert!(matches!(
        B::with_capacity(usize::MAX),
        Err(BusError::CapacityTooLarge { .. })
    ));
    assert_eq!(bus::<B>(1).capacity(), 1);
    assert_eq!(bus::<B>(5).capacity(), 8);
    assert_eq!(bus::<B>(64).capacity(), 64);
}

/// A subscriber `capacity + k` behind gets `Lagged(k)` once, then the
/// oldest retained message and the rest in order; the loss is counted.
pub fn lagged_reports_exact_loss_then_oldest_retained<B: BusBackend<u64>>() {
    let bus: B = bus(4);
    let mut rx = bus.subscribe();
    for i in 0..7 {
        bus.publish(i);
    }
    assert_eq!(rx.try_recv(), Err(TryRecvError::Lagged(3)));
    assert_eq!(drain(&mut rx), (vec![3, 4, 5, 6], vec![]));
    assert_eq!(bus.stats().snapshot().receiver_lag, 3);
    // Exactly at capacity nothing is lost.
    for i in 7..11 {
        bus.publish(i);
    }
    assert_eq!(drain(&mut rx), (vec![7, 8, 9, 10], vec![]));
    assert_eq!(bus.stats().snapshot().receiver_lag, 3);
}

/// Async `recv` reports the same lag and order as `try_recv`.
pub fn async_recv_reports_lag_like_try_recv<B: BusBackend<u64>>() {
    let bus: B = bus(4);
    let mut rx = bus.subscribe();
    for i in 0..10 {
        bus.publish(i);
    }
    runtime().block_on(async {
        assert_eq!(rx.recv().await, Err(RecvError::Lagged(6)));
        for i in 6..10 {
            assert_eq!(rx.recv().await, Ok(i));
        }
    });
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

/// Per subscriber, delivered + lost == published since it subscribed, for
/// subscribers that read at different paces.
pub fn accounting_is_exact_under_lag<B: BusBackend<u64>>() {
    // Rounds publish at most 12: the fast subscriber never lags, the others do.
    let bus: B = bus(16);
    let mut fast = bus.subscribe();
    let mut slow = bus.subscribe();
    let mut never = bus.subscribe();
    let mut tally = [(0u64, 0u64); 3];
    let mut count = |i: usize, (messages, lags): (Vec<u64>, Vec<u64>)| {
        tally[i].0 += messages.len() as u64;
        tally[i].1 += lags.iter().sum::<u64>();
    };
    let mut published = 0;
    for round in 0..50u64 {
        for _ in 0..(round % 13) {
            bus.publish(published);
            published += 1;
        }
        count(0, drain(&mut fast));
        if round % 7 == 0 {
            count(1, drain(&mut slow));
        }
    }
    count(1, drain(&mut slow));
    count(2, drain(&mut never));
    for (i, (delivered, lost)) in tally.iter().enumerate() {
        assert_eq!(
            delivered + lost,
            published,
            "subscriber {i}: {delivered} delivered + {lost} lost"
        );
    }
    assert_eq!(tally[0].1, 0, "the fast subscriber never fell behind");
    assert_eq!(
        bus.stats().snapshot().receiver_lag,
        tally.iter().map(|t| t.1).sum::<u64>()
    );
}

/// A subscriber sees only messages published after it subscribed.
pub fn late_subscriber_sees_only_later_messages<B: BusBackend<u64>>() {
    let bus: B = bus(8);
    let _early = bus.subscribe();
    bus.publish(1);
    bus.publish(2);
    let mut late = bus.subscribe();
    assert_eq!(late.try_recv(), Err(TryRecvError::Empty));
    bus.publish(3);
    assert_eq!(drain(&mut late), (vec![3], vec![]));
}

/// The bus stays open while any publisher handle lives; after the last one
/// drops, subscribers first receive what is retained (lag report included),
/// then `Closed`, for good.
pub fn close_drains_then_reports_closed<B: BusBackend<u64>>() {
    let bus: B = bus(4);
    let mut rx = bus.subscribe();
    let mut lagging = bus.subscribe();
    let handle = bus.clone();
    for i in 0..6 {
        bus.publish(i);
    }
    drop(bus);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Lagged(2)));
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(drain(&mut rx), (vec![3, 4, 5], vec![]));
    assert_eq!(
        rx.try_recv(),
        Err(TryRecvError::Empty),
        "a live handle keeps the bus open"
    );
    handle.publish(6);
    drop(handle);
    assert_eq!(rx.try_recv(), Ok(6));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    runtime().block_on(async {
        assert_eq!(lagging.recv().await, Err(RecvError::Lagged(3)));
        for i in 3..7 {
            assert_eq!(lagging.recv().await, Ok(i));
        }
        assert_eq!(lagging.recv().await, Err(RecvError::Closed));
    });
    assert_eq!(rx.blocking_recv(), Err(RecvError::Closed));
}

/// A subscriber parked in `recv` is woken by the close and gets `Closed`.
pub fn close_wakes_a_parked_receiver<B: BusBackend<u64>>() {
    let bus: B = bus(4);
    let mut rx = bus.subscribe();
    let probe = Probe::new();
    let mut recv = pin!(rx.recv());
    assert!(probe.poll(recv.as_mut()).is_pending());
    drop(bus);
    assert!(
        probe.wakes() >= 1,
        "closing did not wake the parked receiver"
    );
    assert_eq!(
        probe.poll(recv.as_mut()),
        Poll::Ready(Err(RecvError::Closed))
    );
}

/// Dropping one subscriber, even one parked mid-`recv`, changes nothing for
/// the others.
pub fn dropping_a_receiver_leaves_others_alone<B: BusBackend<u64>>() {
    let bus: B = bus(8);
    let mut keep = bus.subscribe();
    let mut gone = bus.subscribe();
    bus.publish(1);
    assert_eq!(gone.try_recv(), Ok(1));
    {
        let probe = Probe::new();
        let mut parked = pin!(gone.recv());
        assert!(probe.poll(parked.as_mut()).is_pending());
    }
    drop(gone);
    assert_eq!(bus.receiver_count(), 1);
    assert_eq!(bus.publish(2), 1);
    assert_eq!(drain(&mut keep), (vec![1, 2], vec![]));
}

/// `publish_many` returns and delivers exactly what publishing each message
/// in order would, lag included, and is counted as one batch.
pub fn publish_many_equals_publishing_in_order<B: BusBackend<u64>>() {
    for batch_len in [0usize, 1, 3, 8, 20] {
        let (batched, looped): (B, B) = (bus(8), bus(8));
        let (mut a1, mut a2) = (batched.subscribe(), batched.subscribe());
        let (mut b1, mut b2) = (looped.subscribe(), looped.subscribe());
        bus_publish_some(&batched, &looped, &mut a2, &mut b2);
        let batch: Vec<u64> = (100..100 + batch_len as u64).collect();
        let got = batched.publish_many(batch.iter().copied());
        let expected: usize = batch.iter().map(|&m| looped.publish(m)).sum();
        assert_eq!(got, expected, "batch of {batch_len}");
        assert_eq!(drain(&mut a1), drain(&mut b1), "batch of {batch_len}");
        assert_eq!(drain(&mut a2), drain(&mut b2), "batch of {batch_len}");
        let (s, l) = (batched.stats().snapshot(), looped.stats().snapshot());
        assert_eq!((s.published, s.receiver_lag), (l.published, l.receiver_lag));
        assert_eq!(s.batch_publishes, u64::from(batch_len > 0));
        assert_eq!(s.batch_len_sum, batch_len as u64);
    }
}

/// `publish_many_topic` over mixed topics returns and delivers exactly what
/// `publish_topic` of each message in order would: a subscriber with
/// interest X receives exactly the batch's X messages, in order, with the
/// same lag; messages outside its interest never reach, wake or charge it.
pub fn publish_many_topic_respects_interest_masks<B: BusBackend<u64>>() {
    const A: u64 = 0b01;
    const B_: u64 = 0b10;
    const TOPICS: [u64; 5] = [A, B_, A | B_, ALL_TOPICS, 0];
    // Batches shorter and longer than the capacity (lag inside a batch).
    for batch_len in [1usize, 5, 7, 30] {
        let (batched, looped): (B, B) = (bus(4), bus(4));
        let subscribe =
            |bus: &B| [A, B_, A | B_, ALL_TOPICS].map(|mask| bus.subscribe_with_interest(mask));
        let (mut got, mut want) = (subscribe(&batched), subscribe(&looped));
        let batch: Vec<(u64, u64)> = (0..batch_len as u64)
            .map(|i| (TOPICS[(i * 3 % 5) as usize], 100 + i))
            .collect();
        {
            let probe = Probe::new();
            let mut parked_on_b = pin!(got[1].recv());
            assert!(probe.poll(parked_on_b.as_mut()).is_pending());
            let reached = batched.publish_many_topic(batch.iter().copied());
            let expected: usize = batch
                .iter()
                .map(|&(topic, m)| looped.publish_topic(topic, m))
                .sum();
            assert_eq!(reached, expected, "batch of {batch_len}");
            let b_heard = batch.iter().any(|&(topic, _)| topic & B_ != 0);
            assert_eq!(
                probe.wakes(),
                usize::from(b_heard),
                "batch of {batch_len}: the B subscriber's wake-ups"
            );
        }
        for (i, (rx, model)) in got.iter_mut().zip(&mut want).enumerate() {
            assert_eq!(
                drain(rx),
                drain(model),
                "batch of {batch_len}, subscriber {i}"
            );
        }
        let (s, l) = (batched.stats().snapshot(), looped.stats().snapshot());
        assert_eq!(
            (s.published, s.no_receivers, s.receiver_lag),
            (l.published, l.no_receivers, l.receiver_lag),
            "batch of {batch_len}"
        );
        assert_eq!((s.batch_publishes, s.batch_len_sum), (1, batch_len as u64));
    }
    // Nobody's topic: the whole batch reaches nobody and counts as unheard.
    let bus: B = bus(4);
    let mut on_a = bus.subscribe_with_interest(A);
    assert_eq!(bus.publish_many_topic((0..10).map(|i| (B_, i))), 0);
    assert_eq!(drain(&mut on_a), (vec![], vec![]));
    let stats = bus.stats().snapshot();
    assert_eq!((stats.published, stats.no_receivers), (10, 10));
}

/// A receiver dropped while its waker is registered (parked in `recv`)
/// takes the waker with it: a quiet bus does not keep the wakers, and so
/// the tasks, of subscribers that are gone.
pub fn a_dropped_receiver_drops_its_waker<B: BusBackend<u64>>() {
    let bus: B = bus(4);
    let probe = Probe::new();
    for _ in 0..1_000 {
        let mut rx = bus.subscribe();
        let mut recv = pin!(rx.recv());
        assert!(probe.poll(recv.as_mut()).is_pending());
    }
    assert_eq!(
        probe.clones_alive(),
        0,
        "wakers of dropped receivers are still held"
    );
    // A live parked receiver still holds one and is still woken.
    let mut rx = bus.subscribe();
    let mut recv = pin!(rx.recv());
    assert!(probe.poll(recv.as_mut()).is_pending());
    assert_eq!(bus.publish(7), 1);
    assert_eq!(probe.wakes(), 1);
    assert_eq!(probe.poll(recv.as_mut()), Poll::Ready(Ok(7)));
}

/// Puts both buses in the same state: a few messages, one subscriber behind.
fn bus_publish_some<B: BusBackend<u64>>(
    a: &B,
    b: &B,
    a_rx: &mut B::Receiver,
    b_rx: &mut B::Receiver,
) {
    for i in 0..5 {
        a.publish(i);
        b.publish(i);
    }
    assert_eq!(drain(a_rx), drain(b_rx));
}

/// A topic reaches exactly the subscribers whose mask shares a bit with it;
/// messages outside a subscriber's interest never cost it lag.
pub fn interest_filters_delivery_and_lag<B: BusBackend<u64>>() {
    const A: u64 = 0b01;
    const B_: u64 = 0b10;
    let bus: B = bus(4);
    let mut on_a = bus.subscribe_with_interest(A);
    let mut on_b = bus.subscribe_with_interest(B_);
    let mut on_both = bus.subscribe_with_interest(A | B_);
    assert_eq!((on_a.interest(), on_b.interest()), (A, B_));

    assert_eq!(bus.publish_topic(A, 1), 2);
    assert_eq!(bus.publish_topic(B_, 2), 2);
    assert_eq!(bus.publish_topic(A | B_, 3), 3);
    assert_eq!(bus.publish(4), 3, "a plain publish is for every topic");
    assert_eq!(bus.publish_topic(0, 5), 0, "topic 0 reaches nobody");
    assert_eq!(drain(&mut on_a), (vec![1, 3, 4], vec![]));
    assert_eq!(drain(&mut on_b), (vec![2, 3, 4], vec![]));
    assert_eq!(drain(&mut on_both), (vec![1, 2, 3, 4], vec![]));

    // Flood topic A far past capacity, then one message on B.
    for i in 0..100 {
        bus.publish_topic(A, 10 + i);
    }
    bus.publish_topic(B_, 999);
    assert_eq!(
        drain(&mut on_b),
        (vec![999], vec![]),
        "B was charged for A's traffic"
    );
    assert_eq!(bus.stats().snapshot().receiver_lag, 0);
    assert_eq!(drain(&mut on_a), (vec![106, 107, 108, 109], vec![96]));
    assert_eq!(drain(&mut on_both), (vec![107, 108, 109, 999], vec![97]));
    assert_eq!(bus.stats().snapshot().receiver_lag, 96 + 97);
}

/// A subscriber parked on one topic is not woken by another topic's traffic.
pub fn interest_does_not_wake_outside_the_mask<B: BusBackend<u64>>() {
    let bus: B = bus(8);
    let mut rx = bus.subscribe_with_interest(0b10);
    let _other = bus.subscribe_with_interest(0b01);
    let probe = Probe::new();
    let mut recv = pin!(rx.recv());
    assert!(probe.poll(recv.as_mut()).is_pending());
    for i in 0..20 {
        bus.publish_topic(0b01, i);
    }
    assert_eq!(probe.wakes(), 0, "woken by a message outside its interest");
    assert!(probe.poll(recv.as_mut()).is_pending());
    bus.publish_topic(0b10, 42);
    assert_eq!(probe.wakes(), 1);
    assert_eq!(probe.poll(recv.as_mut()), Poll::Ready(Ok(42)));
}

/// `subscribe_with_interest(ALL_TOPICS)` behaves exactly like `subscribe`.
pub fn full_mask_is_plain_subscribe<B: BusBackend<u64>>() {
    let bus: B = bus(4);
    let mut plain = bus.subscribe();
    let mut full = bus.subscribe_with_interest(ALL_TOPICS);
    assert_eq!(plain.interest(), ALL_TOPICS);
    assert_eq!(full.interest(), ALL_TOPICS);
    for i in 0..9 {
        assert_eq!(bus.publish_topic(1 << (i % 64), i), 2);
    }
    bus.publish_many(100..103);
    assert_eq!(drain(&mut plain), drain(&mut full));
}

/// A parked subscriber is woken once however many messages arrive before it
/// runs; the counters show one send and the rest suppressed. `publish_many`
/// also wakes it once. (Counters are checked once the subscriber is idle:
/// backends may account wake-ups when the receiver goes idle.)
pub fn wakes_are_coalesced_and_counted<B: BusBackend<u64>>() {
    let bus: B = bus(16);
    let mut rx = bus.subscribe();
    let probe = Probe::new();
    {
        let mut recv = pin!(rx.recv());
        assert!(probe.poll(recv.as_mut()).is_pending());
        for i in 0..10 {
            bus.publish(i);
        }
        assert_eq!(
            probe.wakes(),
            1,
            "an already-notified subscriber was notified again"
        );
        assert_eq!(probe.poll(recv.as_mut()), Poll::Ready(Ok(0)));
    }
    for i in 1..10 {
        let mut recv = pin!(rx.recv());
        assert_eq!(probe.poll(recv.as_mut()), Poll::Ready(Ok(i)));
    }
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    let stats = bus.stats().snapshot();
    assert_eq!((stats.notify_sends, stats.notify_suppressed), (1, 9));

    {
        let mut recv = pin!(rx.recv());
        assert!(probe.poll(recv.as_mut()).is_pending());
        assert_eq!(bus.publish_many(10..15), 5);
        assert_eq!(probe.wakes(), 2, "publish_many woke more than once");
        assert_eq!(probe.poll(recv.as_mut()), Poll::Ready(Ok(10)));
    }
    assert_eq!(drain(&mut rx), (vec![11, 12, 13, 14], vec![]));
    let stats = bus.stats().snapshot();
    assert_eq!((stats.notify_sends, stats.notify_suppressed), (2, 13));
}

/// `blocking_recv` works on a thread with no async runtime, waking for each
/// message and returning `Closed` at the end.
pub fn blocking_recv_works_from_a_plain_thread<B: BusBackend<u64>>() {
    let bus: B = bus(256);
    let mut rx = bus.subscribe();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let reader = thread::spawn(move || {
        ready_tx.send(()).unwrap();
        let mut got = Vec::new();
        loop {
            match rx.blocking_recv() {
                Ok(m) => got.push(m),
                Err(RecvError::Closed) => return got,
                Err(RecvError::Lagged(n)) => panic!("lagged {n} with room to spare"),
            }
        }
    });
    ready_rx.recv_timeout(PATIENCE).unwrap();
    for i in 0..200 {
        bus.publish(i);
        if i % 50 == 0 {
            thread::sleep(Duration::from_millis(5));
        }
    }
    drop(bus);
    let got = reader.join().unwrap();
    assert_eq!(got, (0..200).collect::<Vec<_>>());
}
