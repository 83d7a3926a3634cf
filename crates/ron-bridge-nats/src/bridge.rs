//! The bridge itself: options, start, the export and import tasks.

use std::str::FromStr as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_nats::connection::State;
use async_nats::{
    Client, ConnectOptions, Event, PublishErrorKind, ServerAddr, Statistics, Subject,
};
use bytes::Bytes;
use futures_util::{FutureExt as _, StreamExt as _};
use parking_lot::Mutex;
use rand::rngs::{SmallRng, SysRng};
use rand::{RngExt as _, SeedableRng as _};
use ron_bus::{ALL_TOPICS, BusBackend, BusReceiver, RecvError, TryRecvError};
use ron_health::{HealthState, ServiceState};
use ron_supervisor::Backoff;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::envelope;
use crate::topics::check_token;
use crate::{BridgeError, BridgeMetrics, DecodeError, Topics};

/// Name of the readiness gate (a `ron-health` service) the bridge keeps
/// when [`BridgeOptions::required`] is set.
pub const NATS_GATE: &str = "nats";

/// Most events the export task takes from the local bus per `recv_many`.
const EXPORT_BATCH: usize = 256;
/// Commands (publishes, subscribes) the client queues for its connection
/// task: the bound on what the client holds between the bridge and the
/// socket. Publishes are only handed over while connected, so this queue
/// does not fill with an outage's events.
const CLIENT_CAPACITY: usize = 2048;
/// Incoming messages queued in the bridge's one subscription (every
/// imported topic, in arrival order) before the client reports a slow
/// consumer and drops. In bytes at most this many times the server's
/// `max_payload` (1 MiB by default: 8 GiB in theory; about 1 MB for
/// events of 100 bytes): a fleet with large events lowers `max_payload`.
const SUBSCRIPTION_CAPACITY: usize = 8192;
/// Longest a publish waits for room in the client's queue before the event
/// is dropped (`reason="full"`), once per run of events (the rest of a run
/// after such a wait is dropped as `full` at once): it bounds how long the
/// export task can be held up by a stalled connection, never the local
/// publisher, who does not wait at all.
const PUBLISH_WAIT: Duration = Duration::from_millis(250);
/// Longest the shutdown waits for the client to flush what it was handed.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(2);
/// Longest `shutdown` waits for the bridge's task (which flushes for at
/// most [`SHUTDOWN_FLUSH`]) before aborting it.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(3);
/// Longest one connection attempt may take (TCP + handshake).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How often the client pings the server. The client closes a connection
/// with more than two pings unanswered, so a half-open connection (a
/// stalled server, a silently dropped route) is seen as lost within about
/// three intervals (15 s) instead of the client's default (2 minutes or
/// more), and events stop being counted as exported into a dead socket.
const PING_INTERVAL: Duration = Duration::from_secs(5);
/// How often the bridge reads the client's connection state (the source of
/// `bridge_connected`, `is_connected` and the gate) and reconciles the
/// slow-consumer count: the client's events are only hints, as it drops
/// them when its event queue (128) is full.
const STATE_POLL: Duration = Duration::from_millis(250);
/// The reconnect delay once the bridge is stopped: `async-nats` cannot stop
/// a reconnect loop from outside, so a stopped bridge's client waits this
/// long before each further attempt (its task ends at the first success).
const STOPPED_RECONNECT_DELAY: Duration = Duration::from_secs(24 * 60 * 60);

/// An event another kernel published, as it arrives on the local import bus.
#[derive(Debug, Clone, PartialEq)]
pub struct Remote<T> {
    /// The node (kernel) that published it.
    pub node: Arc<str>,
    /// The event.
    pub event: T,
}

/// How a [`Bridge`] connects and what it carries.
#[derive(Debug, Clone)]
pub struct BridgeOptions {
    /// The NATS server, e.g. `nats://127.0.0.1:4222` (a comma-separated
    /// list names several servers of one cluster).
    pub url: String,
    /// The fleet's name: the second subject token.
    pub cluster: String,
    /// This kernel's name: the third subject token; never imported back.
    pub node: String,
    /// Local topics published to NATS.
    pub export_mask: u64,
    /// Remote topics delivered on the import bus.
    pub import_mask: u64,
    /// Whether the bridge keeps a [`NATS_GATE`] readiness gate (not ready
    /// while disconnected).
    pub required: bool,
    /// Delays between connection attempts (jittered, attempt after attempt).
    pub backoff: Backoff,
}

