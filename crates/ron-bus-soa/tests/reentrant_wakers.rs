//! The wake sweep wakes while holding the parked list's lock (it keeps the
//! runtime's workers on the publisher's CPU; see the ring's docs). A waker
//! is arbitrary code: one that polls its subscriber inline (and so parks it
//! again) or drops a subscriber of the same ring runs on the sweeping
//! thread, under that lock, and must neither deadlock nor lose a wake-up.

#![cfg(not(loom))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use ron_bus::{BusBackend, BusReceiver, RecvError};
use ron_bus_soa::{SoaBus, SoaReceiver};

/// Runs `f` on its own thread; a deadlock fails the test instead of
/// hanging it.
fn without_deadlock(f: impl FnOnce() + Send + 'static) {
    let (done, finished) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        f();
        let _ = done.send(());
    });
    match finished.recv_timeout(Duration::from_secs(10)) {
        Ok(()) => thread.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            // `f` panicked: report its panic.
            std::panic::resume_unwind(thread.join().unwrap_err())
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("deadlocked in the wake sweep"),
    }
}

/// A waker that polls its subscriber inline, taking every waiting message
/// until the subscriber parks again: from inside the sweep that woke it.
struct PollsInline {
    rx: Mutex<SoaReceiver<u64>>,
    got: Mutex<Vec<u64>>,
}

impl PollsInline {
    /// Polls until the subscriber parks (registering this waker).
    fn drain(self: &Arc<Self>) {
        let waker = Waker::from(Arc::clone(self));
        let mut cx = Context::from_waker(&waker);
        let mut rx = self.rx.lock().unwrap();
        loop {
            let recv = pin!(rx.recv());
            match recv.poll(&mut cx) {
                Poll::Ready(Ok(msg)) => self.got.lock().unwrap().push(msg),
                Poll::Ready(Err(RecvError::Closed)) | Poll::Pending => return,
                Poll::Ready(Err(e)) => panic!("unexpected {e:?}"),
            }
        }
    }
}

impl Wake for PollsInline {
    fn wake(self: Arc<Self>) {
        self.drain();
    }
}

#[test]
fn a_waker_that_polls_inline_parks_again_and_is_woken_next_time() {
    without_deadlock(|| {
        let bus = SoaBus::<u64>::with_capacity(8).unwrap();
        let inline = Arc::new(PollsInline {
            rx: Mutex::new(bus.subscribe()),
            got: Mutex::new(Vec::new()),
        });
        inline.drain(); // Parks: nothing published yet.
        for msg in 1..=3 {
            // Each sweep wakes the waker, which takes the message and parks
            // again, on this thread, while the sweep holds the lock.
            bus.publish(msg);
            assert_eq!(*inline.got.lock().unwrap(), (1..=msg).collect::<Vec<_>>());
        }
    });
}

/// A waker that drops another subscriber of the same ring when woken, and
/// counts its wakes.
struct DropsASubscriber {
    victim: Mutex<Option<SoaReceiver<u64>>>,
    wakes: AtomicUsize,
}

impl Wake for DropsASubscriber {
    fn wake(self: Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
        drop(self.victim.lock().unwrap().take());
    }
}

/// A waker that only counts.
#[derive(Default)]
struct Counts(AtomicUsize);

