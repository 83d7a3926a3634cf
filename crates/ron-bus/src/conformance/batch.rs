//! Batched receive ([`recv_many`](crate::BusReceiver::recv_many),
//! [`try_recv_many`](crate::BusReceiver::try_recv_many)) tells exactly what
//! one-by-one receives would: the same messages in order, the same lag
//! reports in the same places, the same `receiver_lag` stat, and the close
//! after the last run.

// Test code compiled into the library for backends to run: a failed
// expectation must panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::pin::pin;
use std::task::Poll;

use super::waker::Probe;
use crate::{BusBackend, BusReceiver, RecvError, TryRecvError};

/// One item of a subscriber's stream: a message, or a lag report.
type Item = Result<u64, u64>;

/// Drains `rx` one `try_recv` at a time until `Empty` (or `Closed`).
fn one_by_one<R: BusReceiver<u64>>(rx: &mut R, into: &mut Vec<Item>) {
    loop {
        match rx.try_recv() {
            Ok(msg) => into.push(Ok(msg)),
            Err(TryRecvError::Lagged(lost)) => into.push(Err(lost)),
            Err(TryRecvError::Empty | TryRecvError::Closed) => return,
        }
    }
}

/// Drains `rx` with `try_recv_many(_, max)` until `Empty` (or `Closed`),
/// checking each call's count against what it appended.
fn in_runs<R: BusReceiver<u64>>(rx: &mut R, max: usize, into: &mut Vec<Item>) {
    let mut buf = vec![u64::MAX]; // kept: a run only appends
    loop {
        match rx.try_recv_many(&mut buf, max) {
            Ok(n) => {
                assert!(
                    (1..=max).contains(&n),
                    "try_recv_many(_, {max}) returned Ok({n})"
                );
                assert_eq!(buf.len(), 1 + n, "Ok({n}) but buf grew otherwise");
                into.extend(buf.drain(1..).map(Ok));
            }
            Err(TryRecvError::Lagged(lost)) => into.push(Err(lost)),
            Err(TryRecvError::Empty | TryRecvError::Closed) => break,
        }
        assert_eq!(buf.len(), 1, "an error appended to buf");
    }
    assert_eq!(buf, [u64::MAX], "what buf held before was touched");
}

/// Drains `rx` by polling `recv_many(_, max)` until it is pending.
fn polled_runs<R: BusReceiver<u64>>(rx: &mut R, max: usize, probe: &Probe, into: &mut Vec<Item>) {
    let mut buf = Vec::new();
    loop {
        let outcome = probe.poll(pin!(rx.recv_many(&mut buf, max)));
        match outcome {
            Poll::Ready(Ok(n)) => {
                assert!(
                    (1..=max).contains(&n),
                    "recv_many(_, {max}) returned Ok({n})"
                );
                assert_eq!(buf.len(), n, "Ok({n}) but buf grew otherwise");
                into.extend(buf.drain(..).map(Ok));
            }
            Poll::Ready(Err(RecvError::Lagged(lost))) => into.push(Err(lost)),
            Poll::Ready(Err(RecvError::Closed)) => panic!("closed while the bus is open"),
            Poll::Pending => return,
        }
        assert!(buf.is_empty(), "an error appended to buf");
    }
}