impl BridgeOptions {
    /// Options for `url`, `cluster` and `node`: every topic exported and
    /// imported, no readiness gate, the default backoff (100 ms doubling to
    /// 30 s).
    pub fn new(
        url: impl Into<String>,
        cluster: impl Into<String>,
        node: impl Into<String>,
    ) -> Self {
        Self {
            url: url.into(),
            cluster: cluster.into(),
            node: node.into(),
            export_mask: ALL_TOPICS,
            import_mask: ALL_TOPICS,
            required: false,
            backoff: Backoff::default(),
        }
    }
}

/// What the bridge's tasks and the client's event callback share.
struct Shared {
    metrics: BridgeMetrics,
    /// `link.connected`, readable without the lock.
    connected: AtomicBool,
    /// Whether the bridge is stopped and what the gauge and gate say, under
    /// one lock: a state change checks `stopped` and writes the gate without
    /// a shutdown in between (which would then see its removal undone).
    link: Mutex<Link>,
    /// The slow-consumer count (see [`SlowCount`]).
    slow: Mutex<SlowCount>,
    /// Woken by the client's connection events: the state watcher reads the
    /// state at once instead of at its next tick.
    wake: Notify,
    /// Only when `required`: the gate to open and close.
    health: Option<Arc<HealthState>>,
}

struct Link {
    /// Set by `shutdown` (and drop): the client's connection task may
    /// outlive the bridge (see `Bridge::shutdown`); nothing may reopen the
    /// gate or the gauge afterwards, and the client stops reconnecting.
    stopped: bool,
    connected: bool,
}

/// `bridge_dropped_total{reason="slow_consumer"}` from two lower bounds of
/// the client's drops: its reports (each one drop, but the client's event
/// queue loses reports in a burst) and the exact count at the last idle
/// moment (messages the client received minus those the import took). The
/// counter is the larger, so it never counts a drop twice and is exact
/// whenever the subscription has been idle for a tick.
#[derive(Default)]
struct SlowCount {
    reports: u64,
    exact: u64,
    counted: u64,
}

impl Shared {
    /// Not connected, not stopped; `health` holds the `nats` gate (only
    /// when the bridge is `required`).
    fn new(metrics: BridgeMetrics, health: Option<Arc<HealthState>>) -> Self {
        Self {
            metrics,
            connected: AtomicBool::new(false),
            link: Mutex::new(Link {
                stopped: false,
                connected: false,
            }),
            slow: Mutex::new(SlowCount::default()),
            wake: Notify::new(),
            health,
        }
    }

    /// Records the client's connection state; a change moves the gauge,
    /// `is_connected` and the gate, unless the bridge is stopped.
    fn set_connected(&self, connected: bool) {
        let mut link = self.link.lock();
        if link.stopped || link.connected == connected {
            return;
        }
        link.connected = connected;
        // The gauge before the flag: who sees `is_connected` change sees the
        // gauge already changed.
        self.metrics.set_connected(connected);
        self.connected.store(connected, Ordering::Release);
        if connected {
            tracing::info!("nats bridge connected");
            self.set_gate(ServiceState::Healthy);
        } else {
            tracing::warn!("nats bridge disconnected");
            self.set_gate(ServiceState::Unhealthy);
        }
    }

    fn set_gate(&self, state: ServiceState) {
        if let Some(health) = &self.health
            && let Err(error) = health.set(|s| s.set_service(NATS_GATE, state))
        {
            // NATS_GATE is a valid name: unreachable, logged rather than unwrapped.
            tracing::warn!(%error, "cannot set the nats readiness gate");
        }
    }

    fn stop(&self) {
        self.link.lock().stopped = true;
    }

    fn is_stopped(&self) -> bool {
        self.link.lock().stopped
    }

    /// After the tasks ended: disconnected for good, the gate removed.
    fn finish(&self) {
        let mut link = self.link.lock();
        link.stopped = true;
        link.connected = false;
        self.metrics.set_connected(false);
        self.connected.store(false, Ordering::Release);
        if let Some(health) = &self.health {
            health.set(|s| s.remove_service(NATS_GATE));
        }
    }

    /// One slow-consumer report of the client.
    fn report_slow(&self) {
        let mut slow = self.slow.lock();
        slow.reports += 1;
        self.settle_slow(&mut slow);
    }

