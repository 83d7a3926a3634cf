//! A subscriber as a [`Stream`](futures_core::Stream) ([`BusStream`](crate::BusStream))
//! tells exactly what its receives would, whatever its interest mask
//! (full or narrower): the same messages, the same lag reports in the same
//! places, the same `receiver_lag` stat, and the end where `recv` says
//! `Closed`; and a stream polled while it waits loses nothing.

// Test code compiled into the library for backends to run: a failed
// expectation must panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::pin::Pin;
use std::task::Poll;

use futures_core::{FusedStream, Stream};

use super::waker::Probe;
use crate::{ALL_TOPICS, BusBackend, BusReceiver, Lagged, RecvError, TryRecvError};

/// Polls `stream` once with `probe`'s waker.
fn poll_next<S: Stream + Unpin>(probe: &Probe, stream: &mut S) -> Poll<Option<S::Item>> {
    struct Next<'a, S>(&'a mut S);
    impl<S: Stream + Unpin> std::future::Future for Next<'_, S> {
        type Output = Option<S::Item>;
        fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
            Pin::new(&mut *self.0).poll_next(cx)
        }
    }
    let mut next = Next(stream);
    probe.poll(Pin::new(&mut next))
}

/// Two subscribers of one bus, one read with its own receives (`try_recv`
/// in rounds, `recv` at the close), one as a stream (which parks in `recv`
/// between rounds), see the same sequence of messages and lag reports,
/// under lag and to the close; the stream ends where `recv` says `Closed`,
/// stays ended, and the `receiver_lag` stat counts both subscribers'
/// losses alike.
pub fn stream_yields_what_recv_does<B: BusBackend<u64>>() {
    let bus: B = B::with_capacity(4).unwrap();
    let mut rx = bus.subscribe();
    let mut stream = bus.subscribe().into_stream();
    let probe = Probe::new();
    let (mut by_recv, mut by_stream) = (Vec::new(), Vec::new());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut published = 0u64;
    // Rounds of 0..=9 messages into a capacity of 4: some lag, some not.
    for round in 0..20u64 {
        for _ in 0..(round * 7 % 10) {
            bus.publish(published);
            published += 1;
        }
        loop {
            match rx.try_recv() {
                Ok(msg) => by_recv.push(Ok(msg)),
                Err(TryRecvError::Lagged(lost)) => by_recv.push(Err(Lagged(lost))),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Closed) => panic!("the bus is open"),
            }
        }
        loop {
            match poll_next(&probe, &mut stream) {
                Poll::Ready(Some(item)) => by_stream.push(item),
                Poll::Ready(None) => panic!("the stream ended on an open bus"),
                Poll::Pending => break,
            }
        }
        assert_eq!(by_stream, by_recv, "round {round}");
    }
    let lost: u64 = by_recv
        .iter()
        .filter_map(|item| item.err().map(|Lagged(n)| n))
        .sum();
    assert!(lost > 0, "the rounds made both subscribers lag");
    assert_eq!(bus.stats().snapshot().receiver_lag, 2 * lost);
    let delivered = by_recv.iter().filter(|item| item.is_ok()).count() as u64;
    assert_eq!(delivered + lost, published);

    // The close: what is retained first, then the end, for both.
    bus.publish(published);
    drop(bus);
    runtime.block_on(async {
        assert_eq!(rx.recv().await, Ok(published));
        assert_eq!(rx.recv().await, Err(RecvError::Closed));
    });
    assert_eq!(
        poll_next(&probe, &mut stream),
        Poll::Ready(Some(Ok(published)))
    );
    assert!(!stream.is_terminated());
    assert_eq!(poll_next(&probe, &mut stream), Poll::Ready(None));
    assert!(stream.is_terminated());
    assert_eq!(poll_next(&probe, &mut stream), Poll::Ready(None));
}

