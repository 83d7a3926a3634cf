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

/// `unsafe_code` is denied workspace-wide; only these files may allow it:
/// the SoA ring (the one module whose protocol the loom models check), the
/// counting allocator that proves publishing does not allocate, and the
/// one the scaling bench measures memory with.
const UNSAFE_ALLOWED: [&str; 3] = [
    "crates/ron-bus-soa/src/ring.rs",
    "crates/ron-bus-soa/tests/no_alloc_publish.rs",
    // A counting global allocator (an `unsafe` trait) measures the bytes
    // per subscriber and per ring slot.
    "benches/scaling.rs",
];

#[test]
fn unsafe_code_is_allowed_only_where_listed() {
    let mut offenders = Vec::new();
    let mut stack = vec![
        project_root().join("crates"),
        project_root().join("benches"),
        project_root().join("xtask"),
    ];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = fs::read_to_string(&path).unwrap();
                let relative = path
                    .strip_prefix(project_root())
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                let needle = ["allow(", "unsafe_code)"].concat();
                if text.contains(&needle) && !UNSAFE_ALLOWED.contains(&relative.as_str()) {
                    offenders.push(relative);
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "unsafe_code allowed outside the SoA ring: {offenders:?}"
    );
}

/// Members outside `crates/`: the cross-library benches and this tool,
/// neither of them published.
const TOP_LEVEL_MEMBERS: [&str; 2] = ["benches", "xtask"];

#[test]
fn every_member_is_under_crates_or_is_a_top_level_tool() {
    for member in members() {
        let relative = member.strip_prefix(project_root()).unwrap();
        let top_level = TOP_LEVEL_MEMBERS
            .iter()
            .any(|m| relative == std::path::Path::new(m));
        assert!(
            relative.starts_with("crates") || top_level,
            "{} is outside crates/ and not one of {TOP_LEVEL_MEMBERS:?}",
            relative.display()
        );
    }
}

