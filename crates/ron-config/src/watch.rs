//! [`LiveConfig`]: the current configuration, kept up to date from the file
//! (a `notify` watcher on the directories its path goes through) and the
//! environment (a poller).

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::dirwatch::{Armed, Signal, rearm};
use crate::error::{Chain, ConfigError};
use crate::load::Loader;
use crate::model::Config;
use crate::read::{Stamp, stamp};

/// How a [`LiveConfig`] watches.
///
/// ```
/// use std::time::Duration;
/// use ron_config::WatchOptions;
///
/// let options = WatchOptions::default().debounce(Duration::from_millis(50));
/// assert_eq!(options.env_poll_interval(), Duration::from_secs(1));
/// assert_eq!(options.max_wait_time(), Duration::from_secs(1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchOptions {
    debounce: Duration,
    max_wait: Duration,
    env_poll: Duration,
}

impl WatchOptions {
    /// Quiet time after the last file event before reloading (default
    /// 100 ms): an editor's save is several events, and one reload follows.
    /// Never longer than [`max_wait`](Self::max_wait) after the first
    /// event, so a file that is never quiet is still reloaded.
    #[must_use]
    pub fn debounce(mut self, quiet: Duration) -> Self {
        self.debounce = quiet;
        self
    }

    /// The longest a file change waits for the debounce (default 1 s): a
    /// file that keeps changing without a quiet moment is still reloaded
    /// at least this often.
    #[must_use]
    pub fn max_wait(mut self, longest: Duration) -> Self {
        self.max_wait = longest;
        self
    }

    /// How often the environment is checked for changed `RON_*` values
    /// (default 1 s), on its own timer, which file events never postpone.
    /// At the same period the path is walked again, so a watched directory
    /// that was replaced without an event the watcher saw is re-armed, and
    /// the file is `stat`ed: a changed device, inode, size or modification
    /// time is debounced and reloaded like an event, so a change no event
    /// announced (NFS, FUSE) is still found.
    #[must_use]
    pub fn env_poll(mut self, every: Duration) -> Self {
        self.env_poll = every;
        self
    }

    /// The debounce quiet time.
    pub fn debounce_time(&self) -> Duration {
        self.debounce
    }

    /// The longest wait for the debounce.
    pub fn max_wait_time(&self) -> Duration {
        self.max_wait
    }

    /// The environment poll interval.
    pub fn env_poll_interval(&self) -> Duration {
        self.env_poll
    }
}

impl Default for WatchOptions {
    fn default() -> Self {
        Self {
            debounce: Duration::from_millis(100),
            max_wait: Duration::from_secs(1),
            env_poll: Duration::from_secs(1),
        }
    }
}

/// What a reload did.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ReloadEvent {
    /// A changed configuration was validated and is now current.
    Applied {
        /// The new configuration (its version already bumped).
        config: Arc<Config>,
        /// The one it replaced.
        previous: Arc<Config>,
    },
    /// The file or environment could not be loaded; nothing changed.
    Rejected {
        /// Why.
        error: Arc<ConfigError>,
    },
}

/// Receives every [`ReloadEvent`], in order, on the watcher's task: keep it
/// quick (count, publish on a bus). Closures implement it too.
pub trait ReloadListener: Send + Sync + 'static {
    /// Called once per applied change and once per rejected reload.
    fn on_reload(&self, event: &ReloadEvent);
}

impl<F> ReloadListener for F
where
    F: Fn(&ReloadEvent) + Send + Sync + 'static,
{
    fn on_reload(&self, event: &ReloadEvent) {
        self(event);
    }
}

