//! Cases about what a payload type may do to a bus: panic in `clone` or
//! `drop`, or be large. Generic over the payload, so a backend runs them
//! with [`conformance_payload_tests!`](crate::conformance_payload_tests).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use crate::{ALL_TOPICS, BusBackend, BusReceiver, TryRecvError};

/// Liveness bound for work that must finish after a panic: past it the bus
/// is taken to be wedged. Never a performance claim.
const WEDGED_AFTER: Duration = Duration::from_secs(10);

/// What a [`Payload`] does when it is next cloned or dropped.
#[derive(Debug, Default)]
pub struct Traps {
    /// Payloads alive (created or cloned, not yet dropped).
    alive: AtomicI64,
    /// The next `clone` panics (once).
    clone_panics: AtomicBool,
    /// The next `drop` outside an unwind panics (once).
    drop_panics: AtomicBool,
    /// `id + 1` of the message whose every `clone` panics (0: none): a
    /// trap that stays armed.
    clone_always_panics: AtomicU64,
    /// `id + 1` of the message whose next `drop` outside an unwind panics
    /// (0: none; disarmed when it goes off).
    drop_panics_of: AtomicU64,
    /// Traps that went off.
    fired: AtomicUsize,
}

/// A payload that counts its live copies (a leak or a double drop shows)
/// and can be told to panic once in `clone` or in `drop`.
#[derive(Debug)]
pub struct Payload {
    /// The message's number.
    pub id: u64,
    traps: Arc<Traps>,
}

impl Payload {
    /// Message `id`, counted in `traps`.
    pub fn new(id: u64, traps: &Arc<Traps>) -> Self {
        traps.alive.fetch_add(1, Ordering::SeqCst);
        Self {
            id,
            traps: Arc::clone(traps),
        }
    }
}

impl Clone for Payload {
    fn clone(&self) -> Self {
        if self.traps.clone_panics.swap(false, Ordering::SeqCst) {
            self.traps.fired.fetch_add(1, Ordering::SeqCst);
            panic!("payload {}: clone trap (expected by the test)", self.id);
        }
        if self.traps.clone_always_panics.load(Ordering::SeqCst) == self.id + 1 {
            self.traps.fired.fetch_add(1, Ordering::SeqCst);
            panic!(
                "payload {}: armed clone trap (expected by the test)",
                self.id
            );
        }
        Self::new(self.id, &self.traps)
    }
}

impl Drop for Payload {
    fn drop(&mut self) {
        self.traps.alive.fetch_sub(1, Ordering::SeqCst);
        // Never during an unwind: a second panic would abort the process.
        if std::thread::panicking() {
            return;
        }
        let this_one = || {
            self.traps
                .drop_panics_of
                .compare_exchange(self.id + 1, 0, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        };
        if self.traps.drop_panics.swap(false, Ordering::SeqCst) || this_one() {
            self.traps.fired.fetch_add(1, Ordering::SeqCst);
            panic!("payload {}: drop trap (expected by the test)", self.id);
        }
    }
}

/// A 64 KiB payload, stored inline.
#[derive(Clone)]
pub struct Big {
    /// The message's number.
    pub id: u64,
    bulk: [u8; 64 * 1024],
}

impl Big {
    /// Message `id`.
    pub fn new(id: u64) -> Self {
        Self {
            id,
            bulk: [1; 64 * 1024],
        }
    }
}

impl std::fmt::Debug for Big {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Big")
            .field("id", &self.id)
            .field("bytes", &self.bulk.len())
            .finish()
    }
}

/// Runs `work` on its own thread; fails the test if it has not finished
/// within [`WEDGED_AFTER`] (a wedged bus fails instead of hanging).
fn within_deadline<R: Send + 'static>(what: &str, work: impl FnOnce() -> R + Send + 'static) -> R {
    let (done, result) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(work());
    });
    match result.recv_timeout(WEDGED_AFTER) {
        Ok(value) => value,
        Err(_) => panic!("{what}: not done after {WEDGED_AFTER:?}: the bus is wedged"),
    }
}