#[test]
fn top_level_members_are_not_published() {
    for member in TOP_LEVEL_MEMBERS {
        let manifest = fs::read_to_string(project_root().join(member).join("Cargo.toml")).unwrap();
        assert!(
            manifest.contains("\npublish = false\n"),
            "{member}/Cargo.toml lacks `publish = false`"
        );
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

#[test]
fn every_series_the_dashboard_and_alerts_use_is_documented() {
    use crate::rules_check::{ALERTS, DASHBOARD, dashboard_exprs};
    let root = project_root();
    let doc = fs::read_to_string(root.join("docs/METRICS.md")).unwrap();
    let dashboard = fs::read_to_string(root.join(DASHBOARD)).unwrap();
    let alerts = fs::read_to_string(root.join(ALERTS)).unwrap();
    let mut exprs = dashboard_exprs(&dashboard);
    exprs.extend(
        alerts
            .lines()
            .filter_map(|l| l.trim().strip_prefix("expr:"))
            .map(str::to_owned),
    );
    assert!(exprs.len() >= 10, "found only {} queries", exprs.len());
    let mut used: Vec<String> = exprs.iter().flat_map(|e| series_in(e)).collect();
    used.sort();
    used.dedup();
    for required in [
        "bus_published_total",
        "service_restarts_total",
        "request_latency_seconds",
        "kernel_ready",
    ] {
        assert!(
            used.iter().any(|u| u == required),
            "{required} not used: {used:?}"
        );
    }
    let missing: Vec<&String> = used
        .iter()
        .filter(|name| !doc.contains(&format!("| `{name}` |")))
        .collect();
    assert!(
        missing.is_empty(),
        "used by the dashboard or alerts but not in docs/METRICS.md: {missing:?}"
    );
}

#[test]
fn series_in_finds_names_not_labels_or_functions() {
    let names = series_in(
        r#"histogram_quantile(0.9, sum by (le, route) (rate(request_latency_seconds_bucket{job=~"bus_x"}[5m]))) / kernel_ready"#,
    );
    assert_eq!(names, ["kernel_ready", "request_latency_seconds"]);
}

/// The metric names a PromQL expression reads (names of the series the
/// kernel exports: `bus_*`, `config_*`, `service_*`, `request_*`,
/// `kernel_ready`, `amnesia_mode`, `process_*`), with histogram suffixes
/// removed.
fn series_in(expr: &str) -> Vec<String> {
    const PREFIXES: [&str; 7] = [
        "bus_",
        "config_",
        "service_",
        "request_",
        "kernel_ready",
        "amnesia_mode",
        "process_",
    ];
    let mut names = Vec::new();
    let mut quoted = false;
    let mut token = String::new();
    for c in expr.chars().chain(std::iter::once(' ')) {
        if c == '"' {
            quoted = !quoted;
            token.clear();
            continue;
        }
        if !quoted && (c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            token.push(c);
            continue;
        }
        if !token.is_empty() && PREFIXES.iter().any(|p| token.starts_with(p)) {
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| {
                    token
                        .strip_suffix(s)
                        .filter(|_| token.starts_with("request_"))
                })
                .unwrap_or(&token);
            names.push(base.to_owned());
        }
        token.clear();
    }
    names.sort();
    names.dedup();
    names
}

/// The library crates: every member under `crates/`, the ones a registry
/// receives.
fn library_crates() -> Vec<PathBuf> {
    members()
        .into_iter()
        .filter(|m| {
            m.strip_prefix(project_root())
                .unwrap()
                .starts_with("crates")
        })
        .collect()
}

#[test]
fn every_library_crate_carries_the_root_licence_files() {
    // `cargo package` takes files from the crate's directory only, so each
    // crate keeps its own copy of the licences its `license` field names.
    for licence in ["LICENSE-MIT", "LICENSE-APACHE"] {
        let root = fs::read_to_string(project_root().join(licence)).unwrap();
        for krate in library_crates() {
            let copy = fs::read_to_string(krate.join(licence))
                .unwrap_or_else(|e| panic!("{}: {licence}: {e}", krate.display()));
            assert!(
                copy == root,
                "{}/{licence} differs from the root's: copy it again",
                krate.display()
            );
        }
    }
}

#[test]
fn every_library_crate_has_registry_metadata() {
    for krate in library_crates() {
        let manifest = fs::read_to_string(krate.join("Cargo.toml")).unwrap();
        for field in [
            "\ndescription = ",
            "\nreadme = \"README.md\"",
            "\nkeywords = [",
            "\ncategories = [",
        ] {
            assert!(
                manifest.contains(field),
                "{}/Cargo.toml lacks `{}`",
                krate.display(),
                field.trim()
            );
        }
        assert!(
            !manifest.contains("\npublish"),
            "{}/Cargo.toml sets `publish`: library crates are packaged (cargo xtask package-check)",
            krate.display()
        );
    }
}

#[test]
fn every_library_readme_is_its_crate_docs_and_shows_no_hidden_lines() {
    for krate in library_crates() {
        // The README is the crate's front page, so its examples compile as
        // doctests and cannot rot.
        let lib = fs::read_to_string(krate.join("src/lib.rs")).unwrap();
        assert!(
            lib.contains("#![doc = include_str!(\"../README.md\")]"),
            "{}/src/lib.rs does not include README.md as its crate docs",
            krate.display()
        );
        // A `# ` line in a Rust block is hidden by rustdoc but shows on a
        // rendered README (crates.io, the forge): write it out instead.
        let readme = fs::read_to_string(krate.join("README.md")).unwrap();
        let hidden = rustdoc_hidden_lines(&readme);
        assert!(
            hidden.is_empty(),
            "{}/README.md: rustdoc-hidden lines show on the rendered README (line, text): {hidden:?}",
            krate.display()
        );
    }
}

/// The lines of `markdown` (1-based number, text) that rustdoc hides: `# `
/// lines (or a lone `#`) inside the code blocks it reads as Rust.
fn rustdoc_hidden_lines(markdown: &str) -> Vec<(usize, String)> {
    let mut hidden = Vec::new();
    // (inside a code block, whether it is Rust)
    let mut block: Option<bool> = None;
    for (number, line) in markdown.lines().enumerate() {
        if let Some(info) = line.trim_start().strip_prefix("```") {
            block = match block {
                Some(_) => None,
                None => Some(is_rust_fence(info)),
            };
            continue;
        }
        let in_rust = block == Some(true);
        if in_rust && (line.trim_start().starts_with("# ") || line.trim() == "#") {
            hidden.push((number + 1, line.to_owned()));
        }
    }
    hidden
}

/// Whether rustdoc reads a fenced block with this info string as Rust, as
/// its `LangString::parse` decides: with no tag, with `rust`, or with only
/// its own tags (`no_run`, `ignore`, `should_panic`, `compile_fail`,
/// `editionNNNN`, ...); a tag it does not know (`sh`, `toml`, `text`) makes
/// the block plain text unless one of rustdoc's own came before it.
fn is_rust_fence(info: &str) -> bool {
    let (mut rust_tags, mut other_tags) = (false, false);
    for tag in info.split([',', ' ', '\t']).filter(|tag| !tag.is_empty()) {
        match tag {
            "rust" => rust_tags = true,
            "no_run" | "ignore" | "should_panic" | "compile_fail" | "test_harness"
            | "standalone_crate" => rust_tags = !other_tags,
            _ if tag.starts_with("ignore-") || tag.starts_with("edition") => {
                rust_tags = !other_tags;
            }
            _ => other_tags = true,
        }
    }
    !other_tags || rust_tags
}

#[test]
fn hidden_lines_are_found_in_every_block_rustdoc_reads_as_rust() {
    for fence in [
        "```",
        "```rust",
        "```rust,no_run",
        "```no_run",
        "```ignore",
        "```should_panic",
        "```compile_fail",
        "```edition2021",
        "```no_run,edition2024",
        "```rust,text",
    ] {
        let readme = format!("text\n{fence}\n# use std::io;\nlet x = 1;\n#\n```\n# Title\n");
        assert_eq!(
            rustdoc_hidden_lines(&readme),
            [(3, "# use std::io;".to_owned()), (5, "#".to_owned())],
            "{fence}"
        );
    }
    for fence in ["```sh", "```toml", "```text", "```sh,no_run", "```rusty"] {
        let readme = format!("{fence}\n# a comment\n```\n");
        assert_eq!(rustdoc_hidden_lines(&readme), [], "{fence}");
    }
}