    /// The client's drops counted exactly at an idle moment.
    fn reconcile_slow(&self, exact: u64) {
        let mut slow = self.slow.lock();
        slow.exact = slow.exact.max(exact);
        self.settle_slow(&mut slow);
    }

    fn settle_slow(&self, slow: &mut SlowCount) {
        let target = slow.reports.max(slow.exact);
        if target > slow.counted {
            self.metrics
                .add_dropped("slow_consumer", target - slow.counted);
            slow.counted = target;
        }
    }

    /// The client's events: connection changes (hints for the watcher) and
    /// slow-consumer reports. Runs on the client's event task; never blocks.
    fn on_event(&self, event: Event) {
        match event {
            Event::Connected | Event::Disconnected | Event::Closed => {
                tracing::debug!(%event, "nats client connection event");
                self.wake.notify_one();
            }
            Event::SlowConsumer(sid) => {
                tracing::debug!(
                    sid,
                    "nats client dropped an incoming message: slow consumer"
                );
                self.report_slow();
            }
            other => tracing::info!(event = %other, "nats client event"),
        }
    }
}

/// A running bridge between a local bus and NATS.
///
/// Dropping it without [`shutdown`](Self::shutdown) stops its tasks too
/// (without the final flush).
pub struct Bridge {
    shared: Arc<Shared>,
    cancel: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Bridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bridge")
            .field("connected", &self.is_connected())
            .field("required", &self.shared.health.is_some())
            .field("stopped", &self.cancel.is_cancelled())
            .finish()
    }
}

