//! Polling a future by hand with a waker that counts its wake-ups.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

/// A waker that only counts.
#[derive(Default)]
pub(crate) struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A waker plus its wake-up count.
pub(crate) struct Probe {
    count: Arc<CountingWaker>,
    waker: Waker,
}

impl Probe {
    pub(crate) fn new() -> Self {
        let count = Arc::new(CountingWaker::default());
        Self {
            waker: Waker::from(Arc::clone(&count)),
            count,
        }
    }

    pub(crate) fn wakes(&self) -> usize {
        self.count.0.load(Ordering::SeqCst)
    }

    /// Clones of this probe's waker alive outside the probe (held by a bus
    /// or a future).
    pub(crate) fn clones_alive(&self) -> usize {
        // The probe holds two references: `count` and `waker`.
        Arc::strong_count(&self.count) - 2
    }

    pub(crate) fn poll<F: Future>(&self, future: Pin<&mut F>) -> Poll<F::Output> {
        future.poll(&mut Context::from_waker(&self.waker))
    }
}
