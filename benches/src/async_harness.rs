//! The async harness: subscribers as tokio *tasks* awaiting `recv()`, the
//! way the kernel's own users subscribe, where [`crate::harness`] runs them
//! on OS threads in a blocking receive.
//!
//! Every run builds one multi-thread runtime of [`WORKERS`] workers, spawns
//! one task per subscriber on it, and waits until every task is running;
//! then the calling thread (not a worker) publishes and finally drops its
//! sender, which closes the channel; the run ends when every task has seen
//! the close.
//!
//! * [`flood`]: the publisher sends as fast as it can; the result is
//!   deliveries per second (a lossy channel's losses are not deliveries).
//! * [`paced`]: the publisher sends at a fixed rate, *sleeping* between
//!   messages ([`sleep_paced`]); every delivery's publish-to-receive latency
//!   and the process's CPU time per delivery. A publisher that spun between
//!   messages would take one of the two cores the runtime needs and put
//!   millisecond tails on every library.
//!
//! A channel plugs in through [`AsyncChannel`]; the ron-bus backends do
//! through [`OnBus`] (a `recv().await` per message) or [`InRuns`]
//! (`recv_many`), tokio's broadcast directly.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ron_bus::{BusBackend, BusReceiver, RecvError};
use tokio::sync::broadcast;

use crate::harness::{Next, RUN, now_ns, publish_for};
use crate::rounds::OnBus;

/// Worker threads of the runtime the subscriber tasks run on: the cores of
/// the machine the figures are taken on, so tasks outnumber workers.
pub const WORKERS: usize = 2;

/// A broadcast channel under the async harness: the publisher handle
/// (dropping it closes the channel) and its subscribers.
pub trait AsyncChannel: Sized + Send + 'static {
    /// One subscriber.
    type Rx: Send + 'static;
    /// A channel retaining `capacity` messages with `subscribers`
    /// subscribers, all subscribed before the first message.
    ///
    /// # Errors
    ///
    /// The channel refused the capacity.
    fn open(capacity: usize, subscribers: usize) -> Result<(Self, Vec<Self::Rx>), HarnessError>;
    /// Publishes one message from the publisher thread: a lossy channel
    /// never blocks, a backpressured one may.
    fn send(&mut self, msg: u64);
    /// Awaits the next message of `rx`.
    fn recv(rx: &mut Self::Rx) -> impl Future<Output = Next> + Send + '_;
    /// Awaits the next run of messages of `rx` and appends it to `buf`
    /// ([`Next::Message`] then carries the run's first): one [`recv`](Self::recv)
    /// unless the channel has a batched receive.
    fn recv_run<'a>(
        rx: &'a mut Self::Rx,
        buf: &'a mut Vec<u64>,
    ) -> impl Future<Output = Next> + Send + 'a {
        async move {
            let next = Self::recv(rx).await;
            if let Next::Message(msg) = next {
                buf.push(msg);
            }
            next
        }
    }
}

