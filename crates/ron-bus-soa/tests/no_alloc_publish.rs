//! Publishing allocates nothing per message: a counting global allocator
//! sees no allocation across many publishes (to idle and to lapped
//! subscribers, on the shared and the per-mask rings, single and batched).

#![cfg(not(loom))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// A global allocator is an `unsafe` trait: one of the few files tidy allows unsafe code in.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use ron_bus::{BusBackend, BusReceiver};
use ron_bus_soa::SoaBus;

/// Counts allocations made by a thread while its `COUNTING` is on: the
/// publishing thread's own (the test harness's threads allocate when they
/// please, more often when the machine is loaded).
struct Counting;

thread_local! {
    /// Const-initialised and without a destructor: reading it allocates
    /// nothing, so the allocator may read it.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

fn counting() -> bool {
    COUNTING.try_with(Cell::get).unwrap_or(false)
}

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if counting() {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if counting() {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn publishing_allocates_nothing_per_message() {
    let bus = SoaBus::<u64>::with_capacity(64).unwrap();
    let mut all = bus.subscribe();
    let mut narrow = bus.subscribe_with_interest(0b10);
    // Warm up: the first publish from this thread takes a stats slot.
    bus.publish(0);
    bus.publish_topic(0b10, 0);

    COUNTING.with(|c| c.set(true));
    for i in 0..10_000u64 {
        bus.publish(i);
        bus.publish_topic(0b10, i);
        bus.publish_topic(0b01, i);
    }
    bus.publish_many(0..1_000);
    COUNTING.with(|c| c.set(false));

    assert_eq!(ALLOCATIONS.load(Ordering::SeqCst), 0, "publish allocated");
    // The subscribers were lapped, and learn it.
    assert!(matches!(
        all.try_recv(),
        Err(ron_bus::TryRecvError::Lagged(_))
    ));
    assert!(matches!(
        narrow.try_recv(),
        Err(ron_bus::TryRecvError::Lagged(_))
    ));
}
