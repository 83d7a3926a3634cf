//! `cargo xtask k8s-check`: the manifests of `deploy/k8s/` validated offline
//! against the Kubernetes schemas by `kubernetes-validate` (PyPI; it bundles
//! the schemas), strictly (an unknown field is an error, so a typo such as
//! `readOnlyRootFilesytem` cannot silently drop a setting), then checked
//! against each other where the schemas cannot see (kustomization resources,
//! the PodMonitor's selector and port, no `subPath` config mount).
//!
//! `kubernetes-validate` only *warns*, exit status 0, about a kind it has no
//! schema for; a misspelt `kind:` would pass. So every line it prints is
//! read: a warning fails the check, and every validated file must be
//! reported as passed. The files that are not built-in objects are listed in
//! [`NOT_VALIDATED`], each with its reason, and never handed to the tool.

use std::collections::BTreeSet;
use std::fs;
use std::process::Command;

use crate::cmd::{show, succeeds};
use crate::project_root;

/// The manifests' directory, relative to the workspace root.
pub const DIR: &str = "deploy/k8s";
/// The tool on `PATH` (`.ci/run` installs it in a venv and puts that first).
const TOOL: &str = "kubernetes-validate";
/// Kubernetes versions validated against: the oldest docs/FLEET.md supports
/// and the newest schemas of the pinned tool (1.37.0 in `.ci/run`).
const VERSIONS: [&str; 2] = ["1.29.0", "1.37.0"];
/// Files of [`DIR`] that are not built-in Kubernetes objects, and why.
pub const NOT_VALIDATED: [(&str, &str); 2] = [
    (
        "kustomization.yaml",
        "a kustomize file, not an object: its resources are checked against the directory",
    ),
    (
        "kernel-podmonitor.yaml",
        "a prometheus-operator CRD the tool has no schema for: its selector and port are checked against the Deployment",
    ),
];
const KUSTOMIZATION: &str = "kustomization.yaml";
const DEPLOYMENT: &str = "kernel-deployment.yaml";
const POD_MONITOR: &str = "kernel-podmonitor.yaml";

/// Whether the tool can be started.
pub fn available() -> bool {
    succeeds(TOOL, &["--version"])
}

