//! The ring: a bounded, lossy, multi-publisher broadcast ring laid out as
//! structure-of-arrays. The only module of the crate that uses `unsafe`,
//! and the one home of the ring's protocol: the crate docs, its README,
//! `docs/BUS.md` and `docs/ARCHITECTURE.md` summarise what is written here.
//! What the ring is for (one ring per interest mask, batches in chunks, the
//! wake sweep per publish) is the bus's (`bus.rs`); what every backend owes
//! its callers is the contract in `ron-bus`.
//!
//! # Layout: who writes, who reads
//!
//! Per ring, two arrays and a few words; the words written on the hot path
//! each sit on their own cache line (see the fields of [`Ring`]).
//!
//! | field | holds | written by | read by |
//! |---|---|---|---|
//! | `stamps[capacity]`, index `seq & mask` | `seq + 1` of the newest message written in the slot (0: none yet) | the publisher of that message (Release) | readers (Acquire), the publisher of the slot's next lap |
//! | `cells[2 * capacity]`, index `seq & cell_mask` | the payloads | the publisher of that message | pinned readers (clone) |
//! | `tail` | the next sequence number to claim | publishers (`fetch_add`) | readers computing their lag, publishers raising the floor, new subscribers (their start) |
//! | `floor.claimed` | readers pinned below it back off | publishers, about once per `capacity` publishes | readers, after pinning |
//! | `floor.safe` | payloads of sequences below it may be overwritten | publishers, after scanning the pins | publishers, before overwriting |
//! | one pin per subscriber | the sequence it is cloning, or `UNPINNED` | that subscriber only, on its own cache line | publishers raising the floor |
//! | `parked` (list and count) | the wakers of parked subscribers | parking and leaving subscribers, the wake sweep | every publish (the count, no lock) |
//!
//! Twice as many cells as slots: publishing `seq` overwrites the payload of
//! `seq - 2 * capacity`, a message no reader may still be handed (it is
//! already outside the retained window of `capacity`). The price: a ring
//! keeps up to `2 * capacity` payloads alive.
//!
//! # Invariants
//!
//! - **I1** cell `j` is initialised once sequence `j`, its first, has been
//!   written (at rest, every claim written: iff `j < tail`), and then holds the
//!   newest written `s` with `s & cell_mask == j`.
//! - **I2** a cell is only read (cloned) while its reader is pinned at its
//!   sequence, having pinned at a sequence `>= floor.claimed` (checked
//!   after the pin; a run of reads then moves the pin up, never down,
//!   without a new check), and only written for a sequence whose old
//!   payload is below `floor.safe`: no torn read, no use after free,
//!   whatever `T` is.
//! - **I3** from a claim to the stamp of the last sequence it claimed, a
//!   publisher runs none of the payload's code.
//!
//! # Protocol
//!
//! - **Claim**: a publisher takes `seq = tail.fetch_add(1)` (a batch chunk
//!   claims its `n` sequences with one `fetch_add(n)` and frees their cells
//!   at once, [`Ring::push_all`]); each sequence number is claimed exactly
//!   once, and written. For I3, messages are cloned before the claim (one
//!   copy per ring), and the payloads the writes replace are handed back and
//!   dropped after the stamps (by `push` after its write, by `push_all`'s
//!   caller after the chunk). So a `clone` or `drop` that panics propagates
//!   with every claimed sequence written: no publisher waits forever on a
//!   stamp, and each payload has exactly one owner (a cell or the caller's
//!   buffer), so none is dropped twice or leaked; the bus's wake sweep still
//!   runs (it is a drop guard in `bus.rs`). A reader whose `clone` panics
//!   unpins on the way out (a drop guard), so it never holds the floor back,
//!   and has already moved its cursor past the message: the receive that
//!   panicked consumed it, so a payload whose `clone` always panics costs
//!   each subscriber one panic, never a stuck subscriber.
//! - **Order per slot**: the publisher of `seq` waits until its slot's stamp
//!   is that of `seq - capacity` (0 for the first lap), then writes the cell
//!   and stores the stamp `seq + 1` (Release). So stamps only grow, and by
//!   induction the cell's previous payload, `seq - 2 * capacity`, was
//!   written before (I1). This waits only for another publisher, never for
//!   a reader.
//! - **Read**: a subscriber at cursor `c` loads the stamp of slot
//!   `c & mask` (Acquire). Equal to `c + 1`: it *pins* `c` (stores `c` to
//!   its own pin, then a SeqCst fence), checks `c >= floor.claimed`, clones
//!   cell `c & cell_mask` and unpins. Greater, or the floor has passed `c`:
//!   it was lapped: it jumps to the oldest retained sequence,
//!   `tail - capacity`, and reports exactly how many it skipped
//!   (`Lagged(new - c)`). Smaller: not written yet (or, once `closed` is
//!   set and `c` has reached `tail`, never will be).
//! - **Read a run** ([`Ring::read_many`], a subscriber's `recv_many`): as a
//!   read, pinning and fencing once, for the first sequence `c`; then for
//!   each next sequence `s` whose stamp is `s + 1` (Acquire), it moves its
//!   pin up to `s` (a Release store, no fence, no new floor check) and
//!   clones. A pin only moving up keeps the Dekker argument: a scan whose
//!   fence preceded the reader's raised a claim the reader saw (at most
//!   `c`), and every later scan sees the pin, whose value bounds the
//!   reader's from below. Any other stamp ends the run before it, so a lap
//!   is reported by the next read, from that cursor, exactly as single
//!   reads report it.
//! - **Floor**: before overwriting the payload of `old = seq - 2 * capacity`,
//!   a publisher makes sure `floor.safe > old`. If not, it raises
//!   `floor.claimed` to `tail - capacity` (everything below is outside the
//!   retained window, so this covers the next `capacity` publishes), fences,
//!   and raises `floor.safe` to the lower of that and the lowest pin,
//!   waiting only while a reader is pinned on `old` itself: a reader
//!   preempted in the middle of a `clone` holds back that one cell, not the
//!   ring. The pins are scanned under a mutex that only subscribe,
//!   unsubscribe and this scan take: about once per `capacity` publishes,
//!   O(subscribers). They sit in a slab (a leaving subscriber's slot is
//!   reused), so subscribe and unsubscribe are O(1). The two fences make one side see the other (Dekker, a
//!   store-buffering pair): a pin the scan missed sees the raised claim and
//!   backs off, so no writer touches a cell while it is being cloned (I2).
//!   Sequences below `floor.claimed` are outside the retained window, so
//!   backing off is a lag, never a lost retained message.
//! - **Wake**: a parking subscriber puts its waker in the parked list (a
//!   vector under a mutex; its [`Ticket`] names the sweep it joined, so a
//!   repeat park replaces its waker instead of adding one, and a leaving
//!   subscriber takes its waker out and leaves its index for the next to
//!   park), stores the number parked in an atomic count, fences (SeqCst)
//!   and reads the stamp again. After writing, a publisher fences and reads
//!   the count: if non-zero it takes the whole list and wakes each waker
//!   once, the first while still holding the list's lock (reentrant, so a
//!   waker that parks or drops a subscriber on the sweeping thread joins
//!   the next sweep's list). Dekker again, so one of them always sees the
//!   other and no wake-up is lost; nobody parked costs a publish one fence
//!   and one load.
//!
//! A read costs loads, two stores (pin, unpin) to the reader's own cache
//! line and one fence (a run of `n`: `n + 1` stores and one fence), and
//! writes no line another reader or a publisher writes: readers do not
//! contend with each other, and publishers never wait for them except for
//! a reader in the middle of a `clone` of the very payload being replaced.
//!
//! # How it is checked
//!
//! The ring's synchronisation is the claim (`fetch_add`), the per-slot
//! stamp order, the Release/Acquire stamp, the fence-paired pins and floor,
//! and the fence-paired parked count. Under `RUSTFLAGS="--cfg loom"` the
//! same code runs on loom's atomics, mutexes, `UnsafeCell` (which flags any
//! concurrent payload access as a data race) and fences (`sync.rs` is the
//! shim). `tests/loom_ring.rs` explores every interleaving (preemption
//! bound 3) of: one publisher and one subscriber across a wrap-around; two
//! publishers racing for slots and for one slot; a reader lapped while
//! reading, and two publishers reusing cells while a reader reads (a
//! payload whose halves must agree detects a torn read, loom's `UnsafeCell`
//! a concurrent clone and overwrite); a run (`recv_many`) read while a
//! publisher laps it and while two publishers reuse its cells, its pin
//! moving from cell to cell; close while a reader is parked; a
//! publish and a close each waking a parked reader; a receiver leaving the
//! parked list while another parks and a publish sweeps. `cargo xtask ci`
//! runs the lane.
//!
//! The models were checked by injecting faults: a leaving receiver that
//! zeroes the parked count makes loom report the other reader's lost
//! wake-up as a deadlock; dropping the reader's fence, or the publisher's
//! wait for pins, fails both cell models; moving a run's pin one past the
//! cell it is cloning fails the two-publisher run model (loom: a
//! concurrent read and write of that cell). Each model's reading loop yields
//! to loom's scheduler between polls: without a switch point there, loom
//! ran the polls before the publisher thread and explored a single
//! schedule (two models were vacuous that way until the injections showed
//! it). Loom found a lost wake-up in an earlier parking design (an atomic
//! "registered" flag next to the list); the current design keeps that
//! state under the list's mutex.
//!
//! AddressSanitizer runs the ring's tests clean (payload lifetimes and the
//! conformance kit's panicking-payload case included):
//! `RUSTFLAGS="-Zsanitizer=address" cargo +nightly test -p ron-bus-soa
//! --target x86_64-unknown-linux-gnu --test conformance --test
//! payload_lifetimes`. Miri is not available on the project machine's
//! nightly.