impl Bridge {
    /// Starts the bridge's tasks on the current tokio runtime and returns at
    /// once: it never waits for NATS (the client connects in the
    /// background, retrying with `options.backoff`, jittered, for ever).
    ///
    /// Exports what `local.subscribe_with_interest(export_mask)` receives
    /// to `ron.<cluster>.<node>.<topic name>`; imports the named topics of
    /// `import_mask` from other nodes (never its own) through one
    /// subscription, `ron.<cluster>.*.*` (so one node's events keep their
    /// order across topics), publishing [`Remote<T>`] on `remote` with the
    /// event's topic bit. The export subscription exists when `start`
    /// returns: every later local event is exported or counted.
    ///
    /// With `options.required` and `health`, registers the [`NATS_GATE`]
    /// service gate as `starting`; it turns `healthy` while connected and
    /// `unhealthy` while not.
    ///
    /// # Errors
    ///
    /// [`BridgeError::InvalidName`] for a cluster or node that is not a
    /// subject token, [`BridgeError::InvalidUrl`],
    /// [`BridgeError::NoRuntime`] outside a tokio runtime.
    pub fn start<T, L, R>(
        options: BridgeOptions,
        topics: Topics<T>,
        local: &L,
        remote: &R,
        metrics: BridgeMetrics,
        health: Option<Arc<HealthState>>,
    ) -> Result<Bridge, BridgeError>
    where
        T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
        L: BusBackend<T>,
        R: BusBackend<Remote<T>>,
    {
        check_token("cluster", &options.cluster)?;
        check_token("node", &options.node)?;
        let servers = options
            .url
            .split(',')
            .map(|url| {
                ServerAddr::from_str(url.trim()).map_err(|e| BridgeError::InvalidUrl {
                    url: options.url.clone(),
                    reason: e.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| BridgeError::NoRuntime)?;

        let exports = ExportTable::new(&topics, &options)?;
        let imports: Vec<(&'static str, u64)> = topics
            .named_in(options.import_mask)
            .map(|(bit, name)| (name, bit))
            .collect();
        let shared = Arc::new(Shared::new(metrics, health.filter(|_| options.required)));
        shared.metrics.set_connected(false);
        shared.set_gate(ServiceState::Starting);

        // Subscribed here, not in the task: events published after `start`
        // returns are seen (exported or counted), none slip past unseen.
        let rx = local.subscribe_with_interest(options.export_mask);
        // At shutdown the export counts what is still queued for it: at most
        // what the bus holds.
        let drain_max = local.capacity();
        let remote = remote.clone();
        let cancel = CancellationToken::new();

        let connect = connect_options(&options, Arc::clone(&shared));
        let task_cancel = cancel.clone();
        let task_shared = Arc::clone(&shared);
        let node: Arc<str> = Arc::from(options.node.as_str());
        let cluster = options.cluster.clone();
        let main = runtime.spawn(async move {
            // With `retry_on_initial_connect` this returns without waiting
            // for the server; an error here is a configuration the client
            // refused after all.
            let client = match connect.connect(servers).await {
                Ok(client) => client,
                Err(error) => {
                    tracing::error!(%error, "nats bridge cannot create its client");
                    return;
                }
            };
            let mut helpers = vec![tokio::spawn(watch_connection(
                client.clone(),
                Arc::clone(&task_shared),
                task_cancel.clone(),
            ))];
            if !imports.is_empty() {
                // One subscription for every topic: one queue, one order.
                // Queued for the connection task; sent once connected and
                // re-sent by the client after every reconnect.
                let subject = format!("ron.{cluster}.*.*");
                match client.subscribe(subject.clone()).await {
                    Ok(subscriber) => helpers.push(tokio::spawn(import_loop(
                        subscriber,
                        Import {
                            topics: imports,
                            node: Arc::clone(&node),
                            shared: Arc::clone(&task_shared),
                            remote: remote.clone(),
                            stats: client.statistics(),
                        },
                        task_cancel.clone(),
                    ))),
                    Err(error) => {
                        tracing::error!(%error, %subject, "nats bridge cannot subscribe");
                    }
                }
            }
            let export = Export {
                client: &client,
                exports: &exports,
                shared: &task_shared,
                topics: &topics,
                cancel: &task_cancel,
            };
            export.run(rx, drain_max).await;
            // The export ends at shutdown or when the local bus closes; in
            // the latter case imports go on until shutdown.
            task_cancel.cancelled().await;
            for helper in helpers {
                let _ = helper.await;
            }
            if client.connection_state() != State::Connected {
                // Nothing can be flushed: the queue drains only once
                // connected, and shutdown does not wait for that.
                return;
            }
            match tokio::time::timeout(SHUTDOWN_FLUSH, client.flush()).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::debug!(%error, "nats bridge final flush failed"),
                Err(_) => tracing::debug!("nats bridge final flush timed out"),
            }
        });

        Ok(Bridge {
            shared,
            cancel,
            tasks: vec![main],
        })
    }

    /// Whether the NATS client is connected now (its connection state, read
    /// every 250 ms and at each of its connection events).
    pub fn is_connected(&self) -> bool {
        self.shared.connected.load(Ordering::Acquire)
    }

    /// Stops the tasks: counts what the export had not handed over
    /// (`reason="shutdown"`), flushes what was already handed to the
    /// client, bounded by a timeout (the task is aborted past it), and
    /// removes the readiness gate.
    ///
    /// The client's own connection task ends with it when connected. While
    /// disconnected, `async-nats` has no way to abort its reconnect loop
    /// from outside: the stopped bridge makes it wait a day before each
    /// further attempt, and it ends at its next successful connection (when
    /// it sees the bridge gone) or with the runtime.
    pub async fn shutdown(mut self) {
        self.shared.stop();
        self.cancel.cancel();
        for task in self.tasks.drain(..) {
            let abort = task.abort_handle();
            if tokio::time::timeout(SHUTDOWN_WAIT, task).await.is_err() {
                tracing::warn!("nats bridge task still running at shutdown: aborted");
                abort.abort();
            }
        }
        self.shared.finish();
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        // After `shutdown` both are already set; otherwise this stops the
        // tasks at their next await and silences the client's late events.
        self.shared.stop();
        self.cancel.cancel();
    }
}

/// The client's options: the backoff as its reconnect delay, a bounded
/// command queue and subscription queue, pings every [`PING_INTERVAL`], no
/// echo of our own publishes.
fn connect_options(options: &BridgeOptions, shared: Arc<Shared>) -> ConnectOptions {
    let backoff = options.backoff;
    let rng = Mutex::new(entropy_seeded());
    let events = Arc::clone(&shared);
    ConnectOptions::new()
        .name(format!(
            "ron-bridge-nats {}.{}",
            options.cluster, options.node
        ))
        .retry_on_initial_connect()
        .max_reconnects(None)
        .connection_timeout(CONNECT_TIMEOUT)
        .ping_interval(PING_INTERVAL)
        .client_capacity(CLIENT_CAPACITY)
        .subscription_capacity(SUBSCRIPTION_CAPACITY)
        .no_echo()
        .reconnect_delay_callback(move |attempts| {
            if shared.is_stopped() {
                return STOPPED_RECONNECT_DELAY;
            }
            let jitter = rng.lock().random::<f64>();
            reconnect_delay(&backoff, attempts, jitter)
        })
        .event_callback(move |event| {
            events.on_event(event);
            std::future::ready(())
        })
}

/// The delay before the client's connection attempt number `attempts`.
///
/// The client counts attempts from 1 (reset by each successful connection)
/// and asks before each one: the first attempt after a loss (or at start)
/// is immediate, then the supervisor's jittered doubling from its first
/// step, `backoff.delay(attempts - 2, jitter)`.
fn reconnect_delay(backoff: &Backoff, attempts: usize, jitter: f64) -> Duration {
    if attempts <= 1 {
        return Duration::ZERO;
    }
    let attempt = u32::try_from(attempts - 2).unwrap_or(u32::MAX);
    backoff.delay(attempt, jitter)
}

/// A generator for the reconnect jitter, seeded from the system (or, should
/// it refuse, std's per-process hash keys: jitter only has to differ
/// between processes).
fn entropy_seeded() -> SmallRng {
    use std::hash::{BuildHasher as _, Hasher as _};
    SmallRng::try_from_rng(&mut SysRng).unwrap_or_else(|_| {
        SmallRng::seed_from_u64(
            std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish(),
        )
    })
}

/// Sets the connection state from the client's own (`connection_state`)
/// every [`STATE_POLL`] and at each connection event, until cancelled: the
/// events alone may be lost (the client drops them when its event queue is
/// full), the state cannot.
async fn watch_connection(client: Client, shared: Arc<Shared>, cancel: CancellationToken) {
    let mut tick = tokio::time::interval(STATE_POLL);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            () = shared.wake.notified() => {}
            _ = tick.tick() => {}
        }
        shared.set_connected(client.connection_state() == State::Connected);
    }
}

/// Per exported topic (indexed by bit position): its subject and the bytes
/// of its envelope before the event.
struct ExportTable {
    by_bit: Vec<Option<(Subject, Vec<u8>)>>,
}

impl ExportTable {
    fn new<T>(topics: &Topics<T>, options: &BridgeOptions) -> Result<Self, BridgeError> {
        let mut by_bit = vec![None; 64];
        for (bit, name) in topics.named_in(options.export_mask) {
            let subject = Subject::from(format!("ron.{}.{}.{name}", options.cluster, options.node));
            let prefix = envelope::prefix(&options.node, name)?;
            if let Some(slot) = by_bit.get_mut(bit.trailing_zeros() as usize) {
                *slot = Some((subject, prefix));
            }
        }
        Ok(Self { by_bit })
    }

