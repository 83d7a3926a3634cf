//! The reference backend counts the wake-ups a publish sends (its
//! publisher takes the parked subscribers' wakers), also when a payload's
//! panic cuts the publish short after it delivered to a parked subscriber.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::SeqCst;
use std::task::{Context, Poll, Wake, Waker};

use ron_bus::reference::ReferenceBus;
use ron_bus::{BusBackend, BusReceiver};

/// A payload whose clones succeed while `clones_left` lasts, then panic.
#[derive(Debug)]
struct Trapped {
    clones_left: Arc<AtomicUsize>,
}

impl Clone for Trapped {
    fn clone(&self) -> Self {
        let left = self
            .clones_left
            .fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1));
        if left.is_err() {
            panic!("clone trap (expected by the test)");
        }
        Self {
            clones_left: Arc::clone(&self.clones_left),
        }
    }
}

/// Counts its wake-ups.
#[derive(Default)]
struct Woken(AtomicUsize);

impl Wake for Woken {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

#[test]
fn a_publish_cut_short_by_a_panic_counts_the_wake_ups_it_sent() {
    let bus = ReferenceBus::<Trapped>::with_capacity(4).unwrap();
    let mut parked = bus.subscribe();
    let _awake = bus.subscribe();
    let woken = Arc::new(Woken::default());
    let waker = Waker::from(Arc::clone(&woken));
    let mut cx = Context::from_waker(&waker);
    let mut recv = pin!(parked.recv());
    assert!(recv.as_mut().poll(&mut cx).is_pending());

    // The parked subscriber's copy is made (the publish takes its waker),
    // then the other subscriber's `clone` panics.
    let clones_left = Arc::new(AtomicUsize::new(1));
    let msg = Trapped {
        clones_left: Arc::clone(&clones_left),
    };
    assert!(catch_unwind(AssertUnwindSafe(|| bus.publish(msg))).is_err());
    assert_eq!(woken.0.load(SeqCst), 1, "the parked subscriber was woken");
    let stats = bus.stats().snapshot();
    assert_eq!(stats.published, 1, "the message was stored");
    assert_eq!(
        (stats.notify_sends, stats.notify_suppressed),
        (1, 0),
        "the wake-up the publish sent is counted"
    );
    assert!(matches!(recv.as_mut().poll(&mut cx), Poll::Ready(Ok(_))));
}