#![allow(unsafe_code)]

use std::mem::MaybeUninit;
use std::task::Waker;

use crate::sync::{
    Arc, AtomicBool, AtomicU64, AtomicUsize, Mutex, ReentrantLock, UnsafeCell, fence, lock,
};
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release, SeqCst};

/// A pin's value while its subscriber is not reading a cell.
const UNPINNED: u64 = u64::MAX;

/// Keeps a hot, written field off the lines other fields live on.
#[repr(align(128))]
#[derive(Debug)]
struct Padded<T>(T);

/// What a read found. `M` is the message ([`Ring::read`]) or how many
/// were appended ([`Ring::read_many`], at least 1).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Read<M> {
    /// The message at the cursor (or the run from it); the cursor moved
    /// past it.
    Message(M),
    /// The cursor was lapped: this many messages were lost; the cursor now
    /// points at the oldest retained one.
    Lagged(u64),
    /// Nothing at the cursor yet.
    Empty,
    /// Nothing at the cursor, and nothing will come: every publisher is gone.
    Closed,
}

/// A subscriber's pin: the sequence whose cell it is cloning, or
/// [`UNPINNED`]. Written only by its subscriber, on its own cache line;
/// publishers scan it once per `capacity` publishes. `slot`: its index in
/// the ring's [`Pins`], so leaving is O(1).
#[derive(Debug)]
pub(crate) struct Pin {
    at: Arc<Padded<AtomicU64>>,
    slot: usize,
}

