//! Hot reload under faults: the watched directory deleted, moved or
//! recreated; an empty file; a file that is not a regular file or is too
//! big; a stream of changes that never pauses.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{Harness, PATIENCE, capacity, quick};
use ron_config::{ConfigError, Env, Loader, MAX_FILE_BYTES, ReloadEvent, WatchOptions};

/// `ron-kernel.toml` in the subdirectory `sub` of a fresh temp dir.
fn in_subdirectory(initial: &str, options: WatchOptions) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let path = sub.join("ron-kernel.toml");
    std::fs::write(&path, initial).unwrap();
    Harness::watch(dir, path, options)
}

#[tokio::test]
async fn a_deleted_and_recreated_directory_is_watched_again() {
    let mut h = in_subdirectory(&capacity(1), quick());
    let sub = h.root().join("sub");
    std::fs::remove_dir_all(&sub).unwrap();
    h.let_it_settle().await;
    std::fs::create_dir(&sub).unwrap();
    h.let_it_settle().await;
    std::fs::write(&h.path, capacity(2)).unwrap();
    // The file was gone for a while: refusals may come first (io; empty
    // when a look falls between `write`'s truncation and its write).
    let config = h.next_applied_skipping(&["io", "empty"]).await;
    assert_eq!((config.bus.capacity, config.version), (Some(2), 2));
    // And the new directory stays watched.
    h.let_it_settle().await;
    std::fs::write(&h.path, capacity(3)).unwrap();
    assert_eq!(
        h.next_applied_skipping(&["io", "empty"]).await.bus.capacity,
        Some(3)
    );
}

#[tokio::test]
async fn a_moved_away_directory_is_replaced_by_the_new_one() {
    let mut h = in_subdirectory(&capacity(1), quick());
    let sub = h.root().join("sub");
    std::fs::rename(&sub, h.root().join("sub.old")).unwrap();
    h.let_it_settle().await;
    // Edits of the moved-away copy are not the configuration.
    std::fs::write(h.root().join("sub.old/ron-kernel.toml"), capacity(9)).unwrap();
    std::fs::create_dir(&sub).unwrap();
    std::fs::write(&h.path, capacity(2)).unwrap();
    let config = h.next_applied_skipping(&["io", "empty"]).await;
    assert_eq!(config.bus.capacity, Some(2));
    h.let_it_settle().await;
    std::fs::write(&h.path, capacity(3)).unwrap();
    assert_eq!(
        h.next_applied_skipping(&["io", "empty"]).await.bus.capacity,
        Some(3)
    );
}

#[tokio::test]
async fn an_empty_file_during_a_reload_is_refused_and_the_last_good_stays() {
    let mut h = Harness::start("amnesia = true\n");
    // A non-atomic writer: truncate, pause (longer than the debounce), write.
    drop(std::fs::File::create(&h.path).unwrap());
    match h.next().await {
        ReloadEvent::Rejected { error } => {
            assert_eq!(error.reason(), "empty");
            assert!(matches!(*error, ConfigError::Empty { .. }), "{error:?}");
            assert!(error.to_string().contains("ron-kernel.toml"), "{error}");
        }
        other => panic!("an empty file was applied: {other:?}"),
    }
    assert!(h.live.current().amnesia, "the last good config stays");
    // Whitespace only is empty too.
    std::fs::write(&h.path, " \n\t\n").unwrap();
    match h.next().await {
        ReloadEvent::Rejected { error } => assert_eq!(error.reason(), "empty"),
        other => panic!("{other:?}"),
    }
    std::fs::write(&h.path, "amnesia = true\nversion = 5\n").unwrap();
    let config = h.next_applied().await;
    assert!(config.amnesia);
    assert_eq!(config.version, 5);
}

#[test]
fn an_empty_file_at_start_up_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ron.toml");
    std::fs::write(&path, "").unwrap();
    let error = Loader::new(Some(path.clone()))
        .env(Env::from_fn(|_| None))
        .load()
        .unwrap_err();
    assert!(
        matches!(&error, ConfigError::Empty { path: p } if *p == path),
        "{error:?}"
    );
    // A file of comments only is a deliberate choice of the defaults.
    std::fs::write(&path, "# all defaults\n").unwrap();
    let loaded = Loader::new(Some(path)).env(Env::from_fn(|_| None)).load();
    assert_eq!(loaded.unwrap(), ron_config::Config::default());
}

/// Loads `path` on a thread and fails, instead of hanging, when that takes
/// longer than the patience.
fn load_with_deadline(path: PathBuf) -> ConfigError {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(Loader::new(Some(path)).env(Env::from_fn(|_| None)).load());
    });
    match rx.recv_timeout(PATIENCE) {
        Ok(result) => result.unwrap_err(),
        Err(_) => panic!("loading hung"),
    }
}

#[cfg(unix)]
#[test]
fn a_fifo_is_refused_without_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ron.toml");
    let status = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .unwrap();
    assert!(status.success());
    let error = load_with_deadline(path.clone());
    assert!(
        matches!(&error, ConfigError::NotAFile { path: p, .. } if *p == path),
        "{error:?}"
    );
    assert_eq!(error.reason(), "io");
    assert!(error.to_string().contains("ron.toml"), "{error}");
}

#[cfg(unix)]
#[test]
fn a_device_is_refused() {
    let error = load_with_deadline(PathBuf::from("/dev/zero"));
    assert!(matches!(&error, ConfigError::NotAFile { .. }), "{error:?}");
    assert!(error.to_string().contains("/dev/zero"), "{error}");
}

