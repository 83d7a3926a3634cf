//! The ring: a bounded, lossy, multi-publisher broadcast ring laid out as
//! structure-of-arrays. The only module of the crate that uses `unsafe`.
//!
//! # Layout
//!
//! Two arrays of `capacity` entries, indexed by `seq & mask`:
//! - `meta[i]`: the slot's `stamp`, `seq + 1` of the message it holds (0:
//!   never written), and its `lock`, the slot's reader count or [`WRITER`]
//!   while a publisher writes it. Every read and write of a slot touches
//!   both, so they share a cache line (apart, each access would miss twice);
//! - `payloads[i]`: the message itself, in its own array so that the
//!   metadata lines stay dense and a payload's size does not spread them.
//!
//! plus `tail` (the next sequence number to claim) on its own cache line,
//! and the parked-subscriber list.
//!
//! # Protocol and invariants
//!
//! - **Claim**: a publisher takes `seq = tail.fetch_add(1)`; each sequence
//!   number is claimed exactly once.
//! - **Write**: it locks slot `i = seq & mask` (CAS `lock` 0 → `WRITER`, so
//!   no reader is inside and no other writer), writes the payload unless a
//!   newer sequence already occupies the slot, stores `stamp = seq + 1`
//!   and unlocks. **I1**: the payload of slot `i` is initialised iff its
//!   stamp is not 0, and it is only written while its lock is `WRITER`.
//! - **Read**: a subscriber at cursor `c` loads the stamp of slot
//!   `c & mask`. Equal to `c + 1`: it read-locks the slot (CAS `lock`
//!   r → r + 1, never while `WRITER` is set), checks the stamp again and clones the payload. **I2**:
//!   a payload is only read while its slot is read-locked, and then no
//!   writer can touch it. Greater: the slot was overwritten (the reader was
//!   lapped): it jumps to the oldest retained sequence, `tail - capacity`,
//!   and reports exactly how many it skipped. Smaller: not written yet.
//! - **Wake**: after writing, a publisher issues a SeqCst fence and reads
//!   the parked count; a parking subscriber registers, fences, and reads the
//!   stamp again (Dekker), so one of them always sees the other.

#![allow(unsafe_code)]

use std::mem::MaybeUninit;
use std::task::Waker;

use crate::sync::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Mutex, UnsafeCell, fence, lock};
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release, SeqCst};

/// A slot's lock while a publisher writes the slot.
const WRITER: u32 = 1 << 31;

/// A slot's stamp and lock, side by side: every read and write touches
/// both, so they share a cache line.
#[derive(Debug)]
struct Meta {
    stamp: AtomicU64,
    lock: AtomicU32,
}

/// Keeps a hot, written field off the lines other fields live on.
#[repr(align(128))]
#[derive(Debug)]
struct Padded<T>(T);

/// What a read found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Read<T> {
    /// The message at the cursor; the cursor moved past it.
    Message(T),
    /// The cursor was lapped: this many messages were lost; the cursor now
    /// points at the oldest retained one.
    Lagged(u64),
    /// Nothing at the cursor yet.
    Empty,
    /// Nothing at the cursor, and nothing will come: every publisher is gone.
    Closed,
}

/// A bounded broadcast ring (see the module docs for the protocol).
pub(crate) struct Ring<T> {
    mask: u64,
    capacity: u64,
    tail: Padded<AtomicU64>,
    meta: Box<[Meta]>,
    payloads: Box<[UnsafeCell<MaybeUninit<T>>]>,
    /// Set once, after the last publish (every publisher handle is gone).
    closed: AtomicBool,
    /// Subscribers reading this ring.
    receivers: AtomicUsize,
    parked: Padded<Parked>,
}

// SAFETY: the payloads are only written under the slot's writer lock and
// only read (cloned) under its reader lock (I1, I2), so sharing a `Ring`
// between threads moves or clones `T`s across threads: `T: Send + Sync`
// makes both sound. Everything else is atomics and mutexes.
unsafe impl<T: Send + Sync> Sync for Ring<T> {}
// SAFETY: as above; owning a `Ring` owns its `T`s.
unsafe impl<T: Send> Send for Ring<T> {}

impl<T> std::fmt::Debug for Ring<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ring")
            .field("capacity", &self.capacity)
            .field("tail", &self.tail.0.load(Relaxed))
            .field("receivers", &self.receivers.load(Relaxed))
            .finish_non_exhaustive()
    }
}

impl<T> Ring<T> {
    /// A ring of `capacity` slots; `capacity` must be a power of two.
    pub(crate) fn new(capacity: usize) -> Self {
        debug_assert!(capacity.is_power_of_two());
        Self {
            mask: capacity as u64 - 1,
            capacity: capacity as u64,
            tail: Padded(AtomicU64::new(0)),
            meta: (0..capacity)
                .map(|_| Meta {
                    stamp: AtomicU64::new(0),
                    lock: AtomicU32::new(0),
                })
                .collect(),
            payloads: (0..capacity)
                .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
                .collect(),
            closed: AtomicBool::new(false),
            receivers: AtomicUsize::new(0),
            parked: Padded(Parked::new()),
        }
    }