/// Every subscriber's pin, in a slab: a leaving subscriber empties its
/// slot and the next one to subscribe reuses it, so subscribe and
/// unsubscribe are O(1) and the floor's scan visits at most as many slots
/// as the ring ever had subscribers at once.
type Pins = Slab<Arc<Padded<AtomicU64>>>;

/// Values at stable indices: a removed value's slot is reused by the next
/// insert, so the vector never outgrows the most values held at once (the
/// ring's pins, and a sweep's parked wakers).
#[derive(Debug)]
struct Slab<T> {
    slots: Vec<Option<T>>,
    /// Empty slots of `slots`.
    free: Vec<usize>,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<T> Slab<T> {
    /// Stores `value`; returns its slot.
    fn insert(&mut self, value: T) -> usize {
        match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = Some(value);
                slot
            }
            None => {
                self.slots.push(Some(value));
                self.slots.len() - 1
            }
        }
    }

    /// Takes the value at `slot`, if there is one.
    fn remove(&mut self, slot: usize) -> Option<T> {
        let value = self.slots.get_mut(slot)?.take()?;
        self.free.push(slot);
        Some(value)
    }

    /// The value at `slot`, if there is one.
    fn get_mut(&mut self, slot: usize) -> Option<&mut T> {
        self.slots.get_mut(slot)?.as_mut()
    }

    /// Values held now.
    fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// Takes every value, leaving the slab empty.
    fn take_all(&mut self) -> impl Iterator<Item = T> + use<T> {
        self.free.clear();
        std::mem::take(&mut self.slots).into_iter().flatten()
    }

    fn iter(&self) -> impl Iterator<Item = &T> {
        self.slots.iter().flatten()
    }
}

/// The payloads publishers may overwrite (see the module docs, I2).
#[derive(Debug)]
struct Floor {
    /// Readers pinned below this back off.
    claimed: AtomicU64,
    /// Every reader pinned below this has moved on: payloads of sequences
    /// below it may be overwritten.
    safe: AtomicU64,
}

