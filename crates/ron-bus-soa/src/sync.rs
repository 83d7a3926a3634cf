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

/// Locks a mutex. The data behind our locks (reader pins, ring lists) stays
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

/// A lock its holder may take again (the parked list's): the wake sweep
/// wakes while holding it, and a waker may run code that parks or drops a
/// subscriber of the same ring on the same thread, which must not deadlock.
/// A waker that panics unwinds through the guard, which releases it (no
/// poisoning). Under loom, a plain mutex: the models' wakers never
/// re-enter.
#[derive(Debug)]
pub(crate) struct ReentrantLock<T> {
    #[cfg(not(loom))]
    inner: parking_lot::ReentrantMutex<std::cell::RefCell<T>>,
    #[cfg(loom)]
    inner: Mutex<T>,
}

/// A held [`ReentrantLock`]: the data is reached through
/// [`with`](Held::with), never across a call into a waker (a re-entering
/// holder's own `with` would find it borrowed and panic).
pub(crate) struct Held<'a, T> {
    #[cfg(not(loom))]
    guard: parking_lot::ReentrantMutexGuard<'a, std::cell::RefCell<T>>,
    #[cfg(loom)]
    guard: loom::sync::MutexGuard<'a, T>,
}

impl<T> ReentrantLock<T> {
    pub(crate) fn new(value: T) -> Self {
        Self {
            #[cfg(not(loom))]
            inner: parking_lot::ReentrantMutex::new(std::cell::RefCell::new(value)),
            #[cfg(loom)]
            inner: Mutex::new(value),
        }
    }

    /// Takes the lock (again, if this thread holds it), waiting at most
    /// `patience` for another thread to release it; `None` if it did not.
    /// Under loom it waits as long as it takes.
    pub(crate) fn hold_within(&self, patience: std::time::Duration) -> Option<Held<'_, T>> {
        #[cfg(not(loom))]
        return self
            .inner
            .try_lock_for(patience)
            .map(|guard| Held { guard });
        #[cfg(loom)]
        {
            let _ = patience;
            Some(self.hold())
        }
    }

    /// Takes the lock (again, if this thread holds it).
    pub(crate) fn hold(&self) -> Held<'_, T> {
        #[cfg(not(loom))]
        return Held {
            guard: self.inner.lock(),
        };
        #[cfg(loom)]
        Held {
            guard: self.inner.lock().unwrap_or_else(|e| e.into_inner()),
        }
    }
}

impl<T> Held<'_, T> {
    /// Runs `f` on the locked data.
    pub(crate) fn with<R>(&mut self, f: impl FnOnce(&mut T) -> R) -> R {
        #[cfg(not(loom))]
        return f(&mut self.guard.borrow_mut());
        #[cfg(loom)]
        f(&mut self.guard)
    }
}
