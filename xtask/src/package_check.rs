//! `cargo xtask package-check`: every library crate packaged as a registry
//! would receive it, and each package built from its own files.
//!
//! `cargo package --workspace` packages all library crates together and
//! resolves their path dependencies through cargo's local overlay of the
//! packages it just made, so a crate whose library only builds inside the
//! workspace (a file outside its directory, a normal path dependency
//! without a version, a missing licence file) fails here. Nothing is
//! uploaded. The benches and this tool are not published, so they are left
//! out.
//!
//! What it does not check: the verification builds each package's library
//! alone, not its tests, examples or benches, and `cargo package` silently
//! drops a path *dev*-dependency that has no version. `ron-benches` is one
//! (a dev-dependency of `ron-kernel` and `ron-bus-classic`, for their
//! benches' statistics), so those packaged benches cannot build from the
//! package, and nothing here notices.
//!
//! Before packaging, it removes cargo's extractions of the previous run's
//! packages (see [`forget_stale_extractions`]): cargo reuses them even when
//! the packages changed, and a second run on one machine would otherwise
//! verify a crate against its siblings' old sources.

use std::fs;
use std::path::{Path, PathBuf};

use crate::api_check::LIBRARIES;
use crate::cmd::{self, cargo};

/// Workspace members that are never published.
const UNPUBLISHED: [&str; 2] = ["xtask", "ron-benches"];

pub fn run() -> Result<(), String> {
    forget_stale_extractions(&cargo_home())?;
    let mut command = cargo();
    // `--allow-dirty`: a local run checks the working tree as it is; CI's
    // checkout is clean either way.
    command.args(["package", "--workspace", "--allow-dirty"]);
    for member in UNPUBLISHED {
        command.args(["--exclude", member]);
    }
    cmd::run(&mut command)
}

/// `$CARGO_HOME`, else `~/.cargo`.
fn cargo_home() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")))
        .unwrap_or_else(|| PathBuf::from(".cargo"))
}

/// Removes `registry/src/-<hash>/<library>-<version>` under `cargo_home`:
/// where cargo extracts the packages of its local overlay (a local registry
/// has no host name, hence the leading dash). Cargo extracts a package only
/// if its directory is absent, so an extraction left by an earlier run (same
/// target directory, same hash) would be built instead of the package just
/// made. Only this workspace's library crates are touched; crates.io's
/// extractions live under `index.crates.io-<hash>` and are left alone.
fn forget_stale_extractions(cargo_home: &Path) -> Result<(), String> {
    let sources = cargo_home.join("registry").join("src");
    let Ok(registries) = fs::read_dir(&sources) else {
        return Ok(()); // nothing extracted yet
    };
    for registry in registries.flatten() {
        if !registry.file_name().to_string_lossy().starts_with('-') {
            continue;
        }
        let Ok(packages) = fs::read_dir(registry.path()) else {
            continue;
        };
        for package in packages.flatten() {
            let name = package.file_name().to_string_lossy().into_owned();
            if is_library_extraction(&name) {
                fs::remove_dir_all(package.path()).map_err(|e| {
                    format!(
                        "cannot remove stale extraction {}: {e}",
                        package.path().display()
                    )
                })?;
            }
        }
    }
    Ok(())
}

/// `<library>-<version>` for one of this workspace's libraries: the name
/// followed by a dash and a digit (so `ron-bus` does not take
/// `ron-bus-soa-0.1.0`).
fn is_library_extraction(dir: &str) -> bool {
    LIBRARIES.iter().any(|library| {
        dir.strip_prefix(library)
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|version| version.starts_with(|c: char| c.is_ascii_digit()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_workspaces_library_extractions_are_matched() {
        assert!(is_library_extraction("ron-bus-0.1.0"));
        assert!(is_library_extraction("ron-bus-soa-0.1.0"));
        assert!(is_library_extraction("ron-kernel-12.0.3"));
        assert!(!is_library_extraction("ron-bus"));
        assert!(!is_library_extraction("ron-busy-0.1.0"));
        assert!(!is_library_extraction("tokio-1.54.1"));
    }

    #[test]
    fn stale_extractions_in_local_overlays_are_removed_and_nothing_else() {
        let home = tempfile_dir();
        let overlay = home.join("registry/src/-14c232a1454a004e");
        let crates_io = home.join("registry/src/index.crates.io-1949cf8c6b5b557f");
        for dir in [
            overlay.join("ron-bus-0.1.0"),
            overlay.join("tokio-1.54.1"),
            crates_io.join("ron-bus-0.1.0"),
        ] {
            fs::create_dir_all(&dir).unwrap();
        }
        forget_stale_extractions(&home).unwrap();
        assert!(!overlay.join("ron-bus-0.1.0").exists());
        assert!(overlay.join("tokio-1.54.1").exists());
        assert!(crates_io.join("ron-bus-0.1.0").exists());
        fs::remove_dir_all(&home).unwrap();
    }

    /// A fresh directory under the system's temp dir (xtask has no
    /// dependencies for tests).
    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "xtask-package-check-{}-{:?}",
            std::process::id(),
            std::time::SystemTime::now()
        ));
        fs::create_dir_all(&dir).unwrap();
        dir
    }
}