/// A bounded broadcast ring (see the module docs for the protocol).
pub(crate) struct Ring<T> {
    /// `capacity - 1`: a sequence's slot in `stamps`. Immutable.
    mask: u64,
    /// `2 * capacity - 1`: a sequence's cell in `cells`. Immutable.
    cell_mask: u64,
    /// Messages retained per subscriber, a power of two. Immutable.
    capacity: u64,
    /// The next sequence number to claim. Written by publishers only
    /// (`fetch_add`, AcqRel); read (Acquire) by lapped readers, by
    /// publishers raising the floor and by new subscribers. Its own cache
    /// line: every publish writes it.
    tail: Padded<AtomicU64>,
    /// Per slot, `seq + 1` of the newest message written there (0: none).
    /// Written (Release) by the publisher of that message only, after its
    /// cell; read (Acquire) by readers and by the publisher of the slot's
    /// next lap, who waits for it. Only grows.
    stamps: Box<[AtomicU64]>,
    /// The payloads, twice as many as slots. Written by the publisher of
    /// the sequence (its cell is freed by the floor, I2); cloned by readers
    /// pinned on it. Initialised as I1 says.
    cells: Box<[UnsafeCell<MaybeUninit<T>>]>,
    /// Raised by publishers (about once per `capacity` publishes); read by
    /// readers after pinning (`claimed`) and by publishers before
    /// overwriting (`safe`). Its own cache line, away from `tail`.
    floor: Padded<Floor>,
    /// Every subscriber's pin (each written by its subscriber only),
    /// scanned by the publisher raising the floor. The mutex is taken only
    /// by subscribe, unsubscribe and that scan.
    pins: Mutex<Pins>,
    /// Set once, after the last publish (every publisher handle is gone);
    /// read by readers that find nothing at their cursor.
    closed: AtomicBool,
    /// Subscribers reading this ring: written on subscribe and unsubscribe,
    /// read by publishers (a ring nobody reads is skipped).
    receivers: AtomicUsize,
    /// The parked subscribers' wakers and their count. The list is written
    /// under its mutex by parking and leaving subscribers and by the wake
    /// sweep; the count is read without the lock by every publish.
    parked: Padded<Parked>,
}

