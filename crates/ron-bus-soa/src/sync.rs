//! The synchronisation primitives the ring and bus use, from `std` or, under
//! `RUSTFLAGS="--cfg loom"`, from loom, so the same code runs in loom's
//! model checker (the pattern tokio uses).

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, fence};
#[cfg(loom)]
pub(crate) use loom::sync::{Arc, Mutex, RwLock};

#[cfg(not(loom))]
pub(crate) use parking_lot::{Mutex, RwLock};
#[cfg(not(loom))]
pub(crate) use std::sync::Arc;
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, fence};

/// `UnsafeCell` with loom's closure API, so loom can track every access.
#[cfg(loom)]
pub(crate) use loom::cell::UnsafeCell;

/// `UnsafeCell` with loom's closure API (`with`, `with_mut`), so the ring's
/// code is the same with and without loom.
#[cfg(not(loom))]
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    pub(crate) const fn new(value: T) -> Self {
        Self(std::cell::UnsafeCell::new(value))
    }

    /// Runs `f` with a shared pointer to the contents.
    #[inline]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Runs `f` with an exclusive pointer to the contents.
    #[inline]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// Locks a mutex. The data behind our locks (waker lists, ring lists) stays
/// consistent across a panic in a caller's waker, so a lock a panic
/// unwound through is still good: parking_lot's locks do not poison, and
/// loom's poisoning is ignored.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> impl std::ops::DerefMut<Target = T> + '_ {
    #[cfg(loom)]
    return mutex.lock().unwrap_or_else(|e| e.into_inner());
    #[cfg(not(loom))]
    mutex.lock()
}

/// One step of a short spin-wait (loom: let another thread run).
#[inline]
pub(crate) fn spin() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::hint::spin_loop();
}

/// Read-locks (the ring lists stay consistent across a panic: as [`lock`]).
pub(crate) fn read<T>(rwlock: &RwLock<T>) -> impl std::ops::Deref<Target = T> + '_ {
    #[cfg(loom)]
    return rwlock.read().unwrap_or_else(|e| e.into_inner());
    #[cfg(not(loom))]
    rwlock.read()
}

/// Write-locks (the ring lists stay consistent across a panic: as [`lock`]).
pub(crate) fn write<T>(rwlock: &RwLock<T>) -> impl std::ops::DerefMut<Target = T> + '_ {
    #[cfg(loom)]
    return rwlock.write().unwrap_or_else(|e| e.into_inner());
    #[cfg(not(loom))]
    rwlock.write()
}
