//! A small index per live thread, so per-thread counters can sit in a plain
//! array that each thread writes without a locked instruction.
//!
//! Invariant: at any instant at most one thread holds a given slot below
//! [`SLOTS`]. A slot is handed back when its thread exits and handed out
//! again under the same mutex, so the old owner's last writes happen-before
//! the new owner's first.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;

/// Slots available; threads beyond this many at once share a fallback.
pub(crate) const SLOTS: usize = 64;
/// "Not asked yet" marker in [`SLOT`].
const UNASSIGNED: usize = usize::MAX;
/// "No slot": callers use their shared fallback.
const NO_SLOT: usize = SLOTS;

/// Slots handed back by exited threads.
static FREE: Mutex<Vec<usize>> = Mutex::new(Vec::new());
/// Slots never handed out yet start here.
static NEXT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's slot. A `Cell<usize>` has no destructor, so reading it
    /// is a plain thread-local load, even during thread teardown.
    static SLOT: Cell<usize> = const { Cell::new(UNASSIGNED) };
    /// Hands the slot back when the thread exits.
    static RELEASE: RefCell<Option<Release>> = const { RefCell::new(None) };
}

struct Release(usize);

impl Drop for Release {
    fn drop(&mut self) {
        // Stop using the slot before another thread can take it; later
        // writes from this thread's remaining destructors use the fallback.
        let _ = SLOT.try_with(|slot| slot.set(NO_SLOT));
        FREE.lock().push(self.0);
    }
}

/// This thread's slot: below [`SLOTS`] when the thread owns one (it is then
/// the only writer of that index), [`SLOTS`] or above when it has none.
#[inline]
pub(crate) fn current() -> usize {
    match SLOT.try_with(Cell::get) {
        Ok(UNASSIGNED) => assign(),
        Ok(slot) => slot,
        Err(_) => NO_SLOT,
    }
}

#[cold]
fn assign() -> usize {
    let taken = FREE.lock().pop().or_else(|| {
        NEXT.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
            (n < SLOTS).then_some(n + 1)
        })
        .ok()
    });
    let slot = match taken {
        // Only keep a slot whose release at thread exit is arranged.
        Some(slot)
            if RELEASE
                .try_with(|r| *r.borrow_mut() = Some(Release(slot)))
                .is_ok() =>
        {
            slot
        }
        Some(slot) => {
            FREE.lock().push(slot);
            NO_SLOT
        }
        None => NO_SLOT,
    };
    let _ = SLOT.try_with(|s| s.set(slot));
    slot
}

/// Tests that need many slots at once take this, so they do not starve
/// each other when the harness runs them in parallel.
#[cfg(test)]
pub(crate) static MANY_THREADS: Mutex<()> = Mutex::new(());

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::sync::{Arc, Barrier};

    #[test]
    fn a_thread_keeps_its_slot() {
        assert_eq!(current(), current());
    }

    #[test]
    fn live_threads_never_share_a_slot_and_exited_ones_give_theirs_back() {
        let _many = MANY_THREADS.lock();
        for _round in 0..3 {
            // 16 threads alive at once: all distinct (or without a slot).
            let barrier = Arc::new(Barrier::new(16));
            let threads: Vec<_> = (0..16)
                .map(|_| {
                    let barrier = Arc::clone(&barrier);
                    std::thread::spawn(move || {
                        let slot = current();
                        barrier.wait();
                        slot
                    })
                })
                .collect();
            let slots: Vec<usize> = threads.into_iter().map(|t| t.join().unwrap()).collect();
            let owned: Vec<usize> = slots.iter().copied().filter(|s| *s < SLOTS).collect();
            let distinct: HashSet<usize> = owned.iter().copied().collect();
            assert_eq!(distinct.len(), owned.len(), "{slots:?}");
        }
        // 48 threads came and went (plus the test threads): without
        // recycling, slots would be exhausted long before this.
        assert!(std::thread::spawn(current).join().unwrap() < SLOTS);
    }
}