// SAFETY: payloads are only written by the publisher of their sequence,
// while no reader is pinned on them, and only read (cloned) by pinned
// readers (I1, I2), so sharing a `Ring` between threads moves or clones
// `T`s across threads: `T: Send + Sync` makes both sound. Everything else
// is atomics and mutexes.
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
        let cells = 2 * capacity;
        Self {
            mask: capacity as u64 - 1,
            cell_mask: cells as u64 - 1,
            capacity: capacity as u64,
            tail: Padded(AtomicU64::new(0)),
            stamps: (0..capacity).map(|_| AtomicU64::new(0)).collect(),
            cells: (0..cells)
                .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
                .collect(),
            floor: Padded(Floor {
                claimed: AtomicU64::new(0),
                safe: AtomicU64::new(0),
            }),
            pins: Mutex::new(Pins::default()),
            closed: AtomicBool::new(false),
            receivers: AtomicUsize::new(0),
            parked: Padded(Parked::new()),
        }
    }

    /// Subscribers reading this ring.
    pub(crate) fn receivers(&self) -> usize {
        self.receivers.load(Relaxed)
    }

    /// Registers a subscriber: its pin, and the sequence its cursor starts
    /// at (it sees only later messages).
    pub(crate) fn add_receiver(&self) -> (Pin, u64) {
        let at = Arc::new(Padded(AtomicU64::new(UNPINNED)));
        let slot = lock(&self.pins).insert(Arc::clone(&at));
        self.receivers.fetch_add(1, SeqCst);
        // Acquire: pairs with the AcqRel claims, so the cursor is at or
        // past every claim this thread could know of.
        (Pin { at, slot }, self.tail.0.load(Acquire))
    }

    /// Unregisters a subscriber: O(1), its pin's slot emptied.
    pub(crate) fn remove_receiver(&self, pin: &Pin) {
        self.receivers.fetch_sub(1, SeqCst);
        // Its own slot, so always there; the pin goes with it.
        drop(lock(&self.pins).remove(pin.slot));
    }

    /// Writes `msg` as the next message, without waking anyone (see
    /// [`wake_parked`](Self::wake_parked)).
    pub(crate) fn push(&self, msg: T) {
        // AcqRel: a reader computing how far it was lapped loads `tail` with
        // Acquire and must see a claim at least as new as the stamp it saw.
        let seq = self.tail.0.fetch_add(1, AcqRel);
        self.free_cells_below(seq + 1);
        // Dropped after the stamp (I3).
        let _replaced = self.write(seq, msg);
    }

    /// Writes every `Some` in `msgs`, in order, as the next messages,
    /// claiming their sequence numbers with one `fetch_add`; wakes nobody.
    /// Each `Some` is replaced by the payload its write replaced (`None` on
    /// the ring's first lap): the caller drops those once this returns, so
    /// a `drop` that panics runs after every claimed sequence is stamped
    /// (I3).
    pub(crate) fn push_all(&self, msgs: &mut [Option<T>]) {
        let count = msgs.iter().filter(|m| m.is_some()).count() as u64;
        if count == 0 {
            return;
        }
        // AcqRel: as in `push`. Exactly `count` messages are written below,
        // one per claimed sequence number, and nothing in between runs the
        // payload's code (moves only; I3), so no claim is left unwritten.
        let first = self.tail.0.fetch_add(count, AcqRel);
        self.free_cells_below(first + count);
        let mut seq = first;
        for slot in msgs.iter_mut() {
            if let Some(msg) = slot.take() {
                // `slot` is `None` here: the assignment drops nothing.
                *slot = self.write(seq, msg);
                seq += 1;
            }
        }
    }

    /// Makes the cells of claimed sequences below `end` writable: the
    /// payloads they replace, up to `end - 1 - 2 * capacity`, are then below
    /// `floor.safe` (I2).
    fn free_cells_below(&self, end: u64) {
        if let Some(old) = end.checked_sub(2 * self.capacity + 1) {
            self.wait_for_readers(old);
        }
    }

    /// Writes `msg` as sequence `seq`, claimed by the caller, who made its
    /// cell writable (`free_cells_below`). Returns the payload it replaced,
    /// for the caller to drop after the stamp (I3).
    #[must_use = "the replaced payload is the caller's to drop"]
    fn write(&self, seq: u64, msg: T) -> Option<T> {
        let stamp = &self.stamps[(seq & self.mask) as usize];
        // Wait for the slot's previous lap (0 on the first): stamps grow
        // in steps of `capacity`, and the cell's previous payload is written.
        // Acquire: pairs with that publisher's Release store of the stamp.
        let previous = seq.checked_sub(self.capacity).map_or(0, |s| s + 1);
        while stamp.load(Acquire) != previous {
            crate::sync::spin();
        }
        let initialised = seq >= 2 * self.capacity;
        let replaced = self.cells[(seq & self.cell_mask) as usize].with_mut(|cell| {
            // SAFETY: the cell is ours: its previous payload, if any, is
            // `seq - 2 * capacity` (I1), below `floor.safe` (the caller
            // freed it), so no reader is pinned on it or can pin it (I2), and
            // no other publisher writes it (claims are unique; the next one
            // for this cell waits for our stamp). It is initialised iff
            // `initialised` (I1), so the old payload is moved out exactly
            // once before the new one is written; the caller owns it from
            // here and drops it after the stamp (I3).
            unsafe {
                let old = initialised.then(|| (*cell).assume_init_read());
                (*cell).write(msg);
                old
            }
        });
        // Release: a reader that sees this stamp (Acquire) sees the payload.
        stamp.store(seq + 1, Release);
        replaced
    }

    /// Returns once no reader is, or can get, pinned on sequence `old`
    /// (I2): raises the floor past it if it is not already.
    fn wait_for_readers(&self, old: u64) {
        let floor = &self.floor.0;
        // Acquire: pairs with the Release raise of `safe` below, by us or
        // another publisher, after its scan saw the pins below it move on.
        if floor.safe.load(Acquire) > old {
            return;
        }
        // Everything below `tail - capacity` is outside the retained
        // window; claiming up to there covers the next `capacity`
        // publishes.
        let to = self
            .tail
            .0
            .load(Acquire)
            .saturating_sub(self.capacity)
            .max(old + 1);
        floor.claimed.fetch_max(to, Relaxed);
        // Dekker with `read_pinned` and `read_run`: our raised claim, then
        // our look at the pins; the reader's pin, then its look at the
        // claim. From here on nobody pins below `to`.
        fence(SeqCst);
        // Cells below both `to` and every reader's pin are free: a reader
        // pinned in between holds back only the publisher that needs its
        // very cell. Pins only move up while pinned (cursors only grow), and
        // a reader that pins again below `to` backs off, so each pin's value
        // once it is past `old` bounds it from below.
        let mut safe = to;
        for pin in lock(&self.pins).iter() {
            // Acquire: pairs with the reader's Release pin and unpin stores,
            // so its clones before that value happened before we overwrite.
            let mut at = pin.0.load(Acquire);
            while at <= old {
                // Cloning `old` itself (or backing off): wait for it.
                crate::sync::spin();
                at = pin.0.load(Acquire);
            }
            safe = safe.min(at);
        }
        floor.safe.fetch_max(safe, Release);
    }

    /// Parks a subscriber until the next wake sweep: registers `waker`,
    /// or replaces the one it registered earlier in this sweep's list.
    /// `ticket` is the subscriber's own record of where it is registered.
    pub(crate) fn park(&self, ticket: &mut Option<Ticket>, waker: &Waker) {
        let Some(mut held) = self.parked.0.list.hold_within(LIST_PATIENCE) else {
            // A sweep's waker has held the list that long: it may be
            // waiting for something this thread holds (a lock an executor
            // keeps around this poll). Not parked, nothing can be lost:
            // ask to be polled again rather than wait.
            waker.wake_by_ref();
            return;
        };
        let replaced = held.with(|list| {
            // Our waker from earlier in this sweep, if it is still there.
            // Anything else (no ticket, an old sweep's, or an empty slot,
            // which no path leaves today) registers anew: a park never ends
            // without a waker in the list, or a wake-up could be lost.
            let registered = match *ticket {
                Some(Ticket { sweep, index }) if sweep == list.sweep => list.wakers.get_mut(index),
                _ => None,
            };
            match registered {
                Some(registered) if registered.will_wake(waker) => None,
                Some(registered) => Some(std::mem::replace(registered, waker.clone())),
                None => {
                    let index = list.wakers.insert(waker.clone());
                    *ticket = Some(Ticket {
                        sweep: list.sweep,
                        index,
                    });
                    self.parked.0.count.store(list.wakers.len(), SeqCst);
                    None
                }
            }
        });
        drop(held);
        // Outside the lock and the list's borrow: dropping a waker may run
        // arbitrary code.
        drop(replaced);
        // Dekker with `wake_parked`: our registration above, then the
        // caller's second look at the ring; the publisher's stamp, then its
        // look at the parked count.
        fence(SeqCst);
    }

    /// Takes a leaving subscriber's waker out of the parked list (if it is
    /// still there), so a quiet ring does not keep the wakers, and with
    /// them the tasks, of subscribers that are gone.
    pub(crate) fn unpark(&self, ticket: &mut Option<Ticket>) {
        let Some(Ticket { sweep, index }) = ticket.take() else {
            return;
        };
        let Some(mut held) = self.parked.0.list.hold_within(LIST_PATIENCE) else {
            // As in `park`, rather than wait on a sweep's waker: ours stays
            // in the list until the next sweep wakes and drops it.
            return;
        };
        let waker = held.with(|list| {
            if sweep != list.sweep {
                return None; // Already taken by a sweep.
            }
            let waker = list.wakers.remove(index);
            // A count that drops to 0 only spares publishes the lock; a
            // publish that still sees the old count takes the lock and
            // finds one waker fewer.
            self.parked.0.count.store(list.wakers.len(), SeqCst);
            waker
        });
        drop(held);
        // Outside the lock and the list's borrow: dropping a waker may run
        // arbitrary code.
        drop(waker);
    }

    /// Wakes every parked subscriber, once each (a publish calls this once,
    /// however many messages it wrote).
    pub(crate) fn wake_parked(&self) {
        fence(SeqCst);
        if self.parked.0.count.load(Relaxed) == 0 {
            return;
        }
        let mut held = self.parked.0.list.hold();
        let mut wakers = held.with(|list| {
            list.sweep += 1;
            self.parked.0.count.store(0, SeqCst);
            list.wakers.take_all()
        });
        // The first wake happens while the lock is still held: measured,
        // that keeps the runtime's workers on the publisher's CPU instead
        // of waking the idle one (with 1–16 subscriber tasks, 86–98 % of
        // deliveries there, against 5–40 % with every wake after the
        // unlock) and halves a paced stream's wake-up latency on a VM.
        // Holding the lock for the whole sweep measured the same, and would
        // keep every re-parking subscriber waiting for the longest sweeps
        // (docs/PERFORMANCE.md, "The wake path: the fix"). A waker is
        // arbitrary code, which may park or drop a subscriber of this ring
        // on this thread (the lock is reentrant and the list is not
        // borrowed here, so that joins the next sweep) or wait for a thread
        // that is parking one (which stops waiting for the lock after
        // `LIST_PATIENCE`). A waker that panics unwinds the publish: the
        // wakers after it in this sweep are dropped unwoken, and their
        // subscribers wait for the next publish.
        if let Some(first) = wakers.next() {
            first.wake();
        }
        drop(held);
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
    /// Reads the message at `*cursor`, moving the cursor on; `pin` is the
    /// reader's own.
    pub(crate) fn read(&self, cursor: &mut u64, pin: &Pin) -> Read<T> {
        loop {
            let c = *cursor;
            // Acquire: pairs with the writer's Release store of the stamp.
            let stamp = self.stamps[(c & self.mask) as usize].load(Acquire);
            if stamp == c + 1 {
                // Past the message before its `clone` runs: a `clone` that
                // panics consumes it (the panic is this subscriber's report
                // of it), so a payload whose `clone` always panics costs one
                // panic per subscriber, never a subscriber stuck on it.
                *cursor = c + 1;
                return match self.read_pinned(c, pin) {
                    Some(msg) => Read::Message(msg),
                    None => {
                        *cursor = c;
                        self.lapped(cursor)
                    }
                };
            }
            if let Some(read) = self.not_ready(cursor, stamp) {
                return read;
            }
        }
    }

    /// Appends to `buf` the run of messages ready at `*cursor`, at most
    /// `max` (at least 1), moving the cursor past them: one pin and one
    /// fence for the whole run. `Read::Message(n)`: `n` were appended. The
    /// run stops before a stamp that is not the next sequence's: a lap
    /// found there is left for the next read to report (exactly as `read`
    /// would report it from that cursor), as is the close.
    pub(crate) fn read_many(
        &self,
        cursor: &mut u64,
        pin: &Pin,
        buf: &mut Vec<T>,
        max: usize,
    ) -> Read<usize> {
        loop {
            let c = *cursor;
            // Acquire: pairs with the writer's Release store of the stamp.
            let stamp = self.stamps[(c & self.mask) as usize].load(Acquire);
            if stamp == c + 1 {
                return self.read_run(cursor, pin, buf, max);
            }
            if let Some(read) = self.not_ready(cursor, stamp) {
                return read;
            }
        }
    }

    /// What a read finds at `*cursor` whose slot holds `stamp`, not the
    /// cursor's own: a lap, nothing yet, or the close; `None` when the
    /// slot must be looked at again (written before the close).
    fn not_ready<M>(&self, cursor: &mut u64, stamp: u64) -> Option<Read<M>> {
        let c = *cursor;
        if stamp > c + 1 {
            return Some(self.lapped(cursor));
        }
        // Not written yet: empty, or claimed and in progress (its
        // publisher wakes us when done), unless the ring is closed.
        // `closed` is looked at before `tail`: it is read-mostly, while
        // loading `tail` would pull its line away from the publishers.
        // Acquire: pairs with `close`'s SeqCst store, which follows every
        // publish; seeing it means seeing all of them.
        if !self.closed.load(Acquire) {
            return Some(Read::Empty);
        }
        if c < self.tail.0.load(Acquire) {
            // Written before the close: look at the stamp again.
            return None;
        }
        Some(Read::Closed)
    }

    /// The message at `*cursor` was overwritten: moves the cursor to the
    /// oldest retained sequence and says how many were skipped.
    fn lapped<M>(&self, cursor: &mut u64) -> Read<M> {
        let c = *cursor;
        // The message is gone (or going): the oldest retained one,
        // tail - capacity, is past c. Acquire: pairs with the AcqRel claim
        // of the sequence whose stamp (or floor) we saw, so `tail` shows it.
        let tail = self.tail.0.load(Acquire);
        let next = tail.saturating_sub(self.capacity).max(c + 1);
        *cursor = next;
        Read::Lagged(next - c)
    }

    /// Pins the reader at `seq`, whose stamp was seen, unless the floor has
    /// passed it (then it is outside the retained window, and the reader
    /// is left unpinned): the guard unpins when it drops.
    fn pin_at<'p>(&self, seq: u64, pin: &'p Pin) -> Option<Unpin<'p>> {
        let pin = &pin.at.0;
        // Release: a publisher's scan that reads this pin also sees our
        // earlier unpins, and so our earlier clones, happened before it.
        pin.store(seq, Release);
        let unpin = Unpin(pin);
        // Dekker with `wait_for_readers`: our pin, then our look at the
        // floor; the publisher's raised floor, then its look at the pins.
        // Once past this check no scan frees a cell at or above our pin: a
        // scan whose fence came before ours raised a claim we see here; one
        // whose fence came after sees our pin.
        fence(SeqCst);
        (seq >= self.floor.0.claimed.load(Relaxed)).then_some(unpin)
    }

    /// Clones the payload of sequence `seq`, whose stamp was seen, unless
    /// the floor has passed it (then it is outside the retained window).
    fn read_pinned(&self, seq: u64, pin: &Pin) -> Option<T> {
        let _unpin = self.pin_at(seq, pin)?;
        Some(self.clone_pinned(seq))
    }

    /// Clones the payload of sequence `seq`; the caller saw its stamp
    /// `seq + 1` (Acquire) and is pinned at `seq`, having pinned at or
    /// below it with [`pin_at`](Self::pin_at).
    fn clone_pinned(&self, seq: u64) -> T {
        self.cells[(seq & self.cell_mask) as usize].with(|cell| {
            // SAFETY: the stamp `seq + 1` was seen (Acquire), so the cell
            // was written with `seq` (I1); we are pinned at `seq`, moved up
            // to it (if at all) from a pin `>= floor.claimed` checked after
            // the pin, so no publisher overwrites it until the pin moves
            // past it or unpins, even if `clone` panics (I2).
            unsafe { (*cell).assume_init_ref().clone() }
        })
    }

    /// Clones the run of messages from `*cursor`, whose stamp was seen,
    /// into `buf` (see [`read_many`](Self::read_many)) under one pin: the
    /// pin, fence and floor check of [`pin_at`](Self::pin_at) once, for
    /// the first; then, per message, its stamp and a store moving the pin
    /// up to it.
    fn read_run(&self, cursor: &mut u64, pin: &Pin, buf: &mut Vec<T>, max: usize) -> Read<usize> {
        let first = *cursor;
        let Some(pinned) = self.pin_at(first, pin) else {
            return self.lapped(cursor);
        };
        let mut seq = first;
        loop {
            // Past the message before its `clone` runs (as in `read`): a
            // `clone` that panics consumes it; the messages appended
            // before it stay in `buf`, and `pinned` unpins.
            *cursor = seq + 1;
            buf.push(self.clone_pinned(seq));
            seq += 1;
            if seq - first == max as u64 {
                break;
            }
            // Acquire: pairs with the writer's Release store of the stamp.
            // Anything but the next sequence's stamp ends the run: not
            // written yet, or a lap (left for the next read to report).
            if self.stamps[(seq & self.mask) as usize].load(Acquire) != seq + 1 {
                break;
            }
            pinned.move_up(seq);
        }
        Read::Message((seq - first) as usize)
    }
}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        // Every claim was written (publishers finish before the last handle
        // drops), so cell `j` is initialised iff sequence `j < tail` (I1).
        let written = self.tail.0.load(Relaxed).min(self.cells.len() as u64);
        for cell in &self.cells[..written as usize] {
            cell.with_mut(|cell| {
                // SAFETY: initialised (I1); we own the ring, so this is the
                // last access.
                unsafe { (*cell).assume_init_drop() }
            });
        }
    }
}