#[test]
fn a_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let error = load_with_deadline(dir.path().to_owned());
    assert_eq!(error.reason(), "io");
    assert!(
        error.to_string().contains(&*dir.path().to_string_lossy()),
        "{error}"
    );
}

#[test]
fn a_file_over_the_cap_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ron.toml");
    // Sparse: one GiB that takes no disk space.
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(1 << 30).unwrap();
    drop(file);
    let error = load_with_deadline(path.clone());
    assert!(
        matches!(&error, ConfigError::TooLarge { path: p, limit } if *p == path && *limit == MAX_FILE_BYTES),
        "{error:?}"
    );
    assert_eq!(error.reason(), "io");
    // One byte over is over; exactly the cap is read.
    let comment = |len: u64| {
        let mut text = "#".repeat(usize::try_from(len).unwrap() - 1);
        text.push('\n');
        text
    };
    std::fs::write(&path, comment(MAX_FILE_BYTES + 1)).unwrap();
    assert!(matches!(
        load_with_deadline(path.clone()),
        ConfigError::TooLarge { .. }
    ));
    std::fs::write(&path, comment(MAX_FILE_BYTES)).unwrap();
    let loaded = Loader::new(Some(path)).env(Env::from_fn(|_| None)).load();
    assert!(loaded.is_ok(), "{loaded:?}");
}

/// Keeps replacing the file (atomically, a new capacity each time) every
/// `every`, until told to stop or for twice the patience at most (longer
/// than any wait of a test); returns how many writes it made.
fn keep_writing(
    path: PathBuf,
    every: Duration,
) -> (
    tokio::sync::oneshot::Sender<()>,
    std::thread::JoinHandle<usize>,
) {
    let (stop, mut stopped) = tokio::sync::oneshot::channel();
    let writer = std::thread::spawn(move || {
        let tmp = path.with_extension("tmp");
        let until = std::time::Instant::now() + 2 * PATIENCE;
        let mut n = 100;
        while stopped.try_recv().is_err() && std::time::Instant::now() < until {
            std::fs::write(&tmp, capacity(n)).unwrap();
            std::fs::rename(&tmp, &path).unwrap();
            n += 1;
            std::thread::sleep(every);
        }
        n - 100
    });
    (stop, writer)
}

/// `ron-kernel.toml` holding capacity 1 in a fresh temp dir, watched with
/// a 200 ms debounce that writes every 20 ms never let go quiet.
fn under_a_stream(max_wait: Duration) -> Harness {
    let options = WatchOptions::default()
        .debounce(Duration::from_millis(200))
        .max_wait(max_wait)
        .env_poll(Duration::from_millis(100));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ron-kernel.toml");
    std::fs::write(&path, capacity(1)).unwrap();
    Harness::watch(dir, path, options)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_continuous_stream_of_changes_still_applies() {
    let mut h = under_a_stream(Duration::from_millis(500));
    let (stop, writer) = keep_writing(h.path.clone(), Duration::from_millis(20));
    // The max wait applies a change from the stream while it goes on (the
    // writer runs for twice the patience, so it is still writing).
    let config = h.next_applied().await;
    assert!(config.bus.capacity.unwrap() >= 100, "{config:?}");
    assert!(
        !writer.is_finished(),
        "applied only after the writes stopped"
    );
    stop.send(()).unwrap();
    assert!(writer.join().unwrap() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_env_poll_is_not_held_up_by_a_stream_of_file_changes() {
    // A max wait far past the test: the stream keeps the file's reload
    // pending all along, so only the environment poll can apply anything.
    let mut h = under_a_stream(Duration::from_secs(600));
    let (stop, writer) = keep_writing(h.path.clone(), Duration::from_millis(20));
    h.let_it_settle().await;
    h.assert_quiet();
    h.env
        .lock()
        .unwrap()
        .insert("RON_AMNESIA".into(), "1".into());
    let config = h.next_applied().await;
    assert!(config.amnesia, "{config:?}");
    assert!(
        !writer.is_finished(),
        "the env change waited for the writes to stop"
    );
    stop.send(()).unwrap();
    assert!(writer.join().unwrap() > 0);
}

/// A change made while `start` is loading the file, just after reading
/// it, is still applied: the watch is armed before the load. The change is
/// made by the environment lookup, at its second `RON_AMNESIA` lookup: the
/// first is start's note of the environment, the second the load's, after
/// the file was read (the initial capacity shows it was). The environment
/// poll's check of the file runs once at start, so this also holds when
/// the watch is missed, through the stamp.
#[tokio::test]
async fn a_change_during_start_is_applied() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ron-kernel.toml");
    std::fs::write(&path, capacity(1)).unwrap();
    let lookups = std::sync::atomic::AtomicUsize::new(0);
    let target = path.clone();
    let env = Env::from_fn(move |key| {
        if key == "RON_AMNESIA" && lookups.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 1 {
            let tmp = target.with_extension("tmp");
            std::fs::write(&tmp, capacity(2)).unwrap();
            std::fs::rename(&tmp, &target).unwrap();
        }
        None
    });
    let (tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let options = quick().env_poll(Duration::from_secs(3600));
    let live = ron_config::LiveConfig::start(
        Loader::new(Some(path)).env(env),
        options,
        move |event: &ReloadEvent| {
            let _ = tx.send(event.clone());
        },
    )
    .unwrap();
    assert_eq!(live.current().bus.capacity, Some(1));
    match tokio::time::timeout(PATIENCE, events.recv()).await {
        Ok(Some(ReloadEvent::Applied { config, .. })) => assert_eq!(config.bus.capacity, Some(2)),
        other => panic!("the change made during start was lost: {other:?}"),
    }
    live.stop().await;
}
