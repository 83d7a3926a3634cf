//! Errors the way anyhow/eyre users print them: no `Display` repeats its
//! `source()` text (so `{:#}` says each cause once), and a parse error keeps
//! the `toml` error itself as its source, line and column included.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::error::Error;
use std::path::Path;

use ron_config::{ConfigError, Env, LiveConfig, Loader, ReloadEvent, WatchOptions};

/// Walks `error`'s `source()` chain: no message contains its source's text.
/// Returns the chain's messages, outermost first.
fn assert_no_repeated_source(error: &(dyn Error + 'static)) -> Vec<String> {
    let mut messages = vec![error.to_string()];
    let mut current = error;
    while let Some(source) = current.source() {
        let (outer, inner) = (current.to_string(), source.to_string());
        assert!(
            !outer.contains(inner.trim()),
            "{outer:?} repeats its source {inner:?}"
        );
        messages.push(inner);
        current = source;
    }
    messages
}

fn load(path: &Path) -> ConfigError {
    Loader::new(Some(path.to_owned()))
        .env(Env::from_fn(|_| None))
        .load()
        .unwrap_err()
}

#[test]
fn no_config_error_repeats_its_source() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ron.toml");
    let mut errors = vec![("io", load(&dir.path().join("missing.toml")))];
    std::fs::write(&file, "  \n").unwrap();
    errors.push(("empty", load(&file)));
    errors.push(("io", load(dir.path())));
    std::fs::write(&file, "version = 2\n[bus]\ncapacty = 64\n").unwrap();
    errors.push(("parse", load(&file)));
    std::fs::write(&file, "[bus]\ncapacity = 0\n").unwrap();
    errors.push(("validate", load(&file)));
    // No runtime: the watch cannot start.
    let watch = LiveConfig::start(
        Loader::new(Some(file.clone())).env(Env::from_fn(|_| None)),
        WatchOptions::default(),
        |_: &ReloadEvent| {},
    )
    .err()
    .unwrap();
    errors.push(("watch", watch));

    for (reason, error) in &errors {
        assert_eq!(error.reason(), *reason, "{error:?}");
        let chain = assert_no_repeated_source(error);
        let caused = matches!(
            error,
            ConfigError::Io { .. } | ConfigError::Parse { .. } | ConfigError::Watch { .. }
        );
        // A cause that is an error of its own is a source, not text.
        assert!(!caused || chain.len() > 1, "{error:?} has no source");
    }
}

#[test]
fn a_parse_error_keeps_the_toml_error_and_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ron.toml");
    std::fs::write(&file, "version = 2\n[bus]\ncapacty = 64\n").unwrap();
    let error = load(&file);
    let ConfigError::Parse {
        line, column, path, ..
    } = &error
    else {
        panic!("{error:?}");
    };
    assert_eq!((*line, *column, path.as_path()), (3, 1, file.as_path()));
    let toml = error
        .source()
        .and_then(|source| source.downcast_ref::<toml::de::Error>())
        .unwrap_or_else(|| panic!("no toml source: {error:?}"));
    assert!(toml.message().contains("capacty"), "{toml}");
    assert!(
        error
            .to_string()
            .starts_with(&format!("{}:3:1", file.display()))
    );
}
