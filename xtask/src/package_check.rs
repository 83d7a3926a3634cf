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

use crate::cmd::{self, cargo};

/// Workspace members that are never published.
const UNPUBLISHED: [&str; 2] = ["xtask", "ron-benches"];

pub fn run() -> Result<(), String> {
    let mut command = cargo();
    // `--allow-dirty`: a local run checks the working tree as it is; CI's
    // checkout is clean either way.
    command.args(["package", "--workspace", "--allow-dirty"]);
    for member in UNPUBLISHED {
        command.args(["--exclude", member]);
    }
    cmd::run(&mut command)
}