/// Unpins a reader, also when a payload's `clone` panics.
struct Unpin<'a>(&'a AtomicU64);

impl Unpin<'_> {
    /// Moves the pin up to `seq` (higher than where it is), within a run.
    /// No new fence or floor check: a pin only moving up keeps the Dekker
    /// argument of [`Ring::pin_at`] (a scan that reads the old value sees
    /// a lower bound of what we read), and Release makes our clones below
    /// `seq` happen before a scan that reads the new one. So a reader
    /// preempted in a run holds back only the cell it is cloning.
    fn move_up(&self, seq: u64) {
        self.0.store(seq, Release);
    }
}

impl Drop for Unpin<'_> {
    fn drop(&mut self) {
        // Release: our clone happens before a publisher's Acquire look at
        // the pin, before it overwrites the cell.
        self.0.store(UNPINNED, Release);
    }
}

/// How long a parking or leaving subscriber waits for the parked list's
/// lock. A sweep holds it across one wake (microseconds: a futex wake);
/// held longer, that wake may be waiting for the very thread that wants the
/// lock (a waker taking a mutex an executor holds around a poll), so the
/// subscriber gives up: a parking one asks to be polled again, a leaving
/// one leaves its waker for the next sweep.
const LIST_PATIENCE: std::time::Duration = std::time::Duration::from_millis(1);