    /// Subscribers reading this ring.
    pub(crate) fn receivers(&self) -> usize {
        self.receivers.load(Relaxed)
    }

    /// Registers a subscriber; its cursor starts at the returned sequence
    /// (it sees only later messages).
    pub(crate) fn add_receiver(&self) -> u64 {
        self.receivers.fetch_add(1, SeqCst);
        // Acquire: pairs with the AcqRel claims, so the cursor is at or
        // past every claim this thread could know of.
        self.tail.0.load(Acquire)
    }

    /// Unregisters a subscriber.
    pub(crate) fn remove_receiver(&self) {
        self.receivers.fetch_sub(1, SeqCst);
    }

    /// Writes `msg` as the next message, without waking anyone (see
    /// [`wake_parked`](Self::wake_parked)).
    pub(crate) fn push(&self, msg: T) {
        // AcqRel: a reader computing how far it was lapped loads `tail` with
        // Acquire and must see a claim at least as new as the stamp it saw.
        let seq = self.tail.0.fetch_add(1, AcqRel);
        self.write(seq, msg);
    }

    /// Writes every `Some` in `msgs`, in order, as the next messages,
    /// claiming their sequence numbers with one `fetch_add`; wakes nobody.
    pub(crate) fn push_all(&self, msgs: &mut [Option<T>]) {
        let count = msgs.iter().filter(|m| m.is_some()).count() as u64;
        if count == 0 {
            return;
        }
        // AcqRel: as in `push`. Exactly `count` messages are written below,
        // one per claimed sequence number, so no claim is left unwritten.
        let first = self.tail.0.fetch_add(count, AcqRel);
        for (seq, msg) in (first..).zip(msgs.iter_mut().filter_map(Option::take)) {
            self.write(seq, msg);
        }
    }

    /// Writes `msg` as sequence `seq` (claimed by the caller).
    fn write(&self, seq: u64, msg: T) {
        let index = (seq & self.mask) as usize;
        let (stamp, lock, payload) = (
            &self.meta[index].stamp,
            &self.meta[index].lock,
            &self.payloads[index],
        );
        // Acquire the slot: no reader inside, no other writer. Readers hold
        // it only for a clone, so this waits for at most that long.
        while lock.compare_exchange(0, WRITER, Acquire, Relaxed).is_err() {
            crate::sync::spin();
        }
        // Relaxed: stamps are only stored under this lock, which we hold.
        let old = stamp.load(Relaxed);
        if old > seq + 1 {
            // A publisher `capacity` claims ahead already wrote this slot:
            // our message was lapped before anyone could read it.
            lock.store(0, Release);
            return;
        }
        let replaced = payload.with_mut(|slot| {
            // SAFETY: we hold the slot's writer lock (I1), so nobody else
            // reads or writes `slot`; it is initialised iff `old != 0` (I1),
            // so the old message is moved out exactly once (and dropped
            // below, outside the lock) before the new one is written.
            unsafe {
                let replaced = (old != 0).then(|| (*slot).assume_init_read());
                (*slot).write(msg);
                replaced
            }
        });
        // Release: a reader that sees this stamp (Acquire) sees the payload.
        stamp.store(seq + 1, Release);
        // Release: pairs with the readers' Acquire CAS on the lock.
        lock.store(0, Release);
        drop(replaced);
    }

    /// Parks a subscriber until the next wake sweep: registers `waker`,
    /// or replaces the one it registered earlier in this sweep's list.
    /// `ticket` is the subscriber's own record of where it is registered.
    pub(crate) fn park(&self, ticket: &mut Option<Ticket>, waker: &Waker) {
        {
            let mut list = lock(&self.parked.0.list);
            match *ticket {
                Some(Ticket { sweep, index }) if sweep == list.sweep => {
                    if let Some(registered) = list.wakers.get_mut(index)
                        && !registered.will_wake(waker)
                    {
                        *registered = waker.clone();
                    }
                }
                _ => {
                    list.wakers.push(waker.clone());
                    *ticket = Some(Ticket {
                        sweep: list.sweep,
                        index: list.wakers.len() - 1,
                    });
                    self.parked.0.count.store(list.wakers.len(), SeqCst);
                }
            }
        }
        // Dekker with `wake_parked`: our registration above, then the
        // caller's second look at the ring; the publisher's stamp, then its
        // look at the parked count.
        fence(SeqCst);
    }

    /// Wakes every parked subscriber, once each (a publish calls this once,
    /// however many messages it wrote).
    pub(crate) fn wake_parked(&self) {
        fence(SeqCst);
        if self.parked.0.count.load(Relaxed) == 0 {
            return;
        }
        let wakers = {
            let mut list = lock(&self.parked.0.list);
            list.sweep += 1;
            self.parked.0.count.store(0, SeqCst);
            std::mem::take(&mut list.wakers)
        };
        // Outside the lock: a waker may run arbitrary code.
        for waker in wakers {
            waker.wake();
        }
    }

