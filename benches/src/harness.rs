//! The fan-out and latency harness: the one way the workspace's benches
//! measure deliveries per second and publish-to-receive latency, whatever
//! the channel.
//!
//! * Fan-out ([`run_fanout`]): one receiver per OS thread, each in a
//!   blocking receive until the channel closes; the publisher runs on the
//!   calling thread; the result is deliveries per second (a lossy channel's
//!   losses are not deliveries).
//! * Latency ([`run_latency`]): one receiver thread; the publisher stamps
//!   each message with [`now_ns`] and paces sends apart ([`paced`]); the
//!   result is every message's receive time minus its stamp.
//!
//! A channel plugs in with a receive function returning [`Next`] (and
//! [`count_until_closed`] / [`latencies_until_closed`] to loop it); a
//! ron-bus backend plugs in with [`backend_fanout`] / [`backend_latency`].
//! A ron-bus subscriber thread receives the way the contract recommends
//! outside a runtime ([`Receive::Runs`]: `try_recv_many`, and
//! `blocking_recv` for the first message after an empty poll) unless a
//! bench asks for one `blocking_recv` per message ([`Receive::OneByOne`],
//! to measure what the runs gain).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ron_bus::{BusBackend, BusReceiver, RecvError, TryRecvError};

/// Gap between two latency probes: long enough that the receiver is parked
/// again (the latency measured is a wake-up, not a busy handoff).
pub const LATENCY_GAP: Duration = Duration::from_micros(20);

/// Nanoseconds since the first call in this process: the stamp a latency
/// message carries.
pub fn now_ns() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// ns per call of `f`, called `ops` times with `0..ops`.
///
/// ```
/// let ns = ron_benches::harness::time_ns(1_000, |i| {
///     std::hint::black_box(i);
/// });
/// assert!(ns >= 0.0);
/// ```
pub fn time_ns(ops: u64, mut f: impl FnMut(u64)) -> f64 {
    let start = Instant::now();
    for i in 0..ops {
        f(i);
    }
    start.elapsed().as_secs_f64() * 1e9 / ops as f64
}

/// Calls `send` `messages` times with the time of the call ([`now_ns`]),
/// `gap` apart. It spins between sends: a sleep's wake-up jitter on this
/// VM is larger than the gap.
pub fn paced(messages: u64, gap: Duration, mut send: impl FnMut(u64)) {
    for _ in 0..messages {
        let due = Instant::now() + gap;
        send(now_ns());
        while Instant::now() < due {
            std::hint::spin_loop();
        }
    }
}

/// Joins `thread`, passing its panic on (a receiver that panicked is a bench
/// bug, not a figure).
fn join<T>(thread: JoinHandle<T>) -> T {
    thread
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Runs one fan-out: `recv_all` on a thread per receiver (it returns how
/// many messages that receiver got), then `publish_all` on this thread,
/// which must close the channel when done (drop the sender); deliveries per
/// second.
///
/// The clock starts once every receiver thread is running, and they wait
/// for it awake (yielding, not parked), so thread start-up and wake-up are
/// not what is measured: on 2 cores a run could otherwise end before a
/// subscriber gets going.
pub fn run_fanout<R: Send + 'static>(
    receivers: Vec<R>,
    recv_all: fn(R) -> u64,
    publish_all: impl FnOnce(),
) -> f64 {
    let subscribers = receivers.len();
    let ready = Arc::new(AtomicUsize::new(0));
    let go = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = receivers
        .into_iter()
        .map(|rx| {
            let (ready, go) = (Arc::clone(&ready), Arc::clone(&go));
            std::thread::spawn(move || {
                ready.fetch_add(1, Ordering::AcqRel);
                while !go.load(Ordering::Acquire) {
                    std::thread::yield_now();
                }
                recv_all(rx)
            })
        })
        .collect();
    while ready.load(Ordering::Acquire) < subscribers {
        std::thread::yield_now();
    }
    go.store(true, Ordering::Release);
    let start = Instant::now();
    publish_all();
    let delivered: u64 = threads.into_iter().map(join).sum();
    delivered as f64 / start.elapsed().as_secs_f64()
}

/// Runs a latency probe: `recv_all` on a thread collects latencies until
/// the channel closes; `send` publishes one stamp, [`LATENCY_GAP`] apart,
/// and owns the sender, so dropping it when the probe is done closes the
/// channel. The latencies in ns, in arrival order.
pub fn run_latency<R: Send + 'static>(
    rx: R,
    recv_all: fn(R) -> Vec<u64>,
    messages: u64,
    send: impl FnMut(u64),
) -> Vec<u64> {
    let probe = std::thread::spawn(move || recv_all(rx));
    paced(messages, LATENCY_GAP, send);
    join(probe)
}

