//! The `notify` watcher over a configuration path's [`WatchSet`], and the
//! [`Signal`] it raises: a [`Notify`] (no queue: any number of events
//! between two looks are one wake-up) plus a count of the watcher's own
//! errors.

use std::path::Path;
use std::sync::Arc;

use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecursiveMode, Watcher};
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::error::{ConfigError, WatchFailure};
use crate::resolve::{WatchSet, watch_set};

/// What the watcher thread tells the reload task.
#[derive(Debug, Default)]
pub(crate) struct Signal {
    changed: Notify,
    /// The watcher's errors since the last look: how many, and the latest
    /// (older ones are only counted). One lock for both, so a count above
    /// zero always comes with its error; never held across an await.
    errors: Mutex<(u64, Option<notify::Error>)>,
}

impl Signal {
    /// Called by `notify` for every event and error. Any change in a
    /// watched directory wakes the reload task: which file it names does
    /// not matter (a symlink swap names none of the path), the content
    /// decides. Opens, reads and closes after reading are ignored, so the
    /// reloads' own reads do not trigger reloads; a close after writing
    /// (inotify's `IN_CLOSE_WRITE`) is a change, the only event an `mmap`
    /// writer may produce.
    pub(crate) fn deliver(&self, result: notify::Result<notify::Event>) {
        match result {
            Ok(event) if is_read(&event.kind) => {}
            Ok(_) => self.changed.notify_one(),
            Err(error) => {
                // The reload task warns once per batch (reason `watch`);
                // each error is only a debug line here.
                tracing::debug!(%error, "configuration watcher failed; re-arming it");
                let mut errors = self.errors.lock();
                errors.0 += 1;
                errors.1 = Some(error);
                drop(errors);
                self.changed.notify_one();
            }
        }
    }

    /// Resolves at the next change (or error) since the last time it
    /// resolved; one that came in between is not lost (`Notify` keeps a
    /// permit).
    pub(crate) async fn changed(&self) {
        self.changed.notified().await;
    }

    /// The errors since the last call, if any, as one: how many, and the
    /// latest as its source.
    pub(crate) fn take_errors(&self) -> Option<WatchFailure> {
        let mut errors = self.errors.lock();
        let count = std::mem::take(&mut errors.0);
        let last = errors.1.take()?;
        Some(WatchFailure::Repeated { count, last })
    }
}

/// Whether `kind` is only somebody reading (the reloads themselves).
fn is_read(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Access(
            AccessKind::Open(_) | AccessKind::Read | AccessKind::Close(AccessMode::Read)
        )
    )
}

/// A `notify` watcher covering one [`WatchSet`]; dropping it stops it.
pub(crate) struct Armed {
    set: WatchSet,
    _watcher: notify::RecommendedWatcher,
}

impl std::fmt::Debug for Armed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Armed").field("set", &self.set).finish()
    }
}

/// Makes `armed` cover `file`'s watch set as it is now: nothing to do when
/// it already does, else a new watcher replaces the old one (the old one,
/// if `armed` holds one, stays when the new one cannot be armed, and the
/// next call tries again).
/// Returns whether the watch changed. Blocking (it walks the path): call it
/// off the runtime's workers.
pub(crate) fn rearm(
    file: &Path,
    armed: &mut Option<Armed>,
    signal: &Arc<Signal>,
) -> Result<bool, ConfigError> {
    let mut set = watch_set(file);
    // A directory can vanish between the walk and its watch (a ConfigMap's
    // old directory being removed): walk again before calling it a failure.
    for _ in 0..REARM_ATTEMPTS {
        if armed.as_ref().is_some_and(|a| a.set == set) {
            return Ok(false);
        }
        let error = match arm(file, &set, signal) {
            Ok(watcher) => {
                tracing::debug!(dirs = ?set, "configuration watch armed");
                *armed = Some(Armed {
                    set,
                    _watcher: watcher,
                });
                return Ok(true);
            }
            Err(error) => error,
        };
        let again = watch_set(file);
        if again == set {
            return Err(error);
        }
        set = again;
    }
    Err(ConfigError::Watch {
        path: file.to_owned(),
        source: Box::new(WatchFailure::KeptChanging),
    })
}

/// Walks of the path [`rearm`] makes at most before it gives up until the
/// next look.
const REARM_ATTEMPTS: usize = 3;

fn arm(
    file: &Path,
    set: &WatchSet,
    signal: &Arc<Signal>,
) -> Result<notify::RecommendedWatcher, ConfigError> {
    let sink = Arc::clone(signal);
    let mut watcher = notify::recommended_watcher(move |result| sink.deliver(result))
        .map_err(|e| watch_error(file, e))?;
    for dir in set.dirs() {
        watcher
            .watch(dir, RecursiveMode::NonRecursive)
            .map_err(|e| watch_error(dir, e))?;
    }
    Ok(watcher)
}

fn watch_error(path: &Path, error: notify::Error) -> ConfigError {
    ConfigError::Watch {
        path: path.to_owned(),
        source: Box::new(error),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use notify::event::Event;

    use super::*;

    /// Whether `kind`, delivered alone, wakes the reload task.
    async fn wakes(kind: EventKind) -> bool {
        let signal = Signal::default();
        signal.deliver(Ok(Event::new(kind)));
        tokio::time::timeout(Duration::from_millis(50), signal.changed())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn a_close_after_writing_wakes_but_reads_do_not() {
        // inotify's IN_CLOSE_WRITE, all an mmap writer may produce.
        assert!(wakes(EventKind::Access(AccessKind::Close(AccessMode::Write))).await);
        // The reloads' own reads.
        assert!(!wakes(EventKind::Access(AccessKind::Open(AccessMode::Any))).await);
        assert!(!wakes(EventKind::Access(AccessKind::Read)).await);
        assert!(!wakes(EventKind::Access(AccessKind::Close(AccessMode::Read))).await);
    }
}
