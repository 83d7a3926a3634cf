//! Project automation, run as `cargo xtask <command>` (alias in `.cargo/config.toml`).
//!
//! Model: rust-analyzer's xtask. Plain `std::process`, one module per
//! command, every failure one line a person can act on. The only
//! dependencies are for `api-check` (rustdoc JSON → public API → diff).

mod api_check;
mod ci;
mod cmd;
mod fuzz;
mod k8s_check;
mod package_check;
mod perf_gate;
mod rules_check;
mod scrape_check;
mod soak;
#[cfg(test)]
mod tidy;

use std::path::PathBuf;
use std::process::ExitCode;

/// What `cargo xtask help` prints; commands quote it on a usage error.
const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  ci              everything CI checks: fmt, clippy, tests, loom, docs, api-check, package-check,
                  cargo-deny, prometheus (promtool on /metrics, a real scrape, rules),
                  k8s-check, fleet (three kernels through a real nats-server), perf-gate --quick
  api-check       each library's public API against xtask/api/<crate>.txt
  api-check --bless
                  rewrite those snapshots (a deliberate, reviewed API change)
  package-check   cargo package every library crate and build each package from its own files
  perf-gate       run the bus benchmarks and check their ratios against the gates
  perf-gate --quick
                  smaller samples; proves the harness works, never fails on a ratio
  fuzz --seconds N
                  every cargo-fuzz target in fuzz/ for N seconds (nightly + cargo-fuzz)
  soak --minutes N
                  the whole kernel under load for N minutes; fails on RSS, fd or task
                  growth, or a bus accounting error
  scrape-check    run kernel_demo; promtool on /metrics; a real Prometheus scrapes it
  rules-check     promtool on deploy/prometheus (rules and their unit tests) and on every
                  query of the Grafana dashboard
  k8s-check       deploy/k8s validated offline against the Kubernetes schemas
                  (kubernetes-validate --strict) and checked across files
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci::run(),
        Some("api-check") => match args.get(1).map(String::as_str) {
            None => api_check::run(false),
            Some("--bless") => api_check::run(true),
            Some(other) => Err(format!("api-check: unknown option {other:?}\n{USAGE}")),
        },
        Some("scrape-check") => scrape_check::run(),
        Some("k8s-check") => k8s_check::run(),
        Some("rules-check") => rules_check::run(),
        Some("package-check") => package_check::run(),
        Some("soak") => soak::run(&args[1..]),
        Some("fuzz") => match &args[1..] {
            [flag, n] if flag == "--seconds" => n
                .parse()
                .map_err(|_| format!("fuzz: {n:?} is not a number of seconds"))
                .and_then(fuzz::run),
            _ => Err(format!("fuzz: expected `--seconds N`\n{USAGE}")),
        },
        Some("perf-gate") => match args.get(1).map(String::as_str) {
            None => perf_gate::run(false),
            Some("--quick") => perf_gate::run(true),
            Some(other) => Err(format!("perf-gate: unknown option {other:?}\n{USAGE}")),
        },
        Some("-h" | "--help" | "help") => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown command {other:?}\n{USAGE}")),
        None => Err(format!("no command given\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (the parent of this crate's directory).
fn project_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(PathBuf::from)
        .unwrap_or(manifest_dir)
}

/// Whether we run in CI, where optional tools are mandatory.
fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0")
}