    /// Marks the ring closed (after its last publish) and wakes everyone.
    pub(crate) fn close(&self) {
        self.closed.store(true, SeqCst);
        self.wake_parked();
    }
}

impl<T: Clone> Ring<T> {
    /// Reads the message at `*cursor`, moving the cursor on.
    pub(crate) fn read(&self, cursor: &mut u64) -> Read<T> {
        loop {
            let c = *cursor;
            let index = (c & self.mask) as usize;
            // Acquire: pairs with the writer's Release store of the stamp.
            let stamp = self.meta[index].stamp.load(Acquire);
            if stamp == c + 1 {
                if let Some(msg) = self.read_locked(index, c) {
                    *cursor = c + 1;
                    return Read::Message(msg);
                }
                // A writer holds the slot, or wrote it between our two looks.
                // Usually it overwrites c with c + capacity, but it may be a
                // stalled writer of c - capacity that will find the newer
                // stamp and leave: wait for it to finish, then look again.
                crate::sync::spin();
                continue;
            }
            if stamp > c + 1 {
                return self.lapped(cursor);
            }
            // Not written yet: empty, or claimed and in progress (its
            // publisher wakes us when done), unless the ring is closed.
            // `closed` is looked at before `tail`: it is read-mostly, while
            // loading `tail` would pull its line away from the publishers.
            // Acquire: pairs with `close`'s SeqCst store, which follows every
            // publish; seeing it means seeing all of them.
            if !self.closed.load(Acquire) {
                return Read::Empty;
            }
            if c < self.tail.0.load(Acquire) {
                // Written before the close: look at the stamp again.
                continue;
            }
            return Read::Closed;
        }
    }

    /// The message at `*cursor` was overwritten: moves the cursor to the
    /// oldest retained sequence and says how many were skipped.
    fn lapped(&self, cursor: &mut u64) -> Read<T> {
        let c = *cursor;
        // The slot holds a sequence >= c + capacity, so the oldest retained
        // one, tail - capacity, is past c. Acquire: pairs with the AcqRel
        // claim of the sequence whose stamp we saw, so `tail` shows it.
        let tail = self.tail.0.load(Acquire);
        let next = tail.saturating_sub(self.capacity).max(c + 1);
        *cursor = next;
        Read::Lagged(next - c)
    }

    /// Clones the payload of slot `index` if it still holds sequence `seq`.
    fn read_locked(&self, index: usize, seq: u64) -> Option<T> {
        let lock = &self.meta[index].lock;
        let mut current = lock.load(Relaxed);
        loop {
            if current & WRITER != 0 {
                // Being overwritten: our message is gone (or going).
                return None;
            }
            // Acquire: pairs with the writer's Release unlock, so the payload
            // it wrote is visible.
            match lock.compare_exchange(current, current + 1, Acquire, Relaxed) {
                Ok(_) => break,
                Err(now) => current = now,
            }
        }
        let _unlock = ReadLock(lock);
        if self.meta[index].stamp.load(Acquire) != seq + 1 {
            return None;
        }
        Some(self.payloads[index].with(|slot| {
            // SAFETY: the slot is read-locked (I2: no writer can enter until
            // `_unlock` drops, even if `clone` panics) and its stamp is
            // `seq + 1 != 0`, so it is initialised (I1).
            unsafe { (*slot).assume_init_ref().clone() }
        }))
    }
}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        for (Meta { stamp, .. }, payload) in self.meta.iter().zip(self.payloads.iter()) {
            // Relaxed: `&mut self`, no other thread can access the ring.
            if stamp.load(Relaxed) != 0 {
                payload.with_mut(|slot| {
                    // SAFETY: stamp != 0 means initialised (I1); we own the
                    // ring, so this is the last access.
                    unsafe { (*slot).assume_init_drop() }
                });
            }
        }
    }
}

/// Releases a read lock, also when a payload's `clone` panics.
struct ReadLock<'a>(&'a AtomicU32);

impl Drop for ReadLock<'_> {
    fn drop(&mut self) {
        // Release: our read of the payload happens before a writer's
        // Acquire CAS that takes the slot.
        self.0.fetch_sub(1, Release);
    }
}

/// The subscribers parked on a ring.
#[derive(Debug)]
struct Parked {
    list: Mutex<ParkList>,
    /// `list.wakers.len()`, read by every publish without the lock.
    count: AtomicUsize,
}

impl Parked {
    fn new() -> Self {
        Self {
            list: Mutex::new(ParkList {
                sweep: 0,
                wakers: Vec::new(),
            }),
            count: AtomicUsize::new(0),
        }
    }
}

#[derive(Debug)]
struct ParkList {
    /// Sweeps so far: a ticket from an earlier sweep is void.
    sweep: u64,
    wakers: Vec<Waker>,
}

/// Where a subscriber's waker sits in a ring's parked list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ticket {
    sweep: u64,
    index: usize,
}