/// What one blocking receive of a lossy channel returned.
pub enum Next {
    /// A message.
    Message(u64),
    /// A loss report (the receiver was lapped).
    Lost,
    /// The channel is closed and drained.
    Closed,
}

/// Receives until closed; counts the messages (loss reports are not
/// messages).
pub fn count_until_closed(mut next: impl FnMut() -> Next) -> u64 {
    let mut got = 0;
    loop {
        match next() {
            Next::Message(_) => got += 1,
            Next::Lost => {}
            Next::Closed => return got,
        }
    }
}

/// Receives stamped messages until closed; their latencies in ns.
pub fn latencies_until_closed(mut next: impl FnMut() -> Next) -> Vec<u64> {
    let mut out = Vec::new();
    loop {
        match next() {
            Next::Message(sent) => out.push(now_ns().saturating_sub(sent)),
            Next::Lost => {}
            Next::Closed => return out,
        }
    }
}

/// One blocking receive of a ron-bus receiver, as a [`Next`].
pub fn backend_next<R: BusReceiver<u64>>(rx: &mut R) -> Next {
    match rx.blocking_recv() {
        Ok(msg) => Next::Message(msg),
        Err(RecvError::Lagged(_)) => Next::Lost,
        Err(RecvError::Closed) => Next::Closed,
    }
}

/// How a ron-bus subscriber thread receives in [`backend_fanout`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receive {
    /// One `blocking_recv` per message.
    OneByOne,
    /// Runs of up to [`RUN`] messages with `try_recv_many`, and
    /// `blocking_recv` for the first message after an empty poll: the
    /// contract's recipe for a thread outside a runtime.
    Runs,
}

impl Receive {
    /// The subscriber thread's loop: counts its messages until closed.
    fn counter<R: BusReceiver<u64>>(self) -> fn(R) -> u64 {
        match self {
            Self::OneByOne => backend_recv_all::<R>,
            Self::Runs => backend_recv_runs::<R>,
        }
    }
}

/// The longest run a [`Receive::Runs`] subscriber takes at once.
pub const RUN: usize = 64;

fn backend_recv_all<R: BusReceiver<u64>>(mut rx: R) -> u64 {
    count_until_closed(|| backend_next(&mut rx))
}

/// Counts a subscriber's messages until closed, in runs
/// ([`Receive::Runs`]); loss reports are not messages.
fn backend_recv_runs<R: BusReceiver<u64>>(mut rx: R) -> u64 {
    let mut buf = Vec::with_capacity(RUN);
    let mut got = 0;
    loop {
        match rx.try_recv_many(&mut buf, RUN) {
            Ok(n) => {
                got += n as u64;
                buf.clear();
            }
            Err(TryRecvError::Lagged(_)) => {}
            Err(TryRecvError::Closed) => return got,
            Err(TryRecvError::Empty) => match backend_next(&mut rx) {
                Next::Message(_) => got += 1,
                Next::Lost => {}
                Next::Closed => return got,
            },
        }
    }
}

