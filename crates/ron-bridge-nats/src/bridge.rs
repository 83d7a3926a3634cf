//! The bridge itself: options, start, the export and import tasks.

use std::str::FromStr as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_nats::connection::State;
use async_nats::{Client, ConnectOptions, Event, PublishErrorKind, ServerAddr, Subject};
use bytes::Bytes;
use futures_util::StreamExt as _;
use parking_lot::Mutex;
use rand::rngs::{SmallRng, SysRng};
use rand::{RngExt as _, SeedableRng as _};
use ron_bus::{ALL_TOPICS, BusBackend, BusReceiver, RecvError};
use ron_health::{HealthState, ServiceState};
use ron_supervisor::Backoff;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::task::JoinHandle;
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
/// Incoming messages queued per imported topic before the client reports
/// a slow consumer and drops.
const SUBSCRIPTION_CAPACITY: usize = 8192;
/// Longest a publish waits for room in the client's queue before the event
/// is dropped (`reason="full"`): it bounds how long the export task can be
/// held up by a stalled connection (the race between the state check and a
/// disconnect), never the local publisher, who does not wait at all.
const PUBLISH_WAIT: Duration = Duration::from_millis(250);
/// Longest the shutdown waits for the client to flush what it was handed.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(2);
/// Longest one connection attempt may take (TCP + handshake).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

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
    connected: AtomicBool,
    /// Set by `shutdown` (and drop): the client's connection task may
    /// outlive the bridge (see `Bridge::shutdown`), and its late events must
    /// not reopen the gate or the gauge.
    stopped: AtomicBool,
    /// Only when `required`: the gate to open and close.
    health: Option<Arc<HealthState>>,
}

impl Shared {
    fn set_connected(&self, connected: bool) {
        self.connected.store(connected, Ordering::Release);
        self.metrics.set_connected(connected);
        let state = if connected {
            ServiceState::Healthy
        } else {
            ServiceState::Unhealthy
        };
        self.set_gate(state);
    }

    fn set_gate(&self, state: ServiceState) {
        if let Some(health) = &self.health
            && let Err(error) = health.set(|s| s.set_service(NATS_GATE, state))
        {
            // NATS_GATE is a valid name: unreachable, logged rather than unwrapped.
            tracing::warn!(%error, "cannot set the nats readiness gate");
        }
    }