/// What one subscriber received over a test, panics included.
#[derive(Debug, Default)]
struct Received {
    ids: Vec<u64>,
    /// Receives that panicked: each consumed one message (the contract).
    panics: usize,
    /// Messages reported lost (`Lagged`).
    lost: u64,
}

impl Received {
    /// The messages this subscriber accounts for: delivered, consumed by a
    /// receive that panicked, or reported lost.
    fn accounted(&self) -> u64 {
        self.ids.len() as u64 + self.panics as u64 + self.lost
    }
}

/// Receives until `Empty`, catching panics (a payload's `clone` or `drop`
/// may panic in the receive); bounded, so a receiver that never settles
/// fails the test.
fn drain_caught<R: BusReceiver<Payload>>(rx: &mut R, into: &mut Received) {
    for _ in 0..1_000 {
        match catch_unwind(AssertUnwindSafe(|| rx.try_recv().map(|p| p.id))) {
            Ok(Ok(id)) => into.ids.push(id),
            Ok(Err(TryRecvError::Lagged(lost))) => into.lost += lost,
            Ok(Err(TryRecvError::Empty | TryRecvError::Closed)) => return,
            Err(_) => into.panics += 1,
        }
    }
    panic!("a receiver kept returning messages or panics: {into:?}");
}

/// A panic in a payload's `clone` or `drop` propagates to the call that ran
/// it and leaves the bus usable: wherever the trap goes off (a publish
/// replacing old payloads, a batch, a receive cloning one), later publishes
/// complete, every subscriber continues with a consistent stream (in
/// order, nothing twice, the newest messages delivered), no subscriber's
/// pin or slot stays stuck, and every payload is dropped exactly once.
pub fn panicking_payloads_leave_the_bus_usable<B: BusBackend<Payload>>() {
    let traps = Arc::new(Traps::default());
    let bus = B::with_capacity(CAPACITY as usize).unwrap();
    let mut run = Run {
        rxs: vec![
            bus.subscribe(),
            bus.subscribe_with_interest(NARROW),
            bus.subscribe(),
        ],
        received: vec![],
        next: 0,
        traps: Arc::clone(&traps),
        bus,
    };
    run.received = run.rxs.iter().map(|_| Received::default()).collect();
    // Every cell any backend keeps holds a payload to replace (the SoA
    // ring keeps two per slot).
    let first = run.batch(2 * CAPACITY);
    run.bus.publish_many_topic(first);
    let drop_trap: fn(&Traps) -> &AtomicBool = |t| &t.drop_panics;
    let clone_trap: fn(&Traps) -> &AtomicBool = |t| &t.clone_panics;
    for (trap, arm_first) in [
        (drop_trap, true),
        (drop_trap, false),
        (clone_trap, true),
        (clone_trap, false),
    ] {
        // On its own thread, with a deadline: a wedged bus fails the test.
        run = within_deadline("the bus after a payload's panic", move || {
            run.phase(trap, arm_first);
            run
        });
        for (i, got) in run.received.iter().enumerate() {
            assert!(
                got.ids.windows(2).all(|w| w[0] < w[1]),
                "subscriber {i}: out of order or twice: {:?}",
                got.ids
            );
            let newest: Vec<u64> = (run.next - CAPACITY..run.next).collect();
            assert!(
                got.ids.ends_with(&newest),
                "subscriber {i} did not end with the newest messages {newest:?}: {:?}",
                got.ids
            );
        }
    }
    drop(run);
    assert_eq!(
        traps.alive.load(Ordering::SeqCst),
        0,
        "payloads leaked or dropped twice"
    );
}