impl Wake for Counts {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Parks `rx` with `waker` (nothing is waiting on it).
fn park(rx: &mut SoaReceiver<u64>, waker: &Waker) {
    let recv = pin!(rx.recv());
    assert!(recv.poll(&mut Context::from_waker(waker)).is_pending());
}

#[test]
fn a_waker_that_drops_a_parked_subscriber_of_the_ring_does_not_deadlock() {
    without_deadlock(|| {
        let bus = SoaBus::<u64>::with_capacity(8).unwrap();
        let (mut first, mut victim, mut last) = (bus.subscribe(), bus.subscribe(), bus.subscribe());
        let dropper = Arc::new(DropsASubscriber {
            victim: Mutex::new(None),
            wakes: AtomicUsize::new(0),
        });
        let (victims, lasts) = (Arc::new(Counts::default()), Arc::new(Counts::default()));
        // Parked in this order: the dropper's wake runs before the victim's
        // and the last one's, all in one sweep.
        park(&mut first, &Waker::from(Arc::clone(&dropper)));
        park(&mut victim, &Waker::from(Arc::clone(&victims)));
        park(&mut last, &Waker::from(Arc::clone(&lasts)));
        *dropper.victim.lock().unwrap() = Some(victim);
        assert_eq!(bus.receiver_count(), 3);

        bus.publish(7);
        assert_eq!(bus.receiver_count(), 2, "the victim left during the sweep");
        // Every waker of the sweep woke once, the victim's too (its
        // subscriber left after the sweep took the list).
        assert_eq!(dropper.wakes.load(Ordering::SeqCst), 1);
        assert_eq!(victims.0.load(Ordering::SeqCst), 1);
        assert_eq!(lasts.0.load(Ordering::SeqCst), 1);
        assert_eq!(first.try_recv().unwrap(), 7);
        assert_eq!(last.try_recv().unwrap(), 7);
    });
}

/// A waker that, once woken, waits for a mutex: one another thread holds
/// while it polls a subscriber of the same ring.
struct TakesAMutex {
    mutex: Arc<Mutex<()>>,
    entered: Mutex<mpsc::Sender<()>>,
    wakes: AtomicUsize,
}

impl Wake for TakesAMutex {
    fn wake(self: Arc<Self>) {
        let _ = self.entered.lock().unwrap().send(());
        let _held = self.mutex.lock().unwrap();
        self.wakes.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_waker_waiting_for_a_lock_held_around_a_poll_of_the_ring_does_not_deadlock() {
    without_deadlock(|| {
        let bus = SoaBus::<u64>::with_capacity(8).unwrap();
        let (mut first, mut other) = (bus.subscribe(), bus.subscribe());
        let mutex = Arc::new(Mutex::new(()));
        let (entered, waker_running) = mpsc::channel();
        let waiting = Arc::new(TakesAMutex {
            mutex: Arc::clone(&mutex),
            entered: Mutex::new(entered),
            wakes: AtomicUsize::new(0),
        });
        park(&mut first, &Waker::from(Arc::clone(&waiting)));

        // This thread holds the mutex, as an executor might around a poll.
        let held = mutex.lock().unwrap();
        let publisher = std::thread::spawn(move || {
            bus.publish(1); // Its sweep runs `waiting`, which waits for us.
            bus
        });
        waker_running.recv().unwrap();
        // A poll of another subscriber of the ring, under the mutex: it
        // takes the message, then parks, which needs the list's lock the
        // sweep holds while its waker waits for our mutex.
        let counts = Arc::new(Counts::default());
        let waker = Waker::from(Arc::clone(&counts));
        let mut cx = Context::from_waker(&waker);
        assert_eq!(pin!(other.recv()).poll(&mut cx), Poll::Ready(Ok(1)));
        assert!(pin!(other.recv()).poll(&mut cx).is_pending());
        // It gave up waiting for the list and asked to be polled again.
        assert_eq!(counts.0.load(Ordering::SeqCst), 1);
        drop(held);
        let bus = publisher.join().unwrap();
        assert_eq!(waiting.wakes.load(Ordering::SeqCst), 1);

        // Polled again, as it asked: nothing was lost.
        bus.publish(2);
        assert_eq!(pin!(other.recv()).poll(&mut cx), Poll::Ready(Ok(2)));
        assert_eq!(first.try_recv().unwrap(), 1);
        assert_eq!(first.try_recv().unwrap(), 2);
    });
}

/// A waker with a bug.
struct Panics;

impl Wake for Panics {
    fn wake(self: Arc<Self>) {
        panic!("a waker's bug");
    }
}

#[test]
fn a_waker_that_panics_under_the_lock_leaves_the_list_usable() {
    without_deadlock(|| {
        let bus = SoaBus::<u64>::with_capacity(8).unwrap();
        let mut rx = bus.subscribe();
        park(&mut rx, &Waker::from(Arc::new(Panics)));
        let publish = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| bus.publish(1)));
        assert!(publish.is_err(), "the waker's panic reaches the publisher");
        assert_eq!(rx.try_recv().unwrap(), 1, "stored before the sweep");
        // The list's lock was released by the unwinding: parking and the
        // next sweep work.
        let counts = Arc::new(Counts::default());
        park(&mut rx, &Waker::from(Arc::clone(&counts)));
        bus.publish(2);
        assert_eq!(counts.0.load(Ordering::SeqCst), 1);
        assert_eq!(rx.try_recv().unwrap(), 2);
    });
}