/// The current configuration, swapped atomically after each validated
/// change. Reading it is a cheap atomic load ([`current`](Self::current)).
/// Dropping it (or [`stop`](Self::stop)) ends the watching.
///
/// Changes are applied by content: a touch, a duplicate event or the same
/// bytes written again apply nothing, and each real change applies exactly
/// once, with version `max(file version, previous version + 1)`. A file that
/// fails to load (unreadable, empty, not a regular file, too large, not
/// valid) changes nothing; the listener hears why and a warning is logged,
/// and the watching goes on.
///
/// What is watched: the directory holding every symlink on the file's path
/// and the directory really holding the file, so a Kubernetes ConfigMap
/// update (`..data` swapped), a `current -> releases/N` switch, an edit of
/// the link's target in place and every kind of editor save are seen. A
/// watched directory that is deleted, moved or replaced is re-armed (its
/// nearest existing ancestor is watched until it is back). Any event in a
/// watched directory starts the debounce; the file is then read on
/// tokio's blocking pool, never on a runtime worker (only the first load,
/// in [`start`](Self::start), runs on the caller's thread). The file is
/// also `stat`ed every [`env_poll`](WatchOptions::env_poll) period, so a
/// change no event announced is found too. Errors of the watcher itself
/// reach the listener as [`ConfigError::Watch`] (reason `watch`, once per
/// incident) and the watch is re-armed.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use ron_config::{Env, LiveConfig, Loader, ReloadEvent, WatchOptions};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("ron-kernel.toml");
/// std::fs::write(&path, "amnesia = false\n")?;
///
/// let (tx, mut applied) = tokio::sync::mpsc::unbounded_channel();
/// let loader = Loader::new(Some(path.clone())).env(Env::from_fn(|_| None));
/// let live = LiveConfig::start(loader, WatchOptions::default(), move |event: &ReloadEvent| {
///     if let ReloadEvent::Applied { config, .. } = event {
///         let _ = tx.send(config.version);
///     }
/// })?;
/// assert_eq!(live.current().version, 1);
///
/// std::fs::write(&path, "amnesia = true\n")?;
/// let version = tokio::time::timeout(Duration::from_secs(10), applied.recv()).await?;
/// assert_eq!(version, Some(2));
/// assert!(live.current().amnesia);
/// live.stop().await;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct LiveConfig {
    current: Arc<ArcSwap<Config>>,
    cancel: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl LiveConfig {
    /// Loads the configuration and starts watching its file and the
    /// environment. Must be called within a tokio runtime.
    ///
    /// This first load, and the arming of the watch before it, run on the
    /// caller's thread (blocking it for a `stat` walk of the path and one
    /// bounded read): call it at start-up, or from
    /// [`spawn_blocking`](tokio::task::spawn_blocking). Every later reload
    /// runs on the blocking pool.
    ///
    /// # Errors
    ///
    /// Whatever [`Loader::load`] returns for the first load (a service
    /// should not start on a bad configuration), or [`ConfigError::Watch`]
    /// when the file's directories cannot be watched or no tokio runtime
    /// is running.
    pub fn start(
        loader: Loader,
        options: WatchOptions,
        listener: impl ReloadListener,
    ) -> Result<Self, ConfigError> {
        Self::start_with_signal(loader, options, listener).map(|(live, _)| live)
    }

    /// [`start`](Self::start), also returning the watcher's signal (for
    /// tests that play the watcher).
    fn start_with_signal(
        loader: Loader,
        options: WatchOptions,
        listener: impl ReloadListener,
    ) -> Result<(Self, Arc<Signal>), ConfigError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|e| ConfigError::Watch {
            path: loader.file().unwrap_or_default(),
            source: Box::new(e),
        })?;
        let reloader = Reloader::start(loader, Box::new(listener))?;
        let current = Arc::clone(&reloader.current);
        let signal = Arc::clone(&reloader.signal);
        let cancel = CancellationToken::new();
        let task = runtime.spawn(watch_loop(reloader, options, cancel.clone()));
        let live = Self {
            current,
            cancel,
            task: Some(task),
        };
        Ok((live, signal))
    }

    /// The configuration now: one atomic load, no lock.
    pub fn current(&self) -> Arc<Config> {
        self.current.load_full()
    }

    /// Stops watching and waits for the watcher task to end. It never waits
    /// for a file read in progress on the blocking pool.
    pub async fn stop(mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for LiveConfig {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Why the file is looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Look {
    /// Something changed (file events, the environment): reload.
    Reload,
    /// The periodic check: re-arm the watch if the path now goes through
    /// other directories, and reload only then; a file whose stamp
    /// (identity, size, modification time) changed since the last look is
    /// reported to the caller, which debounces it like an event.
    Check,
}

/// Reloads, decides by content whether anything changed, and keeps the
/// watch on the directories the file's path goes through now.
struct Reloader {
    loader: Loader,
    /// What the file looked like (from outside) at the last load, or when
    /// the periodic check last saw it change: a different one means a
    /// change, even if no event said so.
    stamp_seen: Option<Stamp>,
    /// The `RON_*` values at the last look.
    env_seen: Vec<Option<String>>,
    /// The last configuration loaded successfully, as loaded (its version
    /// is the file's): what "same content" is compared with.
    last_loaded: Config,
    current: Arc<ArcSwap<Config>>,
    listener: Box<dyn ReloadListener>,
    signal: Arc<Signal>,
    /// `None` while a (re-)arm is running on the blocking pool, or when
    /// there is no file or no watch could be armed yet.
    armed: Option<Armed>,
    /// A watch incident (a watcher error or a failed re-arm) was reported
    /// and no re-arm has succeeded since: the incident is counted once.
    watch_failing: bool,
}

/// What a look found, from the blocking pool.
struct Outcome {
    armed: Option<Armed>,
    rearmed: Option<Result<bool, ConfigError>>,
    stamp: Option<Stamp>,
    loaded: Option<Result<Config, ConfigError>>,
}

impl Reloader {
    /// The first look, on the caller's thread. The watch is armed before
    /// the file is stamped and loaded, and the environment is noted before
    /// too, so whatever changes after the load is an event or a poll
    /// difference: nothing that changes during start-up is missed.
    fn start(loader: Loader, listener: Box<dyn ReloadListener>) -> Result<Self, ConfigError> {
        let env_seen = loader.env_source().snapshot();
        let signal = Arc::new(Signal::default());
        let mut armed = None;
        let file = loader.file();
        if let Some(file) = &file {
            rearm(file, &mut armed, &signal)?;
        }
        let stamp_seen = file.as_deref().and_then(stamp);
        let initial = loader.load()?;
        Ok(Self {
            env_seen,
            stamp_seen,
            loader,
            current: Arc::new(ArcSwap::from_pointee(initial.clone())),
            last_loaded: initial,
            listener,
            signal,
            armed,
            watch_failing: false,
        })
    }

    /// Re-arms the watch if needed and reloads (see [`Look`]); the path
    /// walk, the watcher's set-up, the `stat` and the file read run on the
    /// blocking pool. Returns whether a [`Look::Check`] found the file
    /// changed without reloading it (its caller debounces that as an
    /// event). Cancellation ends the wait at once: a read stuck in the
    /// kernel (a hung network file system) never holds up
    /// [`LiveConfig::stop`]; it finishes, or not, on its own.
    async fn look(&mut self, look: Look, cancel: &CancellationToken) -> bool {
        let watcher_failed = self.report_watcher_errors();
        let loader = self.loader.clone();
        let signal = Arc::clone(&self.signal);
        let mut armed = self.armed.take();
        let work = tokio::task::spawn_blocking(move || {
            if watcher_failed {
                // A failed watcher may have lost events and watches: start
                // from scratch.
                armed = None;
            }
            let file = loader.file();
            let rearmed = file.as_deref().map(|file| rearm(file, &mut armed, &signal));
            // Stamped before the read: a change during the read leaves a
            // stamp that differs at the next check (an extra reload at
            // worst, never a missed one).
            let stamp = file.as_deref().and_then(stamp);
            let reload = look == Look::Reload || !matches!(rearmed, None | Some(Ok(false)));
            let loaded = reload.then(|| loader.load());
            Outcome {
                armed,
                rearmed,
                stamp,
                loaded,
            }
        });
        let joined = tokio::select! {
            () = cancel.cancelled() => return false,
            joined = work => joined,
        };
        let outcome = match joined {
            Ok(outcome) => outcome,
            Err(error) => {
                // Only a panic or a runtime shutting down; the next look
                // re-arms from scratch.
                tracing::warn!(%error, "configuration reload did not finish");
                return false;
            }
        };
        self.armed = outcome.armed;
        match outcome.rearmed {
            Some(Err(error)) => self.watch_failed(error),
            _ => self.watch_failing = false,
        }
        let moved = outcome.stamp != self.stamp_seen;
        self.stamp_seen = outcome.stamp;
        match outcome.loaded {
            Some(loaded) => {
                self.apply(loaded);
                false
            }
            None => moved,
        }
    }

    /// Reports the watcher's errors since the last look, if any (one
    /// refusal, reason `watch`, for the incident: a re-arm failing right
    /// after is not counted again); returns whether there were any.
    fn report_watcher_errors(&mut self) -> bool {
        let Some(failure) = self.signal.take_errors() else {
            return false;
        };
        let error = ConfigError::Watch {
            path: self.loader.file().unwrap_or_default(),
            source: Box::new(failure),
        };
        self.reject(error);
        self.watch_failing = true;
        true
    }

    /// A re-arm failed: reported on the first failure of an incident,
    /// retried quietly at every look until it succeeds. The old watch, if
    /// any, stays, unless the watcher itself failed: then it was dropped
    /// and nothing is watched until a re-arm succeeds (the periodic check
    /// still finds changes).
    fn watch_failed(&mut self, error: ConfigError) {
        if self.watch_failing {
            tracing::debug!(error = %Chain(&error), "configuration watch still cannot be armed");
        } else {
            self.watch_failing = true;
            self.reject(error);
        }
    }

    fn apply(&mut self, loaded: Result<Config, ConfigError>) {
        match loaded {
            Ok(loaded) if loaded == self.last_loaded => {}
            Ok(loaded) => {
                let previous = self.current.load_full();
                let mut next = loaded.clone();
                next.version = loaded.version.max(previous.version.saturating_add(1));
                let config = Arc::new(next);
                self.current.store(Arc::clone(&config));
                self.last_loaded = loaded;
                tracing::info!(version = config.version, "configuration applied");
                self.listener
                    .on_reload(&ReloadEvent::Applied { config, previous });
            }
            Err(error) => self.reject(error),
        }
    }

    fn reject(&self, error: ConfigError) {
        tracing::warn!(error = %Chain(&error), reason = error.reason(), "configuration rejected; keeping the last good one");
        self.listener.on_reload(&ReloadEvent::Rejected {
            error: Arc::new(error),
        });
    }

    /// The periodic look: a reload when any `RON_*` value changed since
    /// the last one, else a check of the watch and of the file's stamp.
    /// Returns whether the file changed unannounced (see [`look`](Self::look)).
    async fn poll(&mut self, cancel: &CancellationToken) -> bool {
        let now = self.loader.env_source().snapshot();
        if now == self.env_seen {
            self.look(Look::Check, cancel).await
        } else {
            self.env_seen = now;
            self.look(Look::Reload, cancel).await
        }
    }
}

/// When a pending file change is due: after a quiet `debounce`, or at
/// `max_wait` after its first event, whichever comes first.
#[derive(Debug, Clone, Copy)]
struct Pending {
    quiet_at: Instant,
    latest: Instant,
}

impl Pending {
    /// Another event: the quiet time starts over, the latest time stays.
    fn on_event(pending: Option<Self>, now: Instant, options: &WatchOptions) -> Self {
        Self {
            quiet_at: now + options.debounce,
            latest: pending.map_or(now + options.max_wait, |p| p.latest),
        }
    }

    fn due(&self) -> Instant {
        self.quiet_at.min(self.latest)
    }
}

async fn watch_loop(mut reloader: Reloader, options: WatchOptions, cancel: CancellationToken) {
    let signal = Arc::clone(&reloader.signal);
    // Its own timer: file events never postpone it.
    // `interval` refuses a zero period; a zero poll means "as often as it
    // can", which 1 ms is.
    let mut env_poll = tokio::time::interval(options.env_poll.max(Duration::from_millis(1)));
    env_poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut pending: Option<Pending> = None;
    loop {
        let due = pending.map(|p| p.due());
        tokio::select! {
            () = cancel.cancelled() => return,
            () = signal.changed() => {
                pending = Some(Pending::on_event(pending, Instant::now(), &options));
            }
            () = tokio::time::sleep_until(due.unwrap_or_else(Instant::now)), if due.is_some() => {
                pending = None;
                reloader.look(Look::Reload, &cancel).await;
            }
            _ = env_poll.tick() => {
                // A change no event announced (a watcher that cannot see
                // it): debounced like an event, so a save in progress is
                // not read half-done.
                if reloader.poll(&cancel).await {
                    pending = Some(Pending::on_event(pending, Instant::now(), &options));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::Env;

    #[test]
    fn the_debounce_waits_for_quiet_but_never_past_the_max_wait() {
        let options = WatchOptions::default()
            .debounce(Duration::from_millis(100))
            .max_wait(Duration::from_millis(250));
        let t0 = Instant::now();
        let mut pending = Pending::on_event(None, t0, &options);
        assert_eq!(pending.due(), t0 + Duration::from_millis(100));
        for ms in [50, 100, 150, 200, 240] {
            pending = Pending::on_event(Some(pending), t0 + Duration::from_millis(ms), &options);
        }
        assert_eq!(pending.due(), t0 + Duration::from_millis(250));
    }

    /// A change the watcher never announced (NFS, FUSE) is found by the
    /// periodic check from the file's stamp, and announced once.
    #[tokio::test]
    async fn the_periodic_check_finds_a_change_no_event_announced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ron.toml");
        std::fs::write(&path, "version = 1\n").unwrap();
        let (tx, mut events) = tokio::sync::mpsc::unbounded_channel();
        let loader = Loader::new(Some(path.clone())).env(Env::from_fn(|_| None));
        let listener = Box::new(move |event: &ReloadEvent| {
            let _ = tx.send(event.clone());
        });
        // No watch loop runs: the watcher's events reach nobody.
        let mut reloader = Reloader::start(loader, listener).unwrap();
        let cancel = CancellationToken::new();
        assert!(
            !reloader.look(Look::Check, &cancel).await,
            "nothing changed"
        );
        // A new size, so the stamp differs whatever the mtime granularity.
        std::fs::write(&path, "version = 22\n").unwrap();
        assert!(
            reloader.look(Look::Check, &cancel).await,
            "change not found"
        );
        assert!(!reloader.look(Look::Check, &cancel).await, "found twice");
        assert!(
            events.try_recv().is_err(),
            "a check does not reload by itself"
        );
        // What the watch loop does next: the debounced reload.
        reloader.look(Look::Reload, &cancel).await;
        match events.try_recv() {
            Ok(ReloadEvent::Applied { config, .. }) => assert_eq!(config.version, 22),
            other => panic!("{other:?}"),
        }
    }

    /// A watcher error whose re-arm then fails is one incident: one
    /// refusal, not two; a later incident is reported again.
    #[tokio::test]
    async fn a_watcher_error_and_the_failed_re_arm_after_it_count_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ron.toml");
        std::fs::write(&path, "version = 1\n").unwrap();
        let (tx, mut events) = tokio::sync::mpsc::unbounded_channel();
        let loader = Loader::new(Some(path.clone())).env(Env::from_fn(|_| None));
        let listener = Box::new(move |event: &ReloadEvent| {
            let _ = tx.send(event.clone());
        });
        let mut reloader = Reloader::start(loader, listener).unwrap();
        let failed_re_arm = || ConfigError::Watch {
            path: path.clone(),
            source: Box::new(notify::Error::generic("inotify watch limit reached")),
        };
        // What `look` does when the watcher failed and so did the re-arm
        // (which cannot be made to fail here: the tests run as root).
        reloader
            .signal
            .deliver(Err(notify::Error::generic("inotify read failed")));
        assert!(reloader.report_watcher_errors());
        reloader.watch_failed(failed_re_arm());
        reloader.watch_failed(failed_re_arm());
        let mut rejected = 0;
        while let Ok(event) = events.try_recv() {
            assert!(matches!(event, ReloadEvent::Rejected { .. }), "{event:?}");
            rejected += 1;
        }
        assert_eq!(rejected, 1);
        // A successful re-arm ends the incident; the next one counts.
        reloader.look(Look::Check, &CancellationToken::new()).await;
        reloader.watch_failed(failed_re_arm());
        assert!(matches!(
            events.try_recv(),
            Ok(ReloadEvent::Rejected { .. })
        ));
    }

    #[tokio::test]
    async fn watcher_errors_are_reported_and_the_watch_is_re_armed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ron.toml");
        std::fs::write(&path, "version = 1\n").unwrap();
        let (tx, mut events) = tokio::sync::mpsc::unbounded_channel();
        let loader = Loader::new(Some(path.clone())).env(Env::from_fn(|_| None));
        let options = WatchOptions::default().debounce(Duration::from_millis(20));
        let (live, signal) =
            LiveConfig::start_with_signal(loader, options, move |event: &ReloadEvent| {
                let _ = tx.send(event.clone());
            })
            .unwrap();
        // What notify reports when, say, its inotify queue breaks.
        signal.deliver(Err(notify::Error::generic("inotify read failed")));
        signal.deliver(Err(notify::Error::generic("inotify read failed again")));
        let mut next = async || {
            tokio::time::timeout(Duration::from_secs(15), events.recv())
                .await
                .unwrap()
                .unwrap()
        };
        match next().await {
            ReloadEvent::Rejected { error } => {
                assert_eq!(error.reason(), "watch");
                // The count, then notify's own error, each once.
                let chain = Chain(&*error).to_string();
                assert!(
                    chain.ends_with(
                        ": the watcher failed 2 times; the last error: inotify read failed again"
                    ),
                    "{chain}"
                );
            }
            other => panic!("{other:?}"),
        }
        // Re-armed: an edit still applies.
        std::fs::write(&path, "version = 7\n").unwrap();
        match next().await {
            ReloadEvent::Applied { config, .. } => assert_eq!(config.version, 7),
            other => panic!("{other:?}"),
        }
        live.stop().await;
    }
}