    fn get(&self, bit: u64) -> Option<&(Subject, Vec<u8>)> {
        if bit.count_ones() != 1 {
            return None;
        }
        self.by_bit.get(bit.trailing_zeros() as usize)?.as_ref()
    }
}

/// What the export needs, borrowed from the bridge's task.
struct Export<'a, T> {
    client: &'a Client,
    exports: &'a ExportTable,
    shared: &'a Shared,
    topics: &'a Topics<T>,
    cancel: &'a CancellationToken,
}

impl<T> Export<'_, T>
where
    T: Serialize + Clone + Send + Sync + 'static,
{
    /// Drains the export subscriber in runs and hands each event to the
    /// client, or counts why not. Returns when the local bus closes, or on
    /// cancellation after counting what it had not handed over.
    async fn run<Rx: BusReceiver<T>>(&self, mut rx: Rx, drain_max: usize) {
        let mut batch = Vec::with_capacity(EXPORT_BATCH);
        let metrics = &self.shared.metrics;
        'runs: loop {
            let received = tokio::select! {
                biased;
                () = self.cancel.cancelled() => break 'runs,
                received = rx.recv_many(&mut batch, EXPORT_BATCH) => received,
            };
            match received {
                Ok(_) => {}
                Err(RecvError::Lagged(lost)) => {
                    metrics.add_dropped("lagged", lost);
                    continue;
                }
                Err(RecvError::Closed) => return,
            }
            // Per run, not per event: the state only matters to drop early, and
            // a change inside a run is caught by the bounded publish below.
            let mut connected = self.client.connection_state() == State::Connected;
            // Set by a publish that waited PUBLISH_WAIT in vain: the rest of
            // the run is dropped at once, so a stalled connection costs one
            // wait per run, not one per event.
            let mut stalled = false;
            let mut events = batch.drain(..);
            while let Some(event) = events.next() {
                let Some((subject, prefix)) = self.exports.get(self.topics.topic_of(&event)) else {
                    self.not_exported(&event);
                    continue;
                };
                if !connected {
                    metrics.add_dropped("disconnected", 1);
                    continue;
                }
                if stalled {
                    metrics.add_dropped("full", 1);
                    continue;
                }
                // Room for a small event without regrowing: one allocation.
                let mut payload = Vec::with_capacity(prefix.len() + 128);
                payload.extend_from_slice(prefix);
                if let Err(error) = serde_json::to_writer(&mut payload, &event) {
                    tracing::debug!(%error, "nats bridge cannot encode an event");
                    metrics.add_dropped("encode", 1);
                    continue;
                }
                payload.push(b'}');
                let publish = self.client.publish(subject.clone(), Bytes::from(payload));
                // The publish first: one the client took in this poll counts
                // as exported even if the bridge is stopping.
                let outcome = tokio::select! {
                    biased;
                    outcome = tokio::time::timeout(PUBLISH_WAIT, publish) => outcome,
                    () = self.cancel.cancelled() => {
                        metrics.add_dropped("shutdown", 1);
                        for event in events.by_ref() {
                            self.count_unsent(&event, "shutdown");
                        }
                        break 'runs;
                    }
                };
                match outcome {
                    Ok(Ok(())) => metrics.add_exported(1),
                    Ok(Err(error)) if error.kind() == PublishErrorKind::MaxPayloadExceeded => {
                        metrics.add_dropped("encode", 1);
                    }
                    Ok(Err(_)) => {
                        metrics.add_dropped("disconnected", 1);
                        connected = false;
                    }
                    Err(_) => {
                        metrics.add_dropped("full", 1);
                        stalled = true;
                        connected = self.client.connection_state() == State::Connected;
                    }
                }
            }
        }
        // Stopped: what is still queued for the export was published while
        // the bridge ran and is counted too (at most what the bus holds;
        // later publishes are not the bridge's any more).
        let mut left = drain_max;
        while left > 0 {
            match rx.try_recv_many(&mut batch, left.min(EXPORT_BATCH)) {
                Ok(taken) => {
                    left = left.saturating_sub(taken.max(1));
                    for event in batch.drain(..) {
                        self.count_unsent(&event, "shutdown");
                    }
                }
                Err(TryRecvError::Lagged(lost)) => metrics.add_dropped("lagged", lost),
                Err(TryRecvError::Empty | TryRecvError::Closed) => break,
            }
        }
    }

    /// Counts an event that will not be exported for `reason`, if it is an
    /// exported topic's (or `unnamed`).
    fn count_unsent(&self, event: &T, reason: &'static str) {
        if self.exports.get(self.topics.topic_of(event)).is_some() {
            self.shared.metrics.add_dropped(reason, 1);
        } else {
            self.not_exported(event);
        }
    }

    /// An event outside the export table. A named topic outside the export
    /// mask reached us through a wider publish topic (interest overlap):
    /// not selected, not a loss. A bit with no name (or not one bit) is.
    fn not_exported(&self, event: &T) {
        if self.topics.name(self.topics.topic_of(event)).is_none() {
            self.shared.metrics.add_dropped("unnamed", 1);
        }
    }
}

