//! Running the bench targets: which ones perf-gate runs, and how.

use crate::cmd::{cargo, show};

/// Every bench target perf-gate runs, in order: (package, bench). Each
/// prints `perf\t...` lines for [`super::parse`].
pub const BENCHES: [(&str, &str); 7] = [
    // Every library side by side: fan-out, latency, publish cost.
    ("ron-benches", "comparables"),
    // The same with subscriber tasks on a 2-worker runtime: flood, paced
    // latency and CPU per delivery.
    ("ron-benches", "async_comparables"),
    // SoA against classic, interleaved sample by sample: the gated ratios.
    ("ron-benches", "vs_classic"),
    // What receiving in runs (`recv_many`) gains over a `recv` loop.
    ("ron-benches", "recv_many"),
    // Classic against raw tokio broadcast, interleaved.
    ("ron-bus-classic", "ratios"),
    // How cost grows with subscribers, masks and churn; memory per
    // subscriber and per slot (both backends).
    ("ron-benches", "scaling"),
    // Across processes: the NATS bridge against raw async-nats through a
    // real nats-server.
    ("ron-benches", "fleet"),
];

/// Runs one bench target with `extra` arguments after `--` and returns its
/// stdout (stderr passes through; the bench's own table is echoed, the
/// machine lines are not).
pub fn output(package: &str, bench: &str, extra: &[&str]) -> Result<String, String> {
    let mut command = cargo();
    command
        .args(["bench", "--locked", "-p", package, "--bench", bench, "--"])
        .args(extra);
    let shown = show(&command);
    eprintln!("$ {shown}");
    let output = command
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot start `{shown}`: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    // Show the bench's own table, not the machine lines.
    for line in stdout.lines().filter(|l| !l.starts_with("perf\t")) {
        eprintln!("{line}");
    }
    if output.status.success() {
        Ok(stdout)
    } else {
        Err(format!("`{shown}` failed ({})", output.status))
    }
}