/// Why a run could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// The runtime could not start.
    #[error("the tokio runtime did not start")]
    Runtime(#[source] std::io::Error),
    /// The channel refused its configuration.
    #[error("the channel refused its configuration")]
    Channel(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl<B: BusBackend<u64>> AsyncChannel for OnBus<B> {
    type Rx = B::Receiver;

    fn open(capacity: usize, subscribers: usize) -> Result<(Self, Vec<Self::Rx>), HarnessError> {
        let bus = B::with_capacity(capacity).map_err(|e| HarnessError::Channel(Box::new(e)))?;
        let receivers = (0..subscribers).map(|_| bus.subscribe()).collect();
        Ok((Self(bus), receivers))
    }

    fn send(&mut self, msg: u64) {
        self.0.publish(msg);
    }

    async fn recv(rx: &mut Self::Rx) -> Next {
        match rx.recv().await {
            Ok(msg) => Next::Message(msg),
            Err(RecvError::Lagged(_)) => Next::Lost,
            Err(RecvError::Closed) => Next::Closed,
        }
    }
}

/// A ron-bus backend whose subscriber tasks receive in runs of up to
/// [`RUN`] with `recv_many` (where [`OnBus`] awaits `recv()` per message).
#[derive(Debug, Clone)]
pub struct InRuns<B>(pub B);

impl<B: BusBackend<u64>> AsyncChannel for InRuns<B> {
    type Rx = B::Receiver;

    fn open(capacity: usize, subscribers: usize) -> Result<(Self, Vec<Self::Rx>), HarnessError> {
        OnBus::<B>::open(capacity, subscribers).map(|(OnBus(bus), rxs)| (Self(bus), rxs))
    }

    fn send(&mut self, msg: u64) {
        self.0.publish(msg);
    }

    fn recv(rx: &mut Self::Rx) -> impl Future<Output = Next> + Send + '_ {
        OnBus::<B>::recv(rx)
    }

    async fn recv_run<'a>(rx: &'a mut Self::Rx, buf: &'a mut Vec<u64>) -> Next {
        let first = buf.len();
        match rx.recv_many(buf, RUN).await {
            Ok(_) => Next::Message(buf[first]),
            Err(RecvError::Lagged(_)) => Next::Lost,
            Err(RecvError::Closed) => Next::Closed,
        }
    }
}

impl AsyncChannel for broadcast::Sender<u64> {
    type Rx = broadcast::Receiver<u64>;

    fn open(capacity: usize, subscribers: usize) -> Result<(Self, Vec<Self::Rx>), HarnessError> {
        let (tx, _) = broadcast::channel(capacity);
        let receivers = (0..subscribers).map(|_| tx.subscribe()).collect();
        Ok((tx, receivers))
    }

    fn send(&mut self, msg: u64) {
        // Err only when nobody subscribes: not a delivery, nothing to count.
        let _ = broadcast::Sender::send(self, msg);
    }

    async fn recv(rx: &mut Self::Rx) -> Next {
        match rx.recv().await {
            Ok(msg) => Next::Message(msg),
            Err(broadcast::error::RecvError::Lagged(_)) => Next::Lost,
            Err(broadcast::error::RecvError::Closed) => Next::Closed,
        }
    }
}

/// What one run measured.
#[derive(Debug, Clone, Default)]
pub struct Run {
    /// Messages received, over every task.
    pub delivered: u64,
    /// Publish-to-receive latencies in ns, sorted ascending (empty unless
    /// the run recorded them).
    pub latencies: Vec<u64>,
    /// From the first publish to the last task seeing the close.
    pub elapsed: Duration,
    /// Process CPU time over the same span, ns (`None` where
    /// [`process_cpu_ns`] cannot read it).
    pub cpu_ns: Option<u64>,
}

impl Run {
    /// Deliveries per second.
    pub fn deliveries_per_s(&self) -> f64 {
        self.delivered as f64 / self.elapsed.as_secs_f64()
    }

    /// Process CPU ns per delivery; `None` without a CPU reading or a
    /// delivery.
    pub fn cpu_ns_per_delivery(&self) -> Option<f64> {
        let cpu = self.cpu_ns?;
        (self.delivered > 0).then(|| cpu as f64 / self.delivered as f64)
    }
}

/// Flood: messages published as fast as the channel takes them, for
/// `duration`, to `tasks` subscriber tasks on a channel of `capacity`.
///
/// A run lasts `duration` whatever the library's speed (the publisher
/// looks at the clock after every [`FLOOD_CHUNK`](crate::harness::FLOOD_CHUNK)
/// messages, at least one chunk: [`publish_for`]), so a stall of the
/// VM weighs the same on every library: with a fixed message count, the
/// fastest library's run was the shortest, and a few milliseconds' stall
/// decided its round.
///
/// # Errors
///
/// The runtime did not start or the channel refused the capacity.
pub fn flood<C: AsyncChannel>(
    capacity: usize,
    tasks: usize,
    duration: Duration,
) -> Result<Run, HarnessError> {
    run::<C>(capacity, tasks, false, |tx| {
        publish_for(duration, |msg| tx.send(msg));
    })
}

