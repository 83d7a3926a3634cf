//! The commented example in `config/ron-kernel.toml` loads and is valid.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use ron_config::{Env, Loader};

#[test]
fn the_repository_example_loads() {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../config/ron-kernel.toml"
    ));
    // A packaged crate (`cargo package`) has no repository around it.
    if !path.exists() {
        eprintln!("skipped: {} is outside this package", path.display());
        return;
    }
    let config = Loader::new(Some(path))
        .env(Env::from_fn(|_| None))
        .load()
        .unwrap();
    assert_eq!(config.version, 1);
    assert_eq!(config.supervisor.max_restarts, 20);
    assert_eq!(config.bus.capacity, None);
    // The example shows `[bridge]` but leaves it off: the demo runs alone
    // unless RON_BRIDGE_URL is set.
    assert!(!config.bridge.enabled());
    assert_eq!(config.bridge, ron_config::BridgeConfig::default());
}
