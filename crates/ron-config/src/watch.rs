//! [`LiveConfig`]: the current configuration, kept up to date from the file
//! (a `notify` watcher on its directory) and the environment (a poller).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::error::ConfigError;
use crate::load::Loader;
use crate::model::Config;

/// How a [`LiveConfig`] watches.
///
/// ```
/// use std::time::Duration;
/// use ron_config::WatchOptions;
///
/// let options = WatchOptions::default().debounce(Duration::from_millis(50));
/// assert_eq!(options.env_poll_interval(), Duration::from_secs(1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchOptions {
    debounce: Duration,
    env_poll: Duration,
}

impl WatchOptions {
    /// Quiet time after the last file event before reloading (default
    /// 100 ms): an editor's save is several events, and one reload follows.
    #[must_use]
    pub fn debounce(mut self, quiet: Duration) -> Self {
        self.debounce = quiet;
        self
    }

    /// How often the environment is checked for changed `RON_*` values
    /// (default 1 s).
    #[must_use]
    pub fn env_poll(mut self, every: Duration) -> Self {
        self.env_poll = every;
        self
    }

    /// The debounce quiet time.
    pub fn debounce_time(&self) -> Duration {
        self.debounce
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
/// fails to load changes nothing; the listener hears why and a warning is
/// logged, and the watching goes on.
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
    /// Loads the configuration and starts watching its file's directory
    /// and the environment. Must be called within a tokio runtime.
    ///
    /// # Errors
    ///
    /// Whatever [`Loader::load`] returns for the first load (a service
    /// should not start on a bad configuration), or [`ConfigError::Watch`]
    /// when the directory cannot be watched or no tokio runtime is running.
    pub fn start(
        loader: Loader,
        options: WatchOptions,
        listener: impl ReloadListener,
    ) -> Result<Self, ConfigError> {
        let file = loader.file();
        let runtime = tokio::runtime::Handle::try_current().map_err(|e| ConfigError::Watch {
            path: file.clone().unwrap_or_default(),
            message: format!("LiveConfig::start needs a tokio runtime: {e}"),
        })?;
        let initial = loader.load()?;
        let current = Arc::new(ArcSwap::from_pointee(initial.clone()));
        let (events_tx, events) = mpsc::unbounded_channel();
        let watcher = match &file {
            Some(path) => Some(watch_directory(path, events_tx)?),
            None => None,
        };
        let cancel = CancellationToken::new();
        let reloader = Reloader {
            env_seen: loader.env_source().snapshot(),
            loader,
            last_loaded: initial,
            current: Arc::clone(&current),
            listener: Box::new(listener),
        };
        let task = runtime.spawn(watch_loop(
            reloader,
            watcher,
            events,
            options,
            cancel.clone(),
        ));
        Ok(Self {
            current,
            cancel,
            task: Some(task),
        })
    }

    /// The configuration now: one atomic load, no lock.
    pub fn current(&self) -> Arc<Config> {
        self.current.load_full()
    }

    /// Stops watching and waits for the watcher task to end.
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

/// Watches `file`'s directory (so rename-replace, delete-and-recreate and a
/// file that comes back are all seen) and sends `()` for every change
/// event that names the file. Reads (access events) are ignored, so the
/// reloads' own reads do not trigger reloads.
fn watch_directory(
    file: &Path,
    events: mpsc::UnboundedSender<()>,
) -> Result<notify::RecommendedWatcher, ConfigError> {
    let dir = match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    let name: Option<OsString> = file.file_name().map(ToOwned::to_owned);
    let watch_error = |e: notify::Error| ConfigError::Watch {
        path: dir.clone(),
        message: e.to_string(),
    };
    let mut watcher = notify::recommended_watcher(move |result: notify::Result<notify::Event>| {
        let Ok(event) = result else { return };
        if matches!(event.kind, EventKind::Access(_)) {
            return;
        }
        if event.paths.iter().any(|p| p.file_name() == name.as_deref()) {
            let _ = events.send(());
        }
    })
    .map_err(watch_error)?;
    watcher
        .watch(&dir, RecursiveMode::NonRecursive)
        .map_err(watch_error)?;
    Ok(watcher)
}

/// Reloads and decides by content whether anything changed.
struct Reloader {
    loader: Loader,
    /// The `RON_*` values at the last look.
    env_seen: Vec<Option<String>>,
    /// The last configuration loaded successfully, as loaded (its version
    /// is the file's): what "same content" is compared with.
    last_loaded: Config,
    current: Arc<ArcSwap<Config>>,
    listener: Box<dyn ReloadListener>,
}

impl Reloader {
    fn reload(&mut self) {
        match self.loader.load() {
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
            Err(error) => {
                tracing::warn!(%error, reason = error.reason(), "configuration rejected; keeping the last good one");
                self.listener.on_reload(&ReloadEvent::Rejected {
                    error: Arc::new(error),
                });
            }
        }
    }

    /// Reloads when any `RON_*` value changed since the last look.
    fn poll_env(&mut self) {
        let now = self.loader.env_source().snapshot();
        if now != self.env_seen {
            self.env_seen = now;
            self.reload();
        }
    }
}

async fn watch_loop(
    mut reloader: Reloader,
    // Kept alive for as long as the loop runs; dropping it stops the events.
    _watcher: Option<notify::RecommendedWatcher>,
    mut events: mpsc::UnboundedReceiver<()>,
    options: WatchOptions,
    cancel: CancellationToken,
) {
    let mut env_poll = tokio::time::interval(options.env_poll);
    env_poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            Some(()) = events.recv() => {
                // Debounce: wait until the file has been quiet for a while.
                loop {
                    tokio::select! {
                        () = cancel.cancelled() => return,
                        () = tokio::time::sleep(options.debounce) => break,
                        more = events.recv() => if more.is_none() { break },
                    }
                }
                reloader.reload();
            }
            _ = env_poll.tick() => reloader.poll_env(),
        }
    }
}