/// A stream polled again and again while it waits stays registered and
/// loses nothing: a publish wakes it, and it yields that message, then the
/// next, in order; a stream parked when the bus closes is woken and ends.
pub fn a_waiting_stream_is_woken_and_loses_nothing<B: BusBackend<u64>>() {
    let bus: B = B::with_capacity(8).unwrap();
    let mut stream = bus.subscribe().into_stream();
    let probe = Probe::new();
    for _ in 0..5 {
        assert_eq!(poll_next(&probe, &mut stream), Poll::Pending);
    }
    assert_eq!(probe.wakes(), 0);
    bus.publish(1);
    assert!(probe.wakes() >= 1, "a publish wakes the parked stream");
    bus.publish(2);
    assert_eq!(poll_next(&probe, &mut stream), Poll::Ready(Some(Ok(1))));
    assert_eq!(poll_next(&probe, &mut stream), Poll::Ready(Some(Ok(2))));
    assert_eq!(poll_next(&probe, &mut stream), Poll::Pending);
    let before = probe.wakes();
    drop(bus);
    assert!(probe.wakes() > before, "the close wakes the parked stream");
    assert_eq!(poll_next(&probe, &mut stream), Poll::Ready(None));
}

/// A stream of a subscriber with a narrower interest mask yields what that
/// subscriber's receives would: two subscribers of one mask, one read with
/// `try_recv`, one as a stream, see the same messages and lag reports, all
/// of them on topics that share a bit with the mask, in publish order, each
/// matching message either delivered or counted in a lag (capacity and lag
/// count only the mask's messages); both end at the close.
pub fn a_narrow_subscribers_stream_yields_what_its_recv_does<B: BusBackend<u64>>() {
    const MASK: u64 = 0b0110;
    // Matching and not, the full mask and topic 0 (which reaches nobody).
    const TOPICS: [u64; 8] = [
        0b0001, 0b0010, 0b0100, 0b0110, 0b1000, 0b1010, ALL_TOPICS, 0,
    ];
    let topic_of = |id: u64| TOPICS[(id % TOPICS.len() as u64) as usize];
    let bus: B = B::with_capacity(4).unwrap();
    let mut rx = bus.subscribe_with_interest(MASK);
    let mut stream = bus.subscribe_with_interest(MASK).into_stream();
    let probe = Probe::new();
    let (mut by_recv, mut by_stream, mut matching) = (Vec::new(), Vec::new(), Vec::new());
    let mut published = 0u64;
    // Rounds of 0..=8 messages, up to 5 matching, into a capacity of 4.
    for round in 0..20u64 {
        for _ in 0..(round * 7 % 9) {
            let topic = topic_of(published);
            bus.publish_topic(topic, published);
            if topic & MASK != 0 {
                matching.push(published);
            }
            published += 1;
        }
        loop {
            match rx.try_recv() {
                Ok(msg) => by_recv.push(Ok(msg)),
                Err(TryRecvError::Lagged(lost)) => by_recv.push(Err(Lagged(lost))),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Closed) => panic!("the bus is open"),
            }
        }
        loop {
            match poll_next(&probe, &mut stream) {
                Poll::Ready(Some(item)) => by_stream.push(item),
                Poll::Ready(None) => panic!("the stream ended on an open bus"),
                Poll::Pending => break,
            }
        }
        assert_eq!(by_stream, by_recv, "round {round}");
    }
    let delivered: Vec<u64> = by_recv.iter().filter_map(|item| item.ok()).collect();
    let lost: u64 = by_recv
        .iter()
        .filter_map(|item| item.err().map(|Lagged(n)| n))
        .sum();
    assert!(lost > 0, "the rounds made both subscribers lag");
    assert!(
        delivered.iter().all(|&id| topic_of(id) & MASK != 0),
        "a message outside the mask was delivered: {delivered:?}"
    );
    let mut rest = matching.iter();
    assert!(
        delivered.iter().all(|id| rest.any(|m| m == id)),
        "delivered out of publish order: {delivered:?}"
    );
    assert_eq!(delivered.len() as u64 + lost, matching.len() as u64);
    assert_eq!(bus.stats().snapshot().receiver_lag, 2 * lost);

    // The close: a matching message retained, then the end, for both.
    bus.publish_topic(0b0100, published);
    drop(bus);
    assert_eq!(rx.try_recv(), Ok(published));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    assert_eq!(
        poll_next(&probe, &mut stream),
        Poll::Ready(Some(Ok(published)))
    );
    assert_eq!(poll_next(&probe, &mut stream), Poll::Ready(None));
}