    /// The client's events: connection changes and slow-consumer reports.
    /// Runs on the client's event task; never blocks.
    fn on_event(&self, event: Event) {
        if self.stopped.load(Ordering::Acquire) {
            return;
        }
        match event {
            Event::Connected => {
                tracing::info!("nats bridge connected");
                self.set_connected(true);
            }
            Event::Disconnected | Event::Closed => {
                tracing::warn!(%event, "nats bridge disconnected");
                self.set_connected(false);
            }
            Event::SlowConsumer(sid) => {
                tracing::debug!(
                    sid,
                    "nats client dropped an incoming message: slow consumer"
                );
                self.metrics.add_dropped("slow_consumer", 1);
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
    /// to `ron.<cluster>.<node>.<topic name>`; imports
    /// `ron.<cluster>.*.<topic name>` for each named topic of `import_mask`
    /// from other nodes (never its own), publishing [`Remote<T>`] on
    /// `remote` with the event's topic bit. The export subscription exists
    /// when `start` returns: every later local event is exported or counted.
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
        let imports: Vec<(u64, &'static str)> = topics.named_in(options.import_mask).collect();
        let shared = Arc::new(Shared {
            metrics,
            connected: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            health: health.filter(|_| options.required),
        });
        shared.metrics.set_connected(false);
        shared.set_gate(ServiceState::Starting);

        // Subscribed here, not in the task: events published after `start`
        // returns are seen (exported or counted), none slip past unseen.
        let rx = local.subscribe_with_interest(options.export_mask);
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
            let mut importers = Vec::with_capacity(imports.len());
            for (bit, name) in imports {
                // Queued for the connection task; sent once connected and
                // re-sent by the client after every reconnect.
                let subject = format!("ron.{cluster}.*.{name}");
                match client.subscribe(subject.clone()).await {
                    Ok(subscriber) => importers.push(tokio::spawn(import_loop(
                        subscriber,
                        Import {
                            bit,
                            name,
                            node: Arc::clone(&node),
                            shared: Arc::clone(&task_shared),
                            remote: remote.clone(),
                        },
                        task_cancel.clone(),
                    ))),
                    Err(error) => {
                        tracing::error!(%error, %subject, "nats bridge cannot subscribe");
                    }
                }
            }
            export_loop(rx, &client, &exports, &task_shared, &topics, &task_cancel).await;
            // The export ends at shutdown or when the local bus closes; in
            // the latter case imports go on until shutdown.
            task_cancel.cancelled().await;
            for importer in importers {
                let _ = importer.await;
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

    /// Whether the NATS client is connected now.
    pub fn is_connected(&self) -> bool {
        self.shared.connected.load(Ordering::Acquire)
    }

    /// Stops the tasks: flushes what was already handed to the client,
    /// bounded by a timeout, and removes the readiness gate.
    ///
    /// The client's own connection task ends with it when connected; while
    /// disconnected it ends at its next connection (when it sees the bridge
    /// gone) or with the runtime: `async-nats` has no way to abort a
    /// reconnect loop from outside.
    pub async fn shutdown(mut self) {
        self.shared.stopped.store(true, Ordering::Release);
        self.cancel.cancel();
        for task in self.tasks.drain(..) {
            let _ = tokio::time::timeout(SHUTDOWN_FLUSH + Duration::from_secs(1), task).await;
        }
        let shared = &self.shared;
        shared.connected.store(false, Ordering::Release);
        shared.metrics.set_connected(false);
        if let Some(health) = &shared.health {
            health.set(|s| s.remove_service(NATS_GATE));
        }
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        // After `shutdown` both are already set; otherwise this stops the
        // tasks at their next await and silences the client's late events.
        self.shared.stopped.store(true, Ordering::Release);
        self.cancel.cancel();
    }
}

/// The client's options: the backoff as its reconnect delay, a bounded
/// command queue and subscription queues, no echo of our own publishes.
fn connect_options(options: &BridgeOptions, shared: Arc<Shared>) -> ConnectOptions {
    let backoff = options.backoff;
    let rng = Mutex::new(entropy_seeded());
    ConnectOptions::new()
        .name(format!(
            "ron-bridge-nats {}.{}",
            options.cluster, options.node
        ))
        .retry_on_initial_connect()
        .max_reconnects(None)
        .connection_timeout(CONNECT_TIMEOUT)
        .client_capacity(CLIENT_CAPACITY)
        .subscription_capacity(SUBSCRIPTION_CAPACITY)
        .no_echo()
        .reconnect_delay_callback(move |attempts| {
            let jitter = rng.lock().random::<f64>();
            reconnect_delay(&backoff, attempts, jitter)
        })
        .event_callback(move |event| {
            shared.on_event(event);
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

/// Drains the export subscriber in runs and hands each event to the
/// client, or counts why not. Returns on cancellation or when the local bus
/// closes.
async fn export_loop<T, Rx>(
    mut rx: Rx,
    client: &Client,
    exports: &ExportTable,
    shared: &Shared,
    topics: &Topics<T>,
    cancel: &CancellationToken,
) where
    T: Serialize + Clone + Send + Sync + 'static,
    Rx: BusReceiver<T>,
{
    let mut batch = Vec::with_capacity(EXPORT_BATCH);
    let metrics = &shared.metrics;
    loop {
        let received = tokio::select! {
            biased;
            () = cancel.cancelled() => return,
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
        let mut connected = client.connection_state() == State::Connected;
        for event in batch.drain(..) {
            let bit = topics.topic_of(&event);
            let Some((subject, prefix)) = exports.get(bit) else {
                // A named topic outside the export mask reached us through
                // a wider publish topic (interest overlap): not selected,
                // not a loss. A bit with no name (or not one bit) is.
                if topics.name(bit).is_none() {
                    metrics.add_dropped("unnamed", 1);
                }
                continue;
            };
            if !connected {
                metrics.add_dropped("disconnected", 1);
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
            let publish = client.publish(subject.clone(), Bytes::from(payload));
            match tokio::time::timeout(PUBLISH_WAIT, publish).await {
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
                    connected = client.connection_state() == State::Connected;
                }
            }
        }
    }
}

/// What one import task needs.
struct Import<R> {
    bit: u64,
    name: &'static str,
    node: Arc<str>,
    shared: Arc<Shared>,
    remote: R,
}

/// Reads one imported topic's subscription and publishes each valid remote
/// event on the import bus. Returns on cancellation or when the client's
/// subscription ends.
async fn import_loop<T, R>(
    mut subscriber: async_nats::Subscriber,
    import: Import<R>,
    cancel: CancellationToken,
) where
    T: DeserializeOwned + Clone + Send + Sync + 'static,
    R: BusBackend<Remote<T>>,
{
    let metrics = &import.shared.metrics;
    // The last sender's name, reused while it repeats (one allocation per
    // change of sender, not per event).
    let mut last_node: Option<Arc<str>> = None;
    loop {
        let message = tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            message = subscriber.next() => match message {
                Some(message) => message,
                None => return,
            },
        };
        // Subject: ron.<cluster>.<node>.<topic>; the subscription's
        // wildcard guarantees four tokens, the last being our topic.
        let Some(subject_node) = message.subject.split('.').nth(2) else {
            metrics.add_dropped("malformed", 1);
            continue;
        };
        if subject_node == &*import.node {
            // Our own node name (another process misconfigured with it, as
            // no_echo already keeps our own publishes away): never imported.
            tracing::debug!(subject = %message.subject, "nats bridge skipped its own node's event");
            continue;
        }
        let envelope = match envelope::decode::<T>(&message.payload) {
            Ok(envelope) => envelope,
            Err(DecodeError::Version(version)) => {
                tracing::debug!(version, subject = %message.subject, "nats bridge skipped a newer envelope");
                metrics.add_dropped("version", 1);
                continue;
            }
            Err(error) => {
                tracing::debug!(%error, subject = %message.subject, "nats bridge skipped a malformed message");
                metrics.add_dropped("malformed", 1);
                continue;
            }
        };
        if envelope.node != subject_node || envelope.topic != import.name {
            metrics.add_dropped("malformed", 1);
            continue;
        }
        let node = match &last_node {
            Some(node) if **node == *envelope.node => Arc::clone(node),
            _ => {
                let node: Arc<str> = Arc::from(envelope.node);
                last_node = Some(Arc::clone(&node));
                node
            }
        };
        // Counted first: whoever sees the event on the import bus sees it
        // counted.
        metrics.add_imported(1);
        import.remote.publish_topic(
            import.bit,
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
