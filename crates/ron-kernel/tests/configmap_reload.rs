//! `kernel_demo`, the real binary, configured through a Kubernetes
//! ConfigMap volume (`ron-kernel.toml -> ..data/ron-kernel.toml`,
//! `..data -> ..<timestamp>/`) and updated four times the way the kubelet
//! does it (new timestamped directory, `..data` swapped by a rename, old
//! directory removed): one update is broken and the next one fixes it.
//! After each, `/metrics` shows every good update applied exactly once,
//! the broken one counted, and the last good configuration kept.
//!
//! The binary is the example built next to this test (`cargo build
//! --example kernel_demo`, run first so it is never stale; see
//! `support`). Loopback only; every wait is bounded.

#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::net::SocketAddr;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::{Duration, Instant};

use support::{Example, PATIENCE, sample};

const LISTENING_PREFIX: &str = "metrics listening on http://";
/// Longer than the demo's debounce cap (1 s) and environment poll (1 s):
/// a second apply of the same update would have shown by then.
const SETTLE: Duration = Duration::from_millis(2500);
const KEY: &str = "ron-kernel.toml";

/// `kernel_demo` reading `config`, on a free port.
fn start_demo(config: &Path) -> (Example, SocketAddr) {
    Example::start(
        "kernel_demo",
        &[
            ("RON_CONFIG", config.to_str().unwrap()),
            ("RUST_LOG", "ron_config=warn"),
        ],
        LISTENING_PREFIX,
    )
}

/// What an operator watches: reloads, parse errors, the amnesia gauge.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Seen {
    reloads: f64,
    parse_errors: f64,
    amnesia: f64,
}

fn seen(addr: SocketAddr) -> Seen {
    Seen {
        reloads: sample(addr, "config_reloads_total"),
        parse_errors: sample(addr, "config_reload_errors_total{reason=\"parse\"}"),
        amnesia: sample(addr, "amnesia_mode"),
    }
}

/// Waits until `/metrics` shows `want`, then checks it still does after
/// the settle time (nothing applied or counted twice).
fn expect(addr: SocketAddr, want: Seen, step: &str) {
    let deadline = Instant::now() + PATIENCE;
    let mut now = seen(addr);
    while now != want {
        assert!(
            Instant::now() < deadline,
            "{step}: /metrics shows {now:?}, expected {want:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
        now = seen(addr);
    }
    std::thread::sleep(SETTLE);
    assert_eq!(seen(addr), want, "{step}: changed again after it applied");
}

/// The kubelet's atomic update of the volume at `root`.
fn configmap_update(root: &Path, generation: usize, text: &str) {
    let new = format!("..2026_11_29_00_00_{generation:02}.000000001");
    std::fs::create_dir(root.join(&new)).unwrap();
    std::fs::write(root.join(&new).join(KEY), text).unwrap();
    let old = std::fs::read_link(root.join("..data")).ok();
    symlink(&new, root.join("..data_tmp")).unwrap();
    std::fs::rename(root.join("..data_tmp"), root.join("..data")).unwrap();
    match old {
        Some(old) => std::fs::remove_dir_all(root.join(old)).unwrap(),
        None => symlink(format!("..data/{KEY}"), root.join(KEY)).unwrap(),
    }
}

#[test]
fn configmap_updates_reach_metrics_exactly_once_and_a_broken_one_keeps_the_last_good() {
    let volume = tempfile::tempdir().unwrap();
    let root = volume.path();
    configmap_update(root, 0, "amnesia = false\n");
    let (_demo, addr) = start_demo(&root.join(KEY));
    let mut want = Seen {
        reloads: 0.0,
        parse_errors: 0.0,
        amnesia: 0.0,
    };
    expect(addr, want, "start");

    configmap_update(root, 1, "amnesia = true\n");
    want.reloads = 1.0;
    want.amnesia = 1.0;
    expect(addr, want, "update 1");

    configmap_update(root, 2, "amnesia = \"very\"\n");
    want.parse_errors = 1.0;
    expect(addr, want, "update 2 (broken)");

    configmap_update(root, 3, "amnesia = false\n");
    want.reloads = 2.0;
    want.amnesia = 0.0;
    expect(addr, want, "update 3 (the fix)");

    configmap_update(root, 4, "version = 9\namnesia = true\n");
    want.reloads = 3.0;
    want.amnesia = 1.0;
    expect(addr, want, "update 4");
}
