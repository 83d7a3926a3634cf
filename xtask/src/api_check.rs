//! `cargo xtask api-check [--bless]`: every library crate's public API,
//! produced from rustdoc JSON by the `public-api` crate, against its
//! committed snapshot in `xtask/api/<crate>.txt`. Drift prints a unified
//! diff and fails; `--bless` rewrites the snapshots.
//!
//! Rustdoc JSON is unstable; it is built with the pinned stable toolchain
//! and `RUSTC_BOOTSTRAP=1` (always present, unlike a nightly), in its own
//! target dir so the normal build is not invalidated.

use std::fs;
use std::path::PathBuf;

use similar::TextDiff;

use crate::project_root;

/// Every library crate whose API is frozen.
pub const LIBRARIES: [&str; 9] = [
    "ron-bridge-nats",
    "ron-bus",
    "ron-bus-classic",
    "ron-bus-soa",
    "ron-config",
    "ron-health",
    "ron-kernel",
    "ron-metrics",
    "ron-supervisor",
];

pub fn run(bless: bool) -> Result<(), String> {
    let mut drifted = Vec::new();
    for krate in LIBRARIES {
        let api = public_api_of(krate)?;
        let snapshot = snapshot_path(krate);
        if bless {
            fs::write(&snapshot, &api)
                .map_err(|e| format!("cannot write {}: {e}", snapshot.display()))?;
            eprintln!("api-check: blessed {}", snapshot.display());
            continue;
        }
        let committed = fs::read_to_string(&snapshot).unwrap_or_default();
        if committed == api {
            eprintln!("api-check: {krate} unchanged");
            continue;
        }
        let relative = format!("xtask/api/{krate}.txt");
        let diff = TextDiff::from_lines(&committed, &api);
        eprint!(
            "{}",
            diff.unified_diff().context_radius(2).header(
                &format!("{relative} (committed)"),
                &format!("{krate} (now)")
            )
        );
        drifted.push(krate);
    }
    if drifted.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "public API drifted in {}: if the change is deliberate, run `cargo xtask api-check --bless` and commit the snapshots",
            drifted.join(", ")
        ))
    }
}

fn snapshot_path(krate: &str) -> PathBuf {
    project_root()
        .join("xtask")
        .join("api")
        .join(format!("{krate}.txt"))
}

/// The public API of `krate` (all features), one item per line.
fn public_api_of(krate: &str) -> Result<String, String> {
    let json = rustdoc_json::Builder::default()
        .manifest_path(project_root().join("Cargo.toml"))
        .package(krate)
        .all_features(true)
        .target_dir(project_root().join("target").join("api"))
        .env("RUSTC_BOOTSTRAP", "1")
        .quiet(true)
        .build()
        .map_err(|e| {
            format!(
                "rustdoc JSON for {krate}: {e} (the crate did not document; \
                 `RUSTC_BOOTSTRAP=1 cargo rustdoc -p {krate} --all-features` shows why)"
            )
        })?;
    let api = public_api::Builder::from_rustdoc_json(json)
        .omit_blanket_impls(true)
        .omit_auto_trait_impls(true)
        .build()
        .map_err(|e| format!("public API of {krate}: {e}"))?;
    Ok(format!("{api}"))
}