/// What the import task needs.
struct Import<R> {
    /// The imported topics' names and bits (a few: searched in order).
    topics: Vec<(&'static str, u64)>,
    node: Arc<str>,
    shared: Arc<Shared>,
    remote: R,
    /// The client's counters: `in_messages` for the slow-consumer count.
    stats: Arc<Statistics>,
}

impl<R> Import<R> {
    fn bit(&self, name: &str) -> Option<u64> {
        self.topics
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, bit)| *bit)
    }
}

/// The subject's node and topic: `ron.<cluster>.<node>.<topic>`, four
/// tokens (the subscription's wildcards guarantee it).
fn node_and_topic(subject: &str) -> Option<(&str, &str)> {
    let mut tokens = subject.split('.');
    let (_, _, node, topic) = (
        tokens.next()?,
        tokens.next()?,
        tokens.next()?,
        tokens.next()?,
    );
    tokens.next().is_none().then_some((node, topic))
}

/// Reads the bridge's subscription and publishes each valid remote event
/// of an imported topic on the import bus. Every [`STATE_POLL`] while the
/// subscription is idle, reconciles the slow-consumer count with what the
/// client received. Returns on cancellation or when the subscription ends.
async fn import_loop<T, R>(
    mut subscriber: async_nats::Subscriber,
    import: Import<R>,
    cancel: CancellationToken,
) where
    T: DeserializeOwned + Clone + Send + Sync + 'static,
    R: BusBackend<Remote<T>>,
{
    let mut state = ImportState {
        import,
        last_node: None,
        warned_own_node: false,
    };
    // Messages taken from the subscription, whatever became of them.
    let mut taken: u64 = 0;
    let mut tick = tokio::time::interval(STATE_POLL);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last_received = None;
    loop {
        let message = tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            message = subscriber.next() => message,
            _ = tick.tick() => {
                let received = state.import.stats.in_messages.load(Ordering::Acquire);
                let idle = last_received == Some(received);
                last_received = Some(received);
                if !idle {
                    continue;
                }
                // Nothing received for a tick: if the queue is empty too,
                // every message the client received was taken or dropped.
                // (Unconstrained: a spent task budget would look empty.)
                match tokio::task::unconstrained(subscriber.next()).now_or_never() {
                    None => {
                        state.import.shared.reconcile_slow(received.saturating_sub(taken));
                        continue;
                    }
                    Some(message) => message,
                }
            }
        };
        let Some(message) = message else { return };
        taken += 1;
        state.handle(message);
    }
}

