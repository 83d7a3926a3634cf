//! Hot reload against real files in a temp dir and the real `notify`
//! watcher: every way an editor saves. Every wait is on an event, with a
//! generous timeout; nothing here asserts speed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{Seek, Write};

use common::{Harness, capacity};
use ron_config::ReloadEvent;

#[tokio::test]
async fn rename_replace_is_applied() {
    let mut h = Harness::start(&capacity(1));
    let tmp = h.path.with_extension("toml.tmp");
    std::fs::write(&tmp, capacity(2)).unwrap();
    std::fs::rename(&tmp, &h.path).unwrap();
    let config = h.next_applied().await;
    assert_eq!((config.bus.capacity, config.version), (Some(2), 2));
    assert_eq!(h.live.current(), config);
}

#[tokio::test]
async fn truncate_and_write_is_applied() {
    let mut h = Harness::start(&capacity(1));
    let mut file = std::fs::File::create(&h.path).unwrap(); // truncates
    file.write_all(capacity(3).as_bytes()).unwrap();
    drop(file);
    assert_eq!(h.next_applied().await.bus.capacity, Some(3));
}

#[tokio::test]
async fn write_in_place_is_applied() {
    let mut h = Harness::start(&capacity(10));
    // Same length, overwritten from the start without truncating.
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(&h.path)
        .unwrap();
    file.seek(std::io::SeekFrom::Start(0)).unwrap();
    file.write_all(capacity(20).as_bytes()).unwrap();
    drop(file);
    assert_eq!(h.next_applied().await.bus.capacity, Some(20));
}

#[tokio::test]
async fn delete_and_recreate_is_applied_even_after_the_file_was_gone() {
    let mut h = Harness::start(&capacity(1));
    std::fs::remove_file(&h.path).unwrap();
    // Gone: the reload fails, the last good config stays.
    match h.next().await {
        ReloadEvent::Rejected { error } => assert_eq!(error.reason(), "io"),
        other => panic!("{other:?}"),
    }
    assert_eq!(h.live.current().bus.capacity, Some(1));
    std::fs::write(&h.path, capacity(4)).unwrap();
    assert_eq!(h.next_applied().await.bus.capacity, Some(4));
}

#[tokio::test]
async fn a_touch_and_an_identical_rewrite_apply_nothing() {
    let mut h = Harness::start(&capacity(1));
    let file = std::fs::OpenOptions::new()
        .append(true)
        .open(&h.path)
        .unwrap();
    file.set_modified(std::time::SystemTime::now()).unwrap();
    drop(file);
    h.let_it_settle().await;
    std::fs::write(&h.path, capacity(1)).unwrap();
    h.let_it_settle().await;
    // A comment-only edit is the same configuration too.
    std::fs::write(&h.path, format!("# edited\n{}", capacity(1))).unwrap();
    h.let_it_settle().await;

    std::fs::write(&h.path, capacity(5)).unwrap();
    // The first event is the real change, and it is version 2: nothing
    // was applied before it.
    let config = h.next_applied().await;
    assert_eq!((config.bus.capacity, config.version), (Some(5), 2));
}

#[tokio::test]
async fn a_burst_of_writes_ends_with_the_last_and_applies_each_content_once() {
    let mut h = Harness::start(&capacity(1000));
    for n in 1..=50 {
        std::fs::write(&h.path, capacity(n)).unwrap();
    }
    let mut applied = Vec::new();
    loop {
        // A reload may land between a write's truncate and its data: the
        // empty file is refused, and the last good config stays.
        let config = h.next_applied_skipping(&["empty"]).await;
        applied.push((config.bus.capacity.unwrap_or(0), config.version));
        if config.bus.capacity == Some(50) {
            break;
        }
    }
    // Versions go up by one per apply; no content is applied twice in a row.
    for (i, pair) in applied.windows(2).enumerate() {
        assert_eq!(pair[1].1, pair[0].1 + 1, "{applied:?} at {i}");
        assert_ne!(pair[1].0, pair[0].0, "{applied:?} at {i}");
    }
    assert_eq!(applied[0].1, 2);
    // Nothing more comes for the burst: the next event is the next change.
    h.let_it_settle().await;
    std::fs::write(&h.path, capacity(77)).unwrap();
    let config = h.next_applied().await;
    assert_eq!(config.bus.capacity, Some(77));
    assert_eq!(config.version, applied.last().unwrap().1 + 1);
}

#[tokio::test]
async fn an_invalid_file_changes_nothing_and_a_valid_one_then_applies() {
    let mut h = Harness::start(&capacity(8));
    std::fs::write(&h.path, "[bus]\ncapacity = \"lots\"\n").unwrap();
    match h.next().await {
        ReloadEvent::Rejected { error } => {
            assert_eq!(error.reason(), "parse");
            assert!(
                error.to_string().contains(":2:"),
                "line and column: {error}"
            );
        }
        other => panic!("{other:?}"),
    }
    std::fs::write(
        &h.path,
        "[supervisor]\nbackoff_base_ms = 10\nbackoff_cap_ms = 1\n",
    )
    .unwrap();
    match h.next().await {
        ReloadEvent::Rejected { error } => {
            assert_eq!(error.reason(), "validate");
            assert!(
                error.to_string().contains("supervisor.backoff_cap_ms"),
                "{error}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        h.live.current().bus.capacity,
        Some(8),
        "last good config stays"
    );
    std::fs::write(&h.path, capacity(16)).unwrap();
    let config = h.next_applied().await;
    assert_eq!((config.bus.capacity, config.version), (Some(16), 2));
}

#[tokio::test]
async fn versions_follow_the_file_and_never_go_back() {
    let mut h = Harness::start("version = 1\n");
    std::fs::write(&h.path, "version = 10\namnesia = true\n").unwrap();
    assert_eq!(h.next_applied().await.version, 10);
    std::fs::write(&h.path, "version = 10\namnesia = false\n").unwrap();
    assert_eq!(h.next_applied().await.version, 11);
    std::fs::write(&h.path, "version = 3\namnesia = true\n").unwrap();
    assert_eq!(h.next_applied().await.version, 12);
}

#[tokio::test]
async fn the_environment_poller_applies_ron_amnesia_and_rejects_bad_values() {
    let mut h = Harness::start("amnesia = false\n");
    h.env
        .lock()
        .unwrap()
        .insert("RON_AMNESIA".into(), "1".into());
    let config = h.next_applied().await;
    assert!(config.amnesia);
    assert_eq!(config.version, 2);

    h.env
        .lock()
        .unwrap()
        .insert("RON_AMNESIA".into(), "perhaps".into());
    match h.next().await {
        ReloadEvent::Rejected { error } => {
            assert!(error.to_string().contains("env RON_AMNESIA"), "{error}")
        }
        other => panic!("{other:?}"),
    }
    assert!(h.live.current().amnesia, "last good config stays");

    h.env.lock().unwrap().remove("RON_AMNESIA");
    assert!(!h.next_applied().await.amnesia);
}