/// The capacity of the bus in [`panicking_payloads_leave_the_bus_usable`].
const CAPACITY: u64 = 4;
/// The topic of its messages, and the interest of its narrow subscriber.
const NARROW: u64 = 0b10;

/// The state of [`panicking_payloads_leave_the_bus_usable`], moved to the
/// thread that runs each phase.
struct Run<B: BusBackend<Payload>> {
    bus: B,
    rxs: Vec<B::Receiver>,
    received: Vec<Received>,
    next: u64,
    traps: Arc<Traps>,
}

impl<B: BusBackend<Payload>> Run<B> {
    /// The next `len` messages.
    fn batch(&mut self, len: u64) -> impl Iterator<Item = (u64, Payload)> + use<B> {
        let ids = self.next..self.next + len;
        self.next += len;
        let traps = Arc::clone(&self.traps);
        ids.map(move |id| (NARROW, Payload::new(id, &traps)))
    }

    /// Sets off `trap` in a batch, single publishes and receives (armed
    /// before the publishes if `arm_first`, else before the receives),
    /// then publishes three times around every ring and drains everyone.
    fn phase(&mut self, trap: fn(&Traps) -> &AtomicBool, arm_first: bool) {
        let fired = self.traps.fired.load(Ordering::SeqCst);
        // Armed first, the trap goes off in a publish (a batch replacing
        // old payloads, or cloning for the narrow subscriber); armed after,
        // in a receive cloning or dropping one.
        trap(&self.traps).store(arm_first, Ordering::SeqCst);
        let batch = self.batch(2 * CAPACITY);
        let _ = catch_unwind(AssertUnwindSafe(|| self.bus.publish_many_topic(batch)));
        for (topic, message) in self.batch(CAPACITY) {
            let _ = catch_unwind(AssertUnwindSafe(|| self.bus.publish_topic(topic, message)));
        }
        // Every backend clones or drops in publishing (a receive need not:
        // it may hand out the stored payload itself).
        assert!(
            !arm_first || self.traps.fired.load(Ordering::SeqCst) > fired,
            "the trap never went off: the case tests nothing"
        );
        trap(&self.traps).store(true, Ordering::SeqCst);
        for (rx, into) in self.rxs.iter_mut().zip(&mut self.received) {
            drain_caught(rx, into);
        }
        trap(&self.traps).store(false, Ordering::SeqCst);
        // No publisher waits on a slot or a pin the panic left behind, and
        // every subscriber then gets the newest messages, panic-free.
        let batch = self.batch(2 * CAPACITY);
        self.bus.publish_many_topic(batch);
        for (topic, message) in self.batch(CAPACITY) {
            self.bus.publish_topic(topic, message);
        }
        for (i, (rx, into)) in self.rxs.iter_mut().zip(&mut self.received).enumerate() {
            let panics = into.panics;
            drain_caught(rx, into);
            assert_eq!(
                into.panics, panics,
                "subscriber {i}: a panic with the traps off"
            );
        }
    }
}

