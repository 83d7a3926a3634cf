//! Hot reload through the symlinked layouts of real deployments: a
//! Kubernetes ConfigMap volume (`NAME -> ..data/NAME`, `..data -> ..<ts>/`,
//! updated by swapping `..data`), a Capistrano-style `current -> releases/N`
//! switch, and an edit of a symlink's target in place. Each change applies
//! exactly once; a swap to identical bytes applies nothing.

#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::os::unix::fs::symlink;
use std::path::Path;

use common::{Harness, capacity, quick};

/// Lays out a ConfigMap volume in `root` with key `ron.toml` holding `text`,
/// as the kubelet does.
fn configmap_create(root: &Path, text: &str) {
    std::fs::create_dir(root.join("..ts_0")).unwrap();
    std::fs::write(root.join("..ts_0/ron.toml"), text).unwrap();
    symlink("..ts_0", root.join("..data")).unwrap();
    symlink("..data/ron.toml", root.join("ron.toml")).unwrap();
}

/// The kubelet's atomic update: a new timestamped directory, a new `..data`
/// symlink renamed over the old one, the old directory removed.
fn configmap_update(root: &Path, generation: usize, text: &str) {
    let old = std::fs::read_link(root.join("..data")).unwrap();
    let new = format!("..ts_{generation}");
    std::fs::create_dir(root.join(&new)).unwrap();
    std::fs::write(root.join(&new).join("ron.toml"), text).unwrap();
    symlink(&new, root.join("..data_tmp")).unwrap();
    std::fs::rename(root.join("..data_tmp"), root.join("..data")).unwrap();
    std::fs::remove_dir_all(root.join(old)).unwrap();
}

#[tokio::test]
async fn configmap_updates_apply_exactly_once_each() {
    let dir = tempfile::tempdir().unwrap();
    configmap_create(dir.path(), &capacity(1));
    let path = dir.path().join("ron.toml");
    let mut h = Harness::watch(dir, path, quick());
    assert_eq!(h.live.current().bus.capacity, Some(1));

    let mut version = 1;
    for generation in 1..=4 {
        configmap_update(h.root(), generation, &capacity(generation + 1));
        let config = h.next_applied().await;
        version += 1;
        assert_eq!(
            (config.bus.capacity, config.version),
            (Some(generation + 1), version),
            "update {generation}"
        );
        h.let_it_settle().await;
        h.assert_quiet();
    }
    // A swap to the same bytes applies nothing: the next real change is
    // the next version.
    configmap_update(h.root(), 5, &capacity(5));
    h.let_it_settle().await;
    h.assert_quiet();
    configmap_update(h.root(), 6, &capacity(6));
    let config = h.next_applied().await;
    assert_eq!(
        (config.bus.capacity, config.version),
        (Some(6), version + 1)
    );
}

#[tokio::test]
async fn an_edit_of_a_symlinks_target_in_place_applies() {
    let dir = tempfile::tempdir().unwrap();
    configmap_create(dir.path(), &capacity(1));
    let path = dir.path().join("ron.toml");
    let mut h = Harness::watch(dir, path, quick());
    std::fs::write(h.root().join("..ts_0/ron.toml"), capacity(2)).unwrap();
    let config = h.next_applied().await;
    assert_eq!((config.bus.capacity, config.version), (Some(2), 2));
    h.let_it_settle().await;
    h.assert_quiet();
    // And the layout still follows a swap after that.
    configmap_update(h.root(), 1, &capacity(3));
    assert_eq!(h.next_applied().await.bus.capacity, Some(3));
}

#[tokio::test]
async fn a_release_directory_switch_applies_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_owned();
    let release = |n: usize| {
        let release = root.join(format!("releases/{n}"));
        std::fs::create_dir_all(&release).unwrap();
        std::fs::write(release.join("ron.toml"), capacity(n)).unwrap();
    };
    let switch = |n: usize| {
        symlink(format!("releases/{n}"), root.join("current_tmp")).unwrap();
        std::fs::rename(root.join("current_tmp"), root.join("current")).unwrap();
    };
    release(1);
    symlink("releases/1", root.join("current")).unwrap();
    let mut h = Harness::watch(dir, root.join("current/ron.toml"), quick());
    for n in 2..=4 {
        release(n);
        switch(n);
        let config = h.next_applied().await;
        assert_eq!((config.bus.capacity, config.version), (Some(n), n as u64));
        h.let_it_settle().await;
        h.assert_quiet();
    }
    // Back to an old release is a change too; its edit in place as well.
    switch(2);
    assert_eq!(h.next_applied().await.bus.capacity, Some(2));
    std::fs::write(root.join("releases/2/ron.toml"), capacity(20)).unwrap();
    assert_eq!(h.next_applied().await.bus.capacity, Some(20));
}
