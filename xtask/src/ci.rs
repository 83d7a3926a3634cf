//! `cargo xtask ci`: every check CI runs, each announced and timed.

use std::time::{Duration, Instant};

use crate::cmd::{self, cargo, succeeds};
use crate::{in_ci, scrape_check};

/// What a step did.
enum Outcome {
    Passed,
    Skipped(&'static str),
}

type Step = (&'static str, fn() -> Result<Outcome, String>);

const STEPS: &[Step] = &[
    ("fmt", fmt),
    ("clippy", clippy),
    ("test", test),
    ("loom", loom),
    ("doc", doc),
    ("api-check", api_check),
    ("package-check", package_check),
    ("deny", deny),
    ("prometheus", prometheus),
    ("k8s-check", k8s_check),
    ("fleet", fleet),
    ("perf-gate --quick", perf_smoke),
    ("fuzz (smoke)", fuzz_smoke),
];

pub fn run() -> Result<(), String> {
    let started = Instant::now();
    let mut report = Vec::new();
    for (name, step) in STEPS {
        eprintln!("\n==> ci: {name}");
        let step_started = Instant::now();
        let outcome = step().map_err(|e| format!("ci step `{name}` failed: {e}"))?;
        let took = step_started.elapsed();
        let verdict = match outcome {
            Outcome::Passed => "ok".to_owned(),
            Outcome::Skipped(why) => format!("skipped: {why}"),
        };
        eprintln!("<== ci: {name} {verdict} ({})", secs(took));
        report.push((name, verdict, took));
    }
    eprintln!("\nci summary:");
    for (name, verdict, took) in &report {
        eprintln!("  {name:<18} {:>8}  {verdict}", secs(*took));
    }
    eprintln!("  {:<18} {:>8}", "total", secs(started.elapsed()));
    Ok(())
}

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

fn fmt() -> Result<Outcome, String> {
    cmd::run(cargo().args(["fmt", "--all", "--", "--check"]))?;
    Ok(Outcome::Passed)
}

fn clippy() -> Result<Outcome, String> {
    cmd::run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--all-features",
        "--locked",
        "--",
        "-D",
        "warnings",
    ]))?;
    Ok(Outcome::Passed)
}

fn test() -> Result<Outcome, String> {
    // All features: `ron-metrics/tls` is built and tested too.
    cmd::run(cargo().args(["test", "--workspace", "--all-features", "--locked"]))?;
    Ok(Outcome::Passed)
}

/// The SoA ring's loom models, on loom's primitives (`--cfg loom`), in
/// their own target dir so the normal build is not invalidated. The
/// preemption bound keeps the lane to seconds; raise it with
/// `LOOM_MAX_PREEMPTIONS` for a deeper search.
fn loom() -> Result<Outcome, String> {
    let target = crate::project_root().join("target").join("loom");
    cmd::run(
        cargo()
            .args([
                "test",
                "-p",
                "ron-bus-soa",
                "--release",
                "--locked",
                "--test",
                "loom_ring",
            ])
            .env("RUSTFLAGS", "--cfg loom")
            .env("CARGO_TARGET_DIR", target)
            .env(
                "LOOM_MAX_PREEMPTIONS",
                std::env::var("LOOM_MAX_PREEMPTIONS").unwrap_or_else(|_| "3".into()),
            ),
    )?;
    Ok(Outcome::Passed)
}

fn doc() -> Result<Outcome, String> {
    cmd::run(
        cargo()
            .args([
                "doc",
                "--workspace",
                "--all-features",
                "--no-deps",
                "--locked",
            ])
            .env("RUSTDOCFLAGS", "-D warnings"),
    )?;
    Ok(Outcome::Passed)
}

fn api_check() -> Result<Outcome, String> {
    crate::api_check::run(false)?;
    Ok(Outcome::Passed)
}

/// Every library crate packaged and built from its package alone (about
/// four minutes on two cores: each package is compiled afresh).
fn package_check() -> Result<Outcome, String> {
    crate::package_check::run()?;
    Ok(Outcome::Passed)
}

fn deny() -> Result<Outcome, String> {
    if !succeeds(
        std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()),
        &["deny", "--version"],
    ) {
        return optional_tool_missing(
            "cargo-deny is not installed (cargo install --locked cargo-deny)",
        );
    }
    // `advisories` needs the advisory database from the network; CI machines
    // cannot reach it.
    cmd::run(cargo().args(["deny", "check", "bans", "licenses", "sources"]))?;
    Ok(Outcome::Passed)
}

fn prometheus() -> Result<Outcome, String> {
    if !succeeds("promtool", &["--version"]) {
        return optional_tool_missing("promtool is not installed (apt-get install prometheus)");
    }
    scrape_check::run()?;
    crate::rules_check::run()?;
    Ok(Outcome::Passed)
}

/// deploy/k8s against the Kubernetes schemas, offline.
fn k8s_check() -> Result<Outcome, String> {
    if !crate::k8s_check::available() {
        return optional_tool_missing(
            "kubernetes-validate is not installed (pip install kubernetes-validate; .ci/run does it)",
        );
    }
    crate::k8s_check::run()?;
    Ok(Outcome::Passed)
}

/// Three `kernel_demo` processes bridged through a real `nats-server` on
/// 127.0.0.1 (crates/ron-kernel/tests/fleet.rs, ignored by a plain
/// `cargo test` because it needs the server): a crash seen across
/// processes within 1 s, five server restarts with losses accounted, no
/// leak. Bounded in time by the test itself.
fn fleet() -> Result<Outcome, String> {
    // Debian installs it in /usr/sbin, off a normal user's PATH; the
    // test's harness (ron_benches::nats) looks there too.
    if !succeeds("nats-server", &["--version"])
        && !succeeds("/usr/sbin/nats-server", &["--version"])
    {
        return optional_tool_missing(
            "nats-server is not installed (apt-get install nats-server; .ci/run does it)",
        );
    }
    cmd::run(cargo().args([
        "test",
        "--locked",
        "-p",
        "ron-kernel",
        "--test",
        "fleet",
        "--",
        "--ignored",
        "--nocapture",
    ]))?;
    Ok(Outcome::Passed)
}

/// The perf harness in quick mode: proves it runs; never gates on timings
/// (shared machines are too noisy for that).
fn perf_smoke() -> Result<Outcome, String> {
    crate::perf_gate::run(true)?;
    Ok(Outcome::Passed)
}

/// 15 seconds per fuzz target when the machine can fuzz (nightly and
/// cargo-fuzz); skipped otherwise, in CI too: fuzzing is opt-in.
fn fuzz_smoke() -> Result<Outcome, String> {
    if !crate::fuzz::available() {
        return Ok(Outcome::Skipped(
            "needs the nightly toolchain and cargo-fuzz",
        ));
    }
    crate::fuzz::run(15)?;
    Ok(Outcome::Passed)
}

/// Locally a missing optional tool skips its step; in CI it fails the run.
fn optional_tool_missing(why: &'static str) -> Result<Outcome, String> {
    if in_ci() {
        Err(why.to_owned())
    } else {
        Ok(Outcome::Skipped(why))
    }
}
