//! Tidy: docs/CONFIG.md names every key of the configuration and every
//! `RON_*` variable.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ron_config::{Config, ENV_KEYS, RON_CONFIG};

#[test]
fn every_key_and_variable_is_documented() {
    let doc_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/CONFIG.md");
    // A packaged crate (`cargo package`) has no repository around it.
    if !std::path::Path::new(doc_path).exists() {
        eprintln!("skipped: {doc_path} is outside this package");
        return;
    }
    let doc = std::fs::read_to_string(doc_path).unwrap();
    // Every key the defaults serialise to, as `section.key`.
    let defaults: toml::Table =
        toml::from_str(&toml::to_string(&Config::default()).unwrap()).unwrap();
    let mut keys = Vec::new();
    for (name, value) in &defaults {
        match value {
            toml::Value::Table(section) => {
                keys.extend(section.keys().map(|k| format!("{name}.{k}")))
            }
            _ => keys.push(name.clone()),
        }
    }
    keys.push("bus.capacity".into()); // absent by default (autotune)
    keys.push("bridge.url".into()); // absent by default (bridge off)
    keys.push("bridge.node".into()); // absent by default (the host name)
    let mut missing: Vec<String> = keys
        .into_iter()
        .filter(|k| !doc.contains(&format!("| `{k}` |")))
        .collect();
    for (var, _) in ENV_KEYS.iter().chain([(RON_CONFIG, "")].iter()) {
        if !doc.contains(&format!("| `{var}` |")) {
            missing.push((*var).to_owned());
        }
    }
    assert!(missing.is_empty(), "add to docs/CONFIG.md: {missing:?}");
}