/// Paced: `rate` messages per second for `duration` ([`sleep_paced`]), each
/// stamped with its send time, to `tasks` subscriber tasks on a channel of
/// `capacity`; the run's latencies are recorded.
///
/// # Errors
///
/// The runtime did not start or the channel refused the capacity.
pub fn paced<C: AsyncChannel>(
    capacity: usize,
    tasks: usize,
    rate: f64,
    duration: Duration,
) -> Result<Run, HarnessError> {
    run::<C>(capacity, tasks, true, |tx| {
        sleep_paced(rate, duration, |stamp| tx.send(stamp));
    })
}

/// Drain: `tasks` subscriber tasks of a channel of `capacity` find
/// `capacity` messages waiting (published, and the channel closed, before
/// the tasks are spawned) and each takes all of them; the run's
/// deliveries per second. Receive-bound by construction (see
/// [`crate::harness::backend_drain`], its thread counterpart).
///
/// # Errors
///
/// The runtime did not start or the channel refused the capacity.
pub fn drain<C: AsyncChannel>(capacity: usize, tasks: usize) -> Result<Run, HarnessError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .build()
        .map_err(HarnessError::Runtime)?;
    let (mut tx, receivers) = C::open(capacity, tasks)?;
    for i in 0..capacity as u64 {
        tx.send(i);
    }
    drop(tx);
    let ready = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let handles: Vec<_> = receivers
        .into_iter()
        .map(|rx| runtime.spawn(receive_until_closed::<C>(rx, Arc::clone(&ready), false)))
        .collect();
    let delivered = runtime.block_on(async {
        let mut delivered = 0;
        for handle in handles {
            match handle.await {
                Ok((got, _)) => delivered += got,
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            }
        }
        delivered
    });
    Ok(Run {
        delivered,
        latencies: Vec::new(),
        elapsed: start.elapsed(),
        cpu_ns: None,
    })
}

/// Calls `send` `rate` times a second for `duration` with the time of the
/// call ([`now_ns`]), sleeping until the next message is due. A sleep on
/// Linux overshoots by tens of µs (the timer slack), so when the publisher
/// wakes late it sends every message due by then, back to back: the rate
/// holds on average and the thread never spins. Returns how many it sent.
pub fn sleep_paced(rate: f64, duration: Duration, mut send: impl FnMut(u64)) -> u64 {
    let total = (rate * duration.as_secs_f64()) as u64;
    let due = |i: u64| Duration::from_secs_f64(i as f64 / rate);
    let start = Instant::now();
    let mut sent = 0;
    while sent < total {
        let now = start.elapsed();
        while sent < total && due(sent) <= now {
            send(now_ns());
            sent += 1;
        }
        if sent < total {
            std::thread::sleep(due(sent).saturating_sub(start.elapsed()));
        }
    }
    sent
}

/// One run: `tasks` tasks receive on a runtime of [`WORKERS`] workers,
/// `publish` runs on this thread once all of them are running, and the
/// channel closes when it returns.
///
/// The CPU time covers every thread of the run: the runtime is built before
/// the first reading and shut down after the second, and the publisher is
/// this thread, so no thread of the run comes or goes between the two.
fn run<C: AsyncChannel>(
    capacity: usize,
    tasks: usize,
    record: bool,
    publish: impl FnOnce(&mut C),
) -> Result<Run, HarnessError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .build()
        .map_err(HarnessError::Runtime)?;
    let (mut tx, receivers) = C::open(capacity, tasks)?;
    let ready = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = receivers
        .into_iter()
        .map(|rx| runtime.spawn(receive_until_closed::<C>(rx, Arc::clone(&ready), record)))
        .collect();
    // Tasks are running (parked in their first receive) before the clock
    // starts: start-up is not what is measured.
    while ready.load(Ordering::Acquire) < tasks {
        std::thread::sleep(Duration::from_micros(100));
    }
    let cpu_before = process_cpu_ns();
    let start = Instant::now();
    publish(&mut tx);
    drop(tx);
    let results = runtime.block_on(async {
        let mut results = Vec::with_capacity(handles.len());
        for handle in handles {
            match handle.await {
                Ok(result) => results.push(result),
                // A receiving task that panicked is a bench bug, not a figure.
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            }
        }
        results
    });
    let elapsed = start.elapsed();
    let cpu_ns = process_cpu_ns()
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before));
    drop(runtime);
    let delivered = results.iter().map(|(got, _)| got).sum();
    let mut latencies: Vec<u64> = results.into_iter().flat_map(|(_, lat)| lat).collect();
    latencies.sort_unstable();
    Ok(Run {
        delivered,
        latencies,
        elapsed,
        cpu_ns,
    })
}