pub fn run() -> Result<(), String> {
    if !available() {
        return Err(format!(
            "{TOOL} is not installed or not on PATH (`pip install kubernetes-validate==1.37.0`, \
             in a venv on Debian; .ci/run does it)"
        ));
    }
    let dir = project_root().join(DIR);
    let mut manifests = Vec::new();
    for entry in fs::read_dir(&dir).map_err(|e| format!("cannot list {DIR}: {e}"))? {
        let name = entry
            .map_err(|e| format!("cannot list {DIR}: {e}"))?
            .file_name()
            .to_string_lossy()
            .into_owned();
        if name.ends_with(".yaml") || name.ends_with(".yml") {
            manifests.push(name);
        }
    }
    manifests.sort();
    for (skipped, _) in NOT_VALIDATED {
        if !manifests.iter().any(|m| m == skipped) {
            return Err(format!(
                "{DIR}/{skipped} is listed in k8s_check::NOT_VALIDATED but does not exist"
            ));
        }
    }
    let validated: Vec<String> = manifests
        .iter()
        .filter(|m| !NOT_VALIDATED.iter().any(|(skipped, _)| skipped == m))
        .cloned()
        .collect();
    if validated.is_empty() {
        return Err(format!("{DIR} has no manifests to validate"));
    }
    for (skipped, why) in NOT_VALIDATED {
        eprintln!("k8s-check: not validated by {TOOL}: {skipped} ({why})");
    }

    let mut command = Command::new(TOOL);
    command.arg("--strict");
    for version in VERSIONS {
        command.args(["-k", version]);
    }
    command.args(&validated).current_dir(&dir);
    let shown = show(&command);
    eprintln!("$ (cd {DIR} && {shown})");
    let output = command
        .output()
        .map_err(|e| format!("cannot start `{shown}`: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprint!("{stdout}{stderr}");
    let problems = judge(&stdout, &validated);
    if !output.status.success() || !problems.is_empty() {
        return Err(format!(
            "{DIR} does not validate ({}): {}",
            output.status,
            if problems.is_empty() {
                "see the tool's output above".to_owned()
            } else {
                problems.join("; ")
            }
        ));
    }

    let read = |name: &str| {
        fs::read_to_string(dir.join(name)).map_err(|e| format!("cannot read {DIR}/{name}: {e}"))
    };
    let mut problems = Vec::new();
    let listed = kustomization_resources(&read(KUSTOMIZATION)?);
    let expected: BTreeSet<String> = manifests
        .iter()
        .filter(|m| *m != KUSTOMIZATION && *m != POD_MONITOR)
        .cloned()
        .collect();
    let listed_set: BTreeSet<String> = listed.iter().cloned().collect();
    for missing in expected.difference(&listed_set) {
        problems.push(format!("{KUSTOMIZATION} does not list {missing}"));
    }
    for extra in listed_set.difference(&expected) {
        problems.push(format!(
            "{KUSTOMIZATION} lists {extra}, which is not a core manifest of {DIR}"
        ));
    }
    let deployment = read(DEPLOYMENT)?;
    problems.extend(pod_monitor_matches(&read(POD_MONITOR)?, &deployment));
    for name in &manifests {
        if yaml_lines(&read(name)?).any(|l| l.trim_start().starts_with("subPath:")) {
            problems.push(format!(
                "{name} mounts with subPath: such a mount never sees a ConfigMap update; mount the directory"
            ));
        }
    }
    if !problems.is_empty() {
        return Err(format!("{DIR}: {}", problems.join("; ")));
    }
    eprintln!(
        "k8s-check: {} manifests valid against Kubernetes {}; kustomization and PodMonitor consistent",
        validated.len(),
        VERSIONS.join(", ")
    );
    Ok(())
}

/// What is wrong in the tool's report: any warning, error or fatal line, and
/// every validated file that no `passed` line names.
fn judge(report: &str, validated: &[String]) -> Vec<String> {
    let mut problems: Vec<String> = report
        .lines()
        .filter(|l| {
            ["WARN", "ERROR", "FATAL"]
                .iter()
                .any(|level| l.starts_with(level))
        })
        .map(str::to_owned)
        .collect();
    for file in validated {
        let passed = format!("INFO {file} passed ");
        if !report.lines().any(|l| l.starts_with(&passed)) {
            problems.push(format!("{file} was not reported as passed"));
        }
    }
    problems
}

/// The lines of a YAML text without comment lines.
fn yaml_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().filter(|l| !l.trim_start().starts_with('#'))
}

/// The entries of the top-level `resources:` list of a kustomization.
fn kustomization_resources(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in yaml_lines(text) {
        if line.trim().is_empty() {
            continue;
        }
        if !line.starts_with(' ') && !line.starts_with('-') {
            inside = line.trim_end() == "resources:";
            continue;
        }
        if inside && let Some(item) = line.trim_start().strip_prefix("- ") {
            out.push(item.trim().to_owned());
        }
    }
    out
}

/// The `key: value` lines (trimmed) of the first block under `header` (a
/// line whose trimmed text is `header`), up to the first shallower line.
fn block_under<'a>(text: &'a str, header: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut indent = None;
    for line in yaml_lines(text) {
        let depth = line.len() - line.trim_start().len();
        match indent {
            None if line.trim() == header => indent = Some(depth),
            Some(at) if depth > at && !line.trim().is_empty() => out.push(line.trim()),
            Some(_) => break,
            None => {}
        }
    }
    out
}

