//! The harness of the hot-reload tests: a `LiveConfig` on a real file in a
//! temp dir, its reload events in a channel, and a settable environment.
//! Every wait is on an event, with a generous timeout; nothing asserts speed.

#![allow(dead_code)] // each test binary uses its own part of the harness

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ron_config::{Config, Env, LiveConfig, Loader, ReloadEvent, WatchOptions};
use tokio::sync::mpsc;

/// How long any expected event may take, on a slow, shared machine.
pub const PATIENCE: Duration = Duration::from_secs(15);

pub struct Harness {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
    pub env: Arc<Mutex<HashMap<String, String>>>,
    pub live: LiveConfig,
    pub events: mpsc::UnboundedReceiver<ReloadEvent>,
}

/// The options of most tests: short debounce and poll, so they run quickly.
pub fn quick() -> WatchOptions {
    WatchOptions::default()
        .debounce(Duration::from_millis(50))
        .env_poll(Duration::from_millis(50))
}

impl Harness {
    /// `ron-kernel.toml` in a fresh temp dir, holding `initial`.
    pub fn start(initial: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ron-kernel.toml");
        std::fs::write(&path, initial).unwrap();
        Self::watch(dir, path, quick())
    }

    /// Watches `path` (already laid out under `dir`) with `options`.
    pub fn watch(dir: tempfile::TempDir, path: PathBuf, options: WatchOptions) -> Self {
        let env: Arc<Mutex<HashMap<String, String>>> = Arc::default();
        let lookup = Arc::clone(&env);
        let loader = Loader::new(Some(path.clone())).env(Env::from_fn(move |key| {
            lookup.lock().unwrap().get(key).cloned()
        }));
        let (tx, events) = mpsc::unbounded_channel();
        let live = LiveConfig::start(loader, options, move |event: &ReloadEvent| {
            let _ = tx.send(event.clone());
        })
        .unwrap();
        Self {
            dir,
            path,
            env,
            live,
            events,
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub async fn next(&mut self) -> ReloadEvent {
        tokio::time::timeout(PATIENCE, self.events.recv())
            .await
            .expect("no reload event in time")
            .unwrap()
    }

    pub async fn next_applied(&mut self) -> Arc<Config> {
        match self.next().await {
            ReloadEvent::Applied { config, .. } => config,
            other => panic!("expected an applied change, got {other:?}"),
        }
    }

    /// The next applied change, skipping refusals (whose reasons must be
    /// among `allowed`).
    pub async fn next_applied_skipping(&mut self, allowed: &[&str]) -> Arc<Config> {
        loop {
            match self.next().await {
                ReloadEvent::Applied { config, .. } => return config,
                ReloadEvent::Rejected { error } => {
                    assert!(allowed.contains(&error.reason()), "{error}");
                }
                other => panic!("{other:?}"),
            }
        }
    }

    /// Gives the watcher time to see (and, by content, ignore) what was just
    /// done, so it is not merged into the next change's debounce window.
    pub async fn let_it_settle(&self) {
        tokio::time::sleep(Duration::from_millis(400)).await;
    }

    /// Asserts that nothing was reported since the last event taken.
    pub fn assert_quiet(&mut self) {
        if let Ok(event) = self.events.try_recv() {
            panic!("unexpected reload event: {event:?}");
        }
    }
}

pub fn capacity(n: usize) -> String {
    format!("# capacity {n}\n[bus]\ncapacity = {n}\n")
}
