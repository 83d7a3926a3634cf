//! Repository rules as tests (model: rust-analyzer's `xtask/src/tidy.rs`), so
//! `cargo test` enforces them.

use std::fs;
use std::path::PathBuf;

use crate::project_root;

/// Every workspace member's directory, read from the root manifest.
fn members() -> Vec<PathBuf> {
    let manifest = fs::read_to_string(project_root().join("Cargo.toml")).unwrap();
    let list = manifest
        .split("members = [")
        .nth(1)
        .unwrap()
        .split(']')
        .next()
        .unwrap();
    let members: Vec<PathBuf> = list
        .split(',')
        .map(|m| m.trim().trim_matches('"'))
        .filter(|m| !m.is_empty())
        .map(|m| project_root().join(m))
        .collect();
    assert!(
        members.len() >= 4,
        "could not read the members list: {members:?}"
    );
    members
}

#[test]
fn every_member_has_a_readme_with_the_skeleton() {
    for member in members() {
        let readme = fs::read_to_string(member.join("README.md"))
            .unwrap_or_else(|e| panic!("{}: README.md: {e}", member.display()));
        for section in ["## Example", "## Feature flags", "## Docs"] {
            assert!(
                readme.contains(section),
                "{}/README.md lacks `{section}`",
                member.display()
            );
        }
    }
}

#[test]
fn every_member_inherits_the_workspace_lints_and_package() {
    for member in members() {
        let manifest = fs::read_to_string(member.join("Cargo.toml")).unwrap();
        for needle in [
            "[lints]\nworkspace = true",
            "edition.workspace = true",
            "license.workspace = true",
        ] {
            assert!(
                manifest.contains(needle),
                "{}/Cargo.toml lacks `{needle}`",
                member.display()
            );
        }
    }
}

#[test]
fn every_member_is_under_crates_or_is_xtask() {
    for member in members() {
        let relative = member.strip_prefix(project_root()).unwrap();
        let ok = relative.starts_with("crates") || relative == std::path::Path::new("xtask");
        assert!(ok, "{} is outside crates/", relative.display());
    }
}

#[test]
fn every_crate_directory_is_a_member() {
    let members = members();
    for entry in fs::read_dir(project_root().join("crates")).unwrap() {
        let path = entry.unwrap().path();
        assert!(
            members.contains(&path),
            "{} is not a workspace member",
            path.display()
        );
    }
}