/// The PodMonitor selects the Deployment's pods (each of its `matchLabels`
/// lines is a label of the pod template) and scrapes ports the container
/// names.
fn pod_monitor_matches(pod_monitor: &str, deployment: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let selector = block_under(pod_monitor, "matchLabels:");
    if selector.is_empty() {
        problems.push(format!("{POD_MONITOR} has no matchLabels"));
    }
    let labels = template_labels(deployment);
    for label in &selector {
        if !labels.contains(label) {
            problems.push(format!(
                "{POD_MONITOR} selects `{label}`, which is not a pod label of {DEPLOYMENT}"
            ));
        }
    }
    let ports = container_ports(deployment);
    let scraped: Vec<&str> = yaml_lines(pod_monitor)
        .filter_map(|l| {
            let l = l.trim_start().trim_start_matches("- ");
            l.strip_prefix("port:").map(str::trim)
        })
        .collect();
    if scraped.is_empty() {
        problems.push(format!("{POD_MONITOR} scrapes no named port"));
    }
    for port in scraped {
        if !ports.contains(&port) {
            problems.push(format!(
                "{POD_MONITOR} scrapes port `{port}`, which {DEPLOYMENT}'s container does not name"
            ));
        }
    }
    problems
}

/// The labels of the pod template (`template:` then `metadata:` then `labels:`).
fn template_labels(deployment: &str) -> Vec<&str> {
    match deployment.find("\n  template:") {
        Some(at) => block_under(&deployment[at..], "labels:"),
        None => Vec::new(),
    }
}

/// The names of the container ports: a `- name: X` line followed by a
/// `containerPort:` line.
fn container_ports(deployment: &str) -> Vec<&str> {
    let lines: Vec<&str> = yaml_lines(deployment).map(str::trim).collect();
    lines
        .windows(2)
        .filter(|pair| pair[1].starts_with("containerPort:"))
        .filter_map(|pair| pair[0].strip_prefix("- name:").map(str::trim))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPLOYMENT_TEXT: &str = "\
spec:
  selector:
    matchLabels:
      app: x
  template:
    metadata:
      labels:
        app: x
        tier: kernel
      annotations:
        a: b
    spec:
      containers:
        - name: kernel
          ports:
            - name: metrics
              containerPort: 9600
";

    #[test]
    fn warnings_and_unreported_files_are_problems() {
        let files = ["a.yaml".to_owned(), "b.yaml".to_owned()];
        let clean = "INFO a.yaml passed for resource x/y against version 1.29\n\
                     INFO b.yaml passed for resource x/z against version 1.29\n";
        assert!(judge(clean, &files).is_empty());
        let warned = format!("{clean}WARN b.yaml Couldn't find schema for kind Deploymnt\n");
        assert_eq!(judge(&warned, &files).len(), 1);
        let missing = "INFO a.yaml passed for resource x/y against version 1.29\n";
        assert_eq!(
            judge(missing, &files),
            ["b.yaml was not reported as passed"]
        );
    }

    #[test]
    fn kustomization_resources_stop_at_the_next_key() {
        let text =
            "# c\nresources:\n  - a.yaml\n  # - commented.yaml\n  - b.yaml\nimages:\n  - name: x\n";
        assert_eq!(kustomization_resources(text), ["a.yaml", "b.yaml"]);
    }

    #[test]
    fn a_pod_monitor_must_select_the_template_labels_and_a_named_port() {
        let good = "spec:\n  selector:\n    matchLabels:\n      app: x\n      tier: kernel\n  podMetricsEndpoints:\n    - port: metrics\n";
        assert!(pod_monitor_matches(good, DEPLOYMENT_TEXT).is_empty());
        let wrong_label = good.replace("tier: kernel", "tier: kernal");
        assert_eq!(pod_monitor_matches(&wrong_label, DEPLOYMENT_TEXT).len(), 1);
        let wrong_port = good.replace("port: metrics", "port: http");
        assert_eq!(pod_monitor_matches(&wrong_port, DEPLOYMENT_TEXT).len(), 1);
    }

    #[test]
    fn the_committed_manifests_are_consistent() {
        let dir = project_root().join(DIR);
        let read = |name: &str| fs::read_to_string(dir.join(name)).unwrap();
        assert!(pod_monitor_matches(&read(POD_MONITOR), &read(DEPLOYMENT)).is_empty());
        assert_eq!(container_ports(&read(DEPLOYMENT)), ["metrics"]);
        let listed = kustomization_resources(&read(KUSTOMIZATION));
        assert!(listed.iter().any(|r| r == DEPLOYMENT), "{listed:?}");
        assert!(!listed.iter().any(|r| r == POD_MONITOR), "{listed:?}");
    }
}