/// The subscribers parked on a ring.
#[derive(Debug)]
struct Parked {
    /// Reentrant: the sweep wakes under it (see `Ring::wake_parked`).
    list: ReentrantLock<ParkList>,
    /// `list.wakers.len()` (the wakers registered: the list's length minus its
    /// vacancies), read by every publish without the lock.
    count: AtomicUsize,
}

impl Parked {
    fn new() -> Self {
        Self {
            list: ReentrantLock::new(ParkList {
                sweep: 0,
                wakers: Slab::default(),
            }),
            count: AtomicUsize::new(0),
        }
    }
}

#[derive(Debug)]
struct ParkList {
    /// Sweeps so far: a ticket from an earlier sweep is void.
    sweep: u64,
    /// Registered wakers, at their tickets' indices; a leaving
    /// subscriber's index is reused first, so the list never outgrows the
    /// subscribers parked at once in one sweep.
    wakers: Slab<Waker>,
}

/// Where a subscriber's waker sits in a ring's parked list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ticket {
    sweep: u64,
    index: usize,
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::{Padded, Pins};
    use crate::sync::{Arc, AtomicU64};

    fn pin(at: u64) -> Arc<Padded<AtomicU64>> {
        Arc::new(Padded(AtomicU64::new(at)))
    }

    fn scanned(pins: &Pins) -> Vec<u64> {
        let mut seen: Vec<u64> = pins
            .iter()
            .map(|p| p.0.load(std::sync::atomic::Ordering::Relaxed))
            .collect();
        seen.sort_unstable();
        seen
    }

    #[test]
    fn a_leaving_pins_slot_is_reused_and_the_scan_sees_only_live_pins() {
        let mut pins = Pins::default();
        let slots: Vec<usize> = (0..4).map(|i| pins.insert(pin(i))).collect();
        assert_eq!(slots, [0, 1, 2, 3]);
        pins.remove(1);
        pins.remove(3);
        assert_eq!(scanned(&pins), [0, 2]);
        // Reused, not grown: the scan stays bounded by the peak count.
        let again = [pins.insert(pin(10)), pins.insert(pin(11))];
        assert!(again.contains(&1) && again.contains(&3));
        assert_eq!(pins.slots.len(), 4);
        assert_eq!(scanned(&pins), [0, 2, 10, 11]);
    }

    #[test]
    fn removing_an_empty_or_unknown_slot_changes_nothing() {
        let mut pins = Pins::default();
        let slot = pins.insert(pin(7));
        pins.remove(slot);
        pins.remove(slot);
        pins.remove(99);
        assert_eq!(pins.free, [slot]);
        assert!(scanned(&pins).is_empty());
    }
}
