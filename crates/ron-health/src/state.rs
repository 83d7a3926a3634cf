//! [`HealthState`]: the shared, concurrently readable home of the gates.

use std::fmt;
use std::sync::Arc;

use parking_lot::Mutex;

use arc_swap::ArcSwap;

use crate::snapshot::HealthSnapshot;

/// Readiness gates shared between the services that set them and the HTTP
/// endpoints that read them.
///
/// # Performance
///
/// Reads ([`snapshot`](Self::snapshot), [`all_ready`](Self::all_ready),
/// [`missing`](Self::missing)) are lock-free: they load an `Arc` of the
/// current snapshot and never wait for a writer. Writes ([`set`](Self::set))
/// are serialised by a mutex, copy the snapshot (a few gates), change the copy
/// and publish it atomically, so a reader sees either the whole change or none
/// of it. No lock is held across an `.await`: neither method is async.
///
/// # Example
///
/// ```
/// use ron_health::{HealthState, ServiceState};
///
/// let health = HealthState::new();
/// assert_eq!(health.missing(), ["config_loaded", "services"]);
///
/// health.set(|s| s.set_config_loaded(true));
/// health.set(|s| s.set_service("api", ServiceState::Healthy))?;
/// assert!(health.all_ready());
/// # Ok::<(), ron_health::HealthError>(())
/// ```
pub struct HealthState {
    /// Read by anyone at any time; replaced only by `set` while it holds `writer`.
    current: ArcSwap<HealthSnapshot>,
    /// Serialises writers so that no concurrent `set` is lost (read-copy-update
    /// with one writer at a time; the closure runs exactly once).
    writer: Mutex<()>,
}

impl HealthState {
    /// Creates a state with every gate closed: config not loaded, no services.
    pub fn new() -> Self {
        Self {
            current: ArcSwap::from_pointee(HealthSnapshot::default()),
            writer: Mutex::new(()),
        }
    }

    /// Changes the gates: `f` gets a copy of the current snapshot to edit,
    /// which is then published as a whole. Returns what `f` returns.
    ///
    /// If `f` panics, nothing is published and the state stays usable.
    pub fn set<R>(&self, f: impl FnOnce(&mut HealthSnapshot) -> R) -> R {
        // A panic in `f` happens before the store below, so the published
        // snapshot stays intact and the (non-poisoning) lock is just released.
        let _writer = self.writer.lock();
        let mut next = HealthSnapshot::clone(&self.current.load());
        let out = f(&mut next);
        self.current.store(Arc::new(next));
        out
    }

    /// The current gates, as one consistent snapshot.
    pub fn snapshot(&self) -> Arc<HealthSnapshot> {
        self.current.load_full()
    }

    /// Whether every gate passes (see [`HealthSnapshot::is_ready`]).
    pub fn all_ready(&self) -> bool {
        self.current.load().is_ready()
    }

    /// The failing gates, sorted and deduplicated (see [`HealthSnapshot::missing`]).
    pub fn missing(&self) -> Vec<String> {
        self.current.load().missing()
    }
}

impl Default for HealthState {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for HealthState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("HealthState")
            .field(&**self.current.load())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ServiceState;
    use std::thread;

    #[test]
    fn set_returns_closure_result() {
        let health = HealthState::new();
        let err = health.set(|s| s.set_service("", ServiceState::Healthy));
        assert!(err.is_err());
        assert_eq!(health.set(|s| s.services().len()), 0);
    }

    #[test]
    fn panicking_writer_publishes_nothing_and_state_stays_usable() {
        let health = Arc::new(HealthState::new());
        let h = Arc::clone(&health);
        let joined = thread::spawn(move || {
            h.set(|s| {
                s.set_config_loaded(true);
                panic!("writer dies mid-change");
            })
        })
        .join();
        assert!(joined.is_err());
        assert!(!health.snapshot().config_loaded());
        health.set(|s| s.set_config_loaded(true));
        assert!(health.snapshot().config_loaded());
    }

    #[test]
    fn concurrent_writers_lose_no_update() {
        let health = Arc::new(HealthState::new());
        let writers: Vec<_> = (0..4)
            .map(|t| {
                let health = Arc::clone(&health);
                thread::spawn(move || {
                    for i in 0..100 {
                        health
                            .set(|s| s.set_service(&format!("svc{t}-{i}"), ServiceState::Healthy))
                            .unwrap();
                    }
                })
            })
            .collect();
        let reader = {
            let health = Arc::clone(&health);
            thread::spawn(move || {
                let mut last = 0;
                for _ in 0..1000 {
                    let seen = health.snapshot().services().len();
                    assert!(seen >= last, "a reader saw services disappear");
                    last = seen;
                }
            })
        };
        for w in writers {
            w.join().unwrap();
        }
        reader.join().unwrap();
        assert_eq!(health.snapshot().services().len(), 400);
    }

    #[test]
    fn debug_shows_the_gates() {
        let health = HealthState::new();
        health.set(|s| s.set_config_loaded(true));
        let text = format!("{health:?}");
        assert!(text.contains("config_loaded: true"), "{text}");
    }
}