/// The import task's state between messages.
struct ImportState<R> {
    import: Import<R>,
    /// The last sender's name, reused while it repeats (one allocation per
    /// change of sender, not per event).
    last_node: Option<Arc<str>>,
    warned_own_node: bool,
}

impl<R> ImportState<R> {
    fn handle<T>(&mut self, message: async_nats::Message)
    where
        T: DeserializeOwned + Clone + Send + Sync + 'static,
        R: BusBackend<Remote<T>>,
    {
        let import = &self.import;
        let metrics = &import.shared.metrics;
        let Some((subject_node, topic)) = node_and_topic(&message.subject) else {
            metrics.add_dropped("malformed", 1);
            return;
        };
        let Some(bit) = import.bit(topic) else {
            // A topic outside the import mask (or unknown here): the one
            // subscription carries the cluster's every topic; not selected,
            // not a loss.
            return;
        };
        if subject_node == &*import.node {
            // Our own node name from another connection (no_echo keeps our
            // own publishes away): two kernels configured with one name.
            if !self.warned_own_node {
                self.warned_own_node = true;
                tracing::warn!(
                    subject = %message.subject,
                    "nats bridge received events under its own node name from another \
                     connection: two kernels share a node name (skipped and counted as \
                     bridge_dropped_total{{reason=\"own_node\"}})"
                );
            }
            metrics.add_dropped("own_node", 1);
            return;
        }
        let envelope = match envelope::decode::<T>(&message.payload) {
            Ok(envelope) => envelope,
            Err(DecodeError::Version(version)) => {
                tracing::debug!(version, subject = %message.subject, "nats bridge skipped a newer envelope");
                metrics.add_dropped("version", 1);
                return;
            }
            Err(error) => {
                tracing::debug!(%error, subject = %message.subject, "nats bridge skipped a malformed message");
                metrics.add_dropped("malformed", 1);
                return;
            }
        };
        if envelope.node != subject_node || envelope.topic != topic {
            metrics.add_dropped("malformed", 1);
            return;
        }
        let node = match &self.last_node {
            Some(node) if **node == *envelope.node => Arc::clone(node),
            _ => {
                let node: Arc<str> = Arc::from(envelope.node);
                self.last_node = Some(Arc::clone(&node));
                node
            }
        };
        // Counted first: whoever sees the event on the import bus sees it
        // counted.
        metrics.add_imported(1);
        import.remote.publish_topic(
            bit,
            Remote {
                node,
                event: envelope.event,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnect_delays_follow_the_backoff_after_an_immediate_first_attempt() {
        let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        assert_eq!(reconnect_delay(&backoff, 0, 0.5), Duration::ZERO);
        assert_eq!(reconnect_delay(&backoff, 1, 1.0), Duration::ZERO);
        assert_eq!(
            reconnect_delay(&backoff, 2, 1.0),
            Duration::from_millis(100)
        );
        assert_eq!(reconnect_delay(&backoff, 2, 0.0), Duration::from_millis(50));
        assert_eq!(
            reconnect_delay(&backoff, 4, 1.0),
            Duration::from_millis(400)
        );
        // Capped, still jittered over [cap / 2, cap].
        assert_eq!(reconnect_delay(&backoff, 60, 1.0), Duration::from_secs(1));
        assert_eq!(
            reconnect_delay(&backoff, usize::MAX, 0.0),
            Duration::from_millis(500)
        );
    }

    fn shared(health: Option<Arc<HealthState>>) -> Shared {
        Shared::new(
            BridgeMetrics::register(&prometheus::Registry::new()).unwrap(),
            health,
        )
    }

    #[test]
    fn a_stopped_bridge_never_reopens_its_gate_or_gauge() {
        let health = Arc::new(HealthState::new());
        let shared = shared(Some(Arc::clone(&health)));
        shared.set_connected(true);
        assert!(shared.metrics.connected());
        assert!(health.snapshot().service(NATS_GATE).is_some());
        shared.stop();
        // A late state change between stop and finish, and after finish.
        shared.set_connected(false);
        shared.finish();
        shared.set_connected(true);
        assert!(!shared.metrics.connected());
        assert!(!shared.connected.load(Ordering::Acquire));
        assert!(health.snapshot().service(NATS_GATE).is_none());
    }

    #[test]
    fn slow_consumer_count_is_the_larger_bound_never_the_sum() {
        let shared = shared(None);
        for _ in 0..3 {
            shared.report_slow();
        }
        assert_eq!(shared.metrics.dropped("slow_consumer"), 3);
        // Reports lost in a burst: the idle reconciliation tops up.
        shared.reconcile_slow(10);
        assert_eq!(shared.metrics.dropped("slow_consumer"), 10);
        // Late reports of drops already reconciled count nothing more...
        for _ in 0..7 {
            shared.report_slow();
        }
        assert_eq!(shared.metrics.dropped("slow_consumer"), 10);
        // ...and a stale (smaller) reconciliation neither.
        shared.reconcile_slow(4);
        assert_eq!(shared.metrics.dropped("slow_consumer"), 10);
        shared.report_slow();
        shared.report_slow();
        assert_eq!(shared.metrics.dropped("slow_consumer"), 12);
    }

    #[test]
    fn subjects_split_into_node_and_topic() {
        assert_eq!(node_and_topic("ron.c.n.t"), Some(("n", "t")));
        assert_eq!(node_and_topic("ron.c.n"), None);
        assert_eq!(node_and_topic("ron.c.n.t.x"), None);
    }

    #[test]
    fn options_default_to_everything_unrequired() {
        let options = BridgeOptions::new("nats://127.0.0.1:4222", "c", "n");
        assert_eq!(options.export_mask, ALL_TOPICS);
        assert_eq!(options.import_mask, ALL_TOPICS);
        assert!(!options.required);
        assert_eq!(options.backoff, Backoff::default());
    }

    #[test]
    fn start_refuses_bad_names_urls_and_a_missing_runtime() {
        let bus = ron_bus::reference::ReferenceBus::<u64>::with_capacity(8).unwrap();
        let remote = ron_bus::reference::ReferenceBus::<Remote<u64>>::with_capacity(8).unwrap();
        let topics = || Topics::new(|_: &u64| 1, &[(1, "one")]).unwrap();
        let metrics = || BridgeMetrics::register(&prometheus::Registry::new()).unwrap();
        let start = |options: BridgeOptions| {
            Bridge::start(options, topics(), &bus, &remote, metrics(), None).map(drop)
        };
        assert!(matches!(
            start(BridgeOptions::new("nats://127.0.0.1:4222", "a.b", "n")),
            Err(BridgeError::InvalidName {
                what: "cluster",
                ..
            })
        ));
        assert!(matches!(
            start(BridgeOptions::new("nats://127.0.0.1:4222", "c", "*")),
            Err(BridgeError::InvalidName { what: "node", .. })
        ));
        assert!(matches!(
            start(BridgeOptions::new("nats://127.0.0.1:99999", "c", "n")),
            Err(BridgeError::InvalidUrl { .. })
        ));
        assert!(matches!(
            start(BridgeOptions::new("nats://127.0.0.1:4222", "c", "n")),
            Err(BridgeError::NoRuntime)
        ));
    }
}