/// Subscribers of one bus read one by one, with `try_recv_many` (runs of
/// at most 1, 3 and 64) and with `recv_many` polled (parking between
/// rounds) see the same messages and lag reports, in the same places,
/// under lag and to the close; the `receiver_lag` stat counts every
/// subscriber's losses alike; `max == 0` appends nothing and takes
/// nothing, not even a lag or the close.
pub fn recv_many_yields_what_recv_does<B: BusBackend<u64>>() {
    const MAXES: [usize; 3] = [1, 3, 64];
    let bus: B = B::with_capacity(4).unwrap();
    let mut single = bus.subscribe();
    let mut runs: Vec<_> = MAXES.iter().map(|_| bus.subscribe()).collect();
    let mut polled = bus.subscribe();
    let probe = Probe::new();
    let mut want = Vec::new();
    let mut got: Vec<Vec<Item>> = vec![Vec::new(); MAXES.len() + 1];
    let mut published = 0u64;
    // Rounds of 0..=9 messages into a capacity of 4: some lag, some not.
    for round in 0..20u64 {
        for _ in 0..(round * 7 % 10) {
            bus.publish(published);
            published += 1;
        }
        if round == 5 {
            // A lag is waiting: `max == 0` neither takes nor reports it.
            let mut buf = Vec::new();
            for rx in &mut runs {
                assert_eq!(rx.try_recv_many(&mut buf, 0), Ok(0));
            }
            assert_eq!(
                probe.poll(pin!(polled.recv_many(&mut buf, 0))),
                Poll::Ready(Ok(0))
            );
            assert!(buf.is_empty());
        }
        one_by_one(&mut single, &mut want);
        for ((rx, &max), into) in runs.iter_mut().zip(&MAXES).zip(&mut got) {
            in_runs(rx, max, into);
        }
        polled_runs(&mut polled, 64, &probe, &mut got[MAXES.len()]);
        for (i, got) in got.iter().enumerate() {
            assert_eq!(
                got,
                &want,
                "round {round}, subscriber {i} (runs of {:?})",
                MAXES.get(i)
            );
        }
    }
    let lost: u64 = want.iter().filter_map(|item| item.err()).sum();
    assert!(lost > 0, "the rounds made every subscriber lag");
    assert_eq!(
        bus.stats().snapshot().receiver_lag,
        lost * (got.len() as u64 + 1)
    );

    // The close: the last run first, then `Closed`, for good; `max == 0`
    // still appends nothing and reports nothing.
    bus.publish_many([published, published + 1]);
    drop(bus);
    let mut buf = Vec::new();
    for rx in &mut runs {
        assert_eq!(rx.try_recv_many(&mut buf, 0), Ok(0));
        let mut taken = 0;
        while taken < 2 {
            taken += rx.try_recv_many(&mut buf, 64).unwrap();
        }
        assert_eq!(rx.try_recv_many(&mut buf, 64), Err(TryRecvError::Closed));
        assert_eq!(rx.try_recv_many(&mut buf, 64), Err(TryRecvError::Closed));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut taken = 0;
        while taken < 2 {
            taken += polled.recv_many(&mut buf, 64).await.unwrap();
        }
        assert_eq!(polled.recv_many(&mut buf, 64).await, Err(RecvError::Closed));
        assert_eq!(polled.recv_many(&mut buf, 0).await, Ok(0));
    });
    let last = [published, published + 1];
    assert_eq!(buf, last.repeat(runs.len() + 1));
}

/// A `recv_many` parked on an empty bus is woken by a publish and by the
/// close, and loses nothing while it waits; the provided defaults' one
/// message per call and a backend's whole run both qualify (at least one,
/// at most `max`).
pub fn a_parked_recv_many_is_woken_and_loses_nothing<B: BusBackend<u64>>() {
    let bus: B = B::with_capacity(8).unwrap();
    let mut rx = bus.subscribe();
    let probe = Probe::new();
    let mut buf = Vec::new();
    {
        let mut recv = pin!(rx.recv_many(&mut buf, 2));
        assert!(probe.poll(recv.as_mut()).is_pending());
        assert!(probe.poll(recv.as_mut()).is_pending());
        bus.publish_many([1, 2, 3]);
        assert_eq!(probe.wakes(), 1, "one batch, one wake-up");
        let Poll::Ready(Ok(n)) = probe.poll(recv.as_mut()) else {
            panic!("woken, but nothing to take");
        };
        assert!((1..=2).contains(&n), "recv_many(_, 2) returned Ok({n})");
    }
    let mut rest = Vec::new();
    one_by_one(&mut rx, &mut rest);
    buf.extend(rest.into_iter().map(|item| item.unwrap()));
    assert_eq!(buf, [1, 2, 3]);
    let mut recv = pin!(rx.recv_many(&mut buf, 64));
    assert!(probe.poll(recv.as_mut()).is_pending());
    let before = probe.wakes();
    drop(bus);
    assert!(probe.wakes() > before, "the close wakes a parked recv_many");
    assert_eq!(
        probe.poll(recv.as_mut()),
        Poll::Ready(Err(RecvError::Closed))
    );
}

/// A backend that batches takes every message waiting, up to `max`, in one
/// call: not part of [`conformance_tests!`](crate::conformance_tests) (the
/// contract allows fewer, and the provided implementations take one per
/// call), run by the backends of this workspace, which all batch.
pub fn recv_many_takes_the_waiting_run<B: BusBackend<u64>>() {
    let bus: B = B::with_capacity(64).unwrap();
    let mut rx = bus.subscribe();
    let mut buf = Vec::new();
    bus.publish_many(0..10);
    assert_eq!(rx.try_recv_many(&mut buf, 4), Ok(4));
    assert_eq!(rx.try_recv_many(&mut buf, 64), Ok(6));
    assert_eq!(buf, (0..10).collect::<Vec<_>>());
    let probe = Probe::new();
    {
        let mut recv = pin!(rx.recv_many(&mut buf, 64));
        assert!(probe.poll(recv.as_mut()).is_pending());
        bus.publish_many(10..15);
        assert_eq!(probe.poll(recv.as_mut()), Poll::Ready(Ok(5)));
    }
    assert_eq!(buf, (0..15).collect::<Vec<_>>());
}