/// A batch of 64 KiB payloads publishes on a thread with a 2 MiB stack (a
/// tokio worker's default): what a batch keeps on the stack is bounded by
/// bytes, not by a message count.
pub fn large_payloads_batch_on_a_small_stack<B: BusBackend<Big>>() {
    let small_stack = std::thread::Builder::new().stack_size(2 << 20);
    let delivered = small_stack
        .spawn(|| {
            let bus = B::with_capacity(4).unwrap();
            let mut all = bus.subscribe();
            let mut narrow = bus.subscribe_with_interest(0b10);
            // Every message reaches both: a plain publish is for every topic.
            assert_eq!(bus.publish_many((0..10).map(Big::new)), 20);
            assert_eq!(
                bus.publish_many_topic((10..20).map(|id| (0b10, Big::new(id)))),
                20
            );
            let mut ids = Vec::new();
            for rx in [&mut all, &mut narrow] {
                assert!(matches!(rx.try_recv(), Err(TryRecvError::Lagged(_))));
                while let Ok(big) = rx.try_recv() {
                    assert!(big.bulk.iter().all(|&b| b == 1), "a torn payload");
                    ids.push(big.id);
                }
            }
            ids
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(delivered, [16, 17, 18, 19, 16, 17, 18, 19]);
}

/// A receive whose payload's `clone` panics consumes that message: the
/// panic reaches the receiver once, and its next receive returns the next
/// message, with no lag reported (the panic was the report). A payload
/// whose `clone` always panics therefore costs each subscriber one panic,
/// never a subscriber stuck on it. (A backend that hands out the stored
/// payload itself, without a clone, simply delivers it.)
pub fn a_receive_whose_clone_panics_moves_past_the_message<B: BusBackend<Payload>>() {
    let traps = Arc::new(Traps::default());
    let bus = B::with_capacity(8).unwrap();
    let rxs = vec![
        bus.subscribe(),
        bus.subscribe_with_interest(NARROW),
        bus.subscribe(),
    ];
    bus.publish_many_topic(payloads(&traps, NARROW, 0..6));
    // Armed for message 2 until the end: every clone of it panics.
    const TRAPPED: u64 = 2;
    traps
        .clone_always_panics
        .store(TRAPPED + 1, Ordering::SeqCst);
    let later = payloads(&traps, NARROW, 6..8);
    let (bus, received) = within_deadline("receiving past a trapped message", move || {
        let mut rxs = rxs;
        let mut received: Vec<Received> = rxs.iter().map(|_| Received::default()).collect();
        for (rx, into) in rxs.iter_mut().zip(&mut received) {
            drain_caught(rx, into);
        }
        // Later messages still come, in order.
        bus.publish_many_topic(later);
        for (rx, into) in rxs.iter_mut().zip(&mut received) {
            drain_caught(rx, into);
        }
        drop(rxs);
        (bus, received)
    });
    for (i, got) in received.iter().enumerate() {
        let expected: Vec<u64> = (0..8)
            .filter(|&id| got.panics == 0 || id != TRAPPED)
            .collect();
        assert!(
            got.panics <= 1 && got.ids == expected && got.lost == 0,
            "subscriber {i}: a receive that panicked must consume exactly the trapped \
             message and go on with the next: {got:?}"
        );
        assert_eq!(got.accounted(), 8, "subscriber {i}: {got:?}");
    }
    assert_eq!(bus.stats().snapshot().receiver_lag, 0);
    traps.clone_always_panics.store(0, Ordering::SeqCst);
    drop(bus);
    assert_eq!(traps.alive.load(Ordering::SeqCst), 0, "payloads leaked");
}

/// A run (`try_recv_many`) that meets a payload whose `clone` panics keeps
/// what it took: the messages appended before it stay in the buffer, the
/// trapped one is consumed (the panic was its report, no lag), and the
/// next run goes on with the one after it. Per subscriber, the messages
/// taken plus one per panic are exactly those published, in order.
pub fn a_run_whose_clone_panics_keeps_what_it_took<B: BusBackend<Payload>>() {
    let traps = Arc::new(Traps::default());
    let bus = B::with_capacity(8).unwrap();
    let rxs = vec![bus.subscribe(), bus.subscribe_with_interest(NARROW)];
    bus.publish_many_topic(payloads(&traps, NARROW, 0..6));
    const TRAPPED: u64 = 2;
    traps
        .clone_always_panics
        .store(TRAPPED + 1, Ordering::SeqCst);
    let received = within_deadline("runs past a trapped message", move || {
        let mut received = Vec::new();
        for mut rx in rxs {
            let mut buf = Vec::new();
            let mut panics = 0;
            // Bounded: a receiver that never settles fails the test.
            for _ in 0..100 {
                let run = catch_unwind(AssertUnwindSafe(|| rx.try_recv_many(&mut buf, 64)));
                match run {
                    Ok(Ok(n)) => assert!(n >= 1, "Ok(0) from a run of 64"),
                    Ok(Err(TryRecvError::Empty)) => break,
                    Ok(Err(error)) => panic!("{error:?} with nothing lost on an open bus"),
                    Err(_) => panics += 1,
                }
            }
            let ids: Vec<u64> = buf.iter().map(|p| p.id).collect();
            received.push((ids, panics));
        }
        drop(bus);
        received
    });
    for (i, (ids, panics)) in received.iter().enumerate() {
        let expected: Vec<u64> = (0..6).filter(|&id| *panics == 0 || id != TRAPPED).collect();
        assert!(
            *panics <= 1 && *ids == expected,
            "subscriber {i}: a run that panicked must keep what it took, consume exactly \
             the trapped message and go on with the next: {ids:?}, {panics} panics"
        );
    }
    traps.clone_always_panics.store(0, Ordering::SeqCst);
    assert_eq!(traps.alive.load(Ordering::SeqCst), 0, "payloads leaked");
}

/// A batch that a payload's panic cuts short counts, in the bus stats,
/// exactly the messages it published, and so does a single publish that
/// panics after storing its message: for a subscriber that hears
/// everything, the stats' `published` equals what it accounts for
/// (delivered, consumed by a receive that panicked, or reported lost).
pub fn a_batch_cut_short_by_a_panic_counts_what_it_published<B: BusBackend<Payload>>() {
    let traps = Arc::new(Traps::default());
    let bus = B::with_capacity(CAPACITY as usize).unwrap();
    let mut rx = bus.subscribe();
    let batch = |ids| payloads(&traps, ALL_TOPICS, ids);
    // Every cell any backend keeps holds a payload to replace: not
    // received, so the batch below replaces (and drops) them.
    bus.publish_many_topic(batch(0..2 * CAPACITY));
    // The drop of message 6 goes off in the middle of the next batch,
    // whatever a backend replaces first.
    traps.drop_panics_of.store(6 + 1, Ordering::SeqCst);
    let fired = traps.fired.load(Ordering::SeqCst);
    let cut_short = batch(2 * CAPACITY..4 * CAPACITY);
    let outcome = catch_unwind(AssertUnwindSafe(|| bus.publish_many_topic(cut_short)));
    assert!(
        outcome.is_err() && traps.fired.load(Ordering::SeqCst) == fired + 1,
        "the trap never went off: the case tests nothing"
    );
    // Counting goes on as before after the panic.
    bus.publish_many_topic(batch(4 * CAPACITY..5 * CAPACITY));
    bus.publish(Payload::new(5 * CAPACITY, &traps));
    // A single publish whose replaced payload's `drop` panics has stored
    // its message, and counts it.
    traps.drop_panics.store(true, Ordering::SeqCst);
    let single = Payload::new(5 * CAPACITY + 1, &traps);
    let outcome = catch_unwind(AssertUnwindSafe(|| bus.publish(single)));
    assert!(
        outcome.is_err() && traps.fired.load(Ordering::SeqCst) == fired + 2,
        "the single publish's trap never went off: the case tests nothing"
    );
    let mut got = Received::default();
    drain_caught(&mut rx, &mut got);
    let published = bus.stats().snapshot().published;
    assert_eq!(
        published,
        got.accounted(),
        "published (stats) != what the subscriber accounts for: {got:?}"
    );
    drop((rx, bus));
    assert_eq!(traps.alive.load(Ordering::SeqCst), 0, "payloads leaked");
}

/// Messages `ids` on `topic`, counted in `traps`.
fn payloads(
    traps: &Arc<Traps>,
    topic: u64,
    ids: std::ops::Range<u64>,
) -> impl Iterator<Item = (u64, Payload)> + Send + 'static {
    let traps = Arc::clone(traps);
    ids.map(move |id| (topic, Payload::new(id, &traps)))
}