fn backend_latencies<R: BusReceiver<u64>>(mut rx: R) -> Vec<u64> {
    latencies_until_closed(|| backend_next(&mut rx))
}

/// [`run_fanout`] of a ron-bus backend: published to for `duration`
/// ([`publish_for`]), `subs` subscribers of a bus of `capacity`, each
/// receiving as `receive` says; deliveries per second, or the backend's
/// error if it refuses the capacity.
pub fn backend_fanout<B: BusBackend<u64>>(
    capacity: usize,
    subs: usize,
    duration: Duration,
    receive: Receive,
) -> Result<f64, ron_bus::BusError> {
    let bus = B::with_capacity(capacity)?;
    let receivers: Vec<_> = (0..subs).map(|_| bus.subscribe()).collect();
    let recv_all = receive.counter::<B::Receiver>();
    Ok(run_fanout(receivers, recv_all, move || {
        publish_for(duration, |i| {
            bus.publish(i);
        });
    }))
}

/// Messages [`publish_for`] sends between two looks at the clock.
pub const FLOOD_CHUNK: u64 = 1024;

/// Sends `0, 1, 2, …` for `duration`, looking at the clock after every
/// [`FLOOD_CHUNK`] messages (at least one chunk); returns how many it sent.
///
/// Fan-outs and floods last a fixed time whatever the library's speed.
/// With a fixed count the fastest library's run was the shortest: SoA's
/// 200,000-message fan-out to 8 subscriber threads lasted about 10 ms,
/// less than the scheduler needs to give nine threads on two CPUs a turn
/// each, so which threads the first slices went to (or a VM stall)
/// decided its figure.
///
/// ```
/// use std::time::Duration;
///
/// let mut sent = Vec::new();
/// let n = ron_benches::harness::publish_for(Duration::ZERO, |i| sent.push(i));
/// assert_eq!(n, ron_benches::harness::FLOOD_CHUNK); // one chunk at least
/// assert_eq!(sent.last(), Some(&(n - 1)));
/// ```
pub fn publish_for(duration: Duration, mut send: impl FnMut(u64)) -> u64 {
    let start = Instant::now();
    let mut next = 0;
    loop {
        for _ in 0..FLOOD_CHUNK {
            send(next);
            next += 1;
        }
        if start.elapsed() >= duration {
            return next;
        }
    }
}

/// Drain: `subs` subscribers of a bus of `capacity` find `capacity`
/// messages waiting (published before they start) and each takes all of
/// them, receiving as `receive` says, one thread each; deliveries per
/// second. Receive-bound by construction: the publisher is done before
/// the clock starts, so this is what a subscriber's receive costs (where a
/// flood measures the publisher), and what [`Receive::Runs`] saves.
pub fn backend_drain<B: BusBackend<u64>>(
    capacity: usize,
    subs: usize,
    receive: Receive,
) -> Result<f64, ron_bus::BusError> {
    let bus = B::with_capacity(capacity)?;
    let receivers: Vec<_> = (0..subs).map(|_| bus.subscribe()).collect();
    let backlog = bus.capacity() as u64;
    for i in 0..backlog {
        bus.publish(i);
    }
    // Closed behind the backlog: each subscriber takes it all, then sees
    // the close.
    drop(bus);
    let recv_all = receive.counter::<B::Receiver>();
    Ok(run_fanout(receivers, recv_all, || {}))
}

/// [`run_latency`] of a ron-bus backend: `messages` probes to one
/// subscriber of a bus of `capacity`; the latencies in ns, or the backend's
/// error if it refuses the capacity.
pub fn backend_latency<B: BusBackend<u64>>(
    capacity: usize,
    messages: u64,
) -> Result<Vec<u64>, ron_bus::BusError> {
    let bus = B::with_capacity(capacity)?;
    let rx = bus.subscribe();
    Ok(run_latency(
        rx,
        backend_latencies::<B::Receiver>,
        messages,
        move |stamp| {
            bus.publish(stamp);
        },
    ))
}