/// One subscriber task: receives until closed; how many messages it got
/// and, when `record`, each one's latency.
async fn receive_until_closed<C: AsyncChannel>(
    mut rx: C::Rx,
    ready: Arc<AtomicUsize>,
    record: bool,
) -> (u64, Vec<u64>) {
    ready.fetch_add(1, Ordering::AcqRel);
    let (mut got, mut latencies) = (0, Vec::new());
    let mut run = Vec::with_capacity(RUN);
    loop {
        match C::recv_run(&mut rx, &mut run).await {
            Next::Message(_) => {
                got += run.len() as u64;
                if record {
                    let now = now_ns();
                    latencies.extend(run.iter().map(|stamp| now.saturating_sub(*stamp)));
                }
                run.clear();
            }
            Next::Lost => {}
            Next::Closed => return (got, latencies),
        }
    }
}

/// CPU time of this process so far, ns: the sum of the on-CPU time of its
/// live threads (`/proc/self/task/*/schedstat`, first field, ns precision,
/// where `/proc/self/stat` counts 10 ms ticks). Threads that already exited
/// are not in it, so callers read it twice around a span in which no
/// thread of interest exits. `None` off Linux or when `/proc` is not
/// readable.
pub fn process_cpu_ns() -> Option<u64> {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let path = task.ok()?.path().join("schedstat");
        // A thread that exits between the listing and the read is skipped.
        let Ok(stat) = std::fs::read_to_string(path) else {
            continue;
        };
        total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::{flood, paced, process_cpu_ns, sleep_paced};
    use tokio::sync::broadcast;

    #[test]
    fn a_flood_publishes_whole_chunks_and_a_lossless_run_delivers_them() {
        // Fewer messages than the capacity: nothing can be lapped.
        let run = flood::<broadcast::Sender<u64>>(1 << 20, 4, Duration::ZERO).unwrap();
        // One chunk: the clock is looked at after each.
        assert_eq!(run.delivered, 4 * crate::harness::FLOOD_CHUNK);
        assert!(run.latencies.is_empty());
    }

    #[test]
    fn a_paced_run_records_one_latency_per_delivery() {
        let run =
            paced::<broadcast::Sender<u64>>(1024, 3, 10_000.0, Duration::from_millis(20)).unwrap();
        assert_eq!(run.delivered, 3 * 200);
        assert_eq!(run.latencies.len(), 600);
        assert!(run.latencies.is_sorted());
    }

    #[test]
    fn sleep_paced_sends_the_count_its_rate_and_duration_give() {
        let start = Instant::now();
        let mut stamps = Vec::new();
        let sent = sleep_paced(5_000.0, Duration::from_millis(10), |s| stamps.push(s));
        assert_eq!(sent, 50);
        assert!(stamps.is_sorted());
        // The last message is due at 9.8 ms: it waited for it.
        assert!(start.elapsed() >= Duration::from_micros(9_800));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn process_cpu_time_grows_with_work() {
        let before = process_cpu_ns().unwrap();
        let deadline = Instant::now() + Duration::from_millis(20);
        while Instant::now() < deadline {
            std::hint::spin_loop();
        }
        assert!(process_cpu_ns().unwrap() > before);
    }
}
