//! `cargo xtask fuzz --seconds N`: runs every cargo-fuzz target in `fuzz/`
//! for N seconds each on the nightly toolchain (libFuzzer needs it) and
//! reports executions per target. A crash fails the run and leaves its
//! input under `fuzz/artifacts/<target>/` (turn it into a regression test).

use std::process::Command;

use crate::cmd::{show, succeeds};
use crate::project_root;

pub const TARGETS: [&str; 2] = ["config_loader", "http_request"];

/// Whether this machine can fuzz: a nightly toolchain and cargo-fuzz.
pub fn available() -> bool {
    succeeds("cargo", &["+nightly", "--version"])
        && succeeds("cargo", &["+nightly", "fuzz", "--version"])
}

pub fn run(seconds: u64) -> Result<(), String> {
    if !available() {
        return Err("fuzzing needs the nightly toolchain and cargo-fuzz (cargo install --locked cargo-fuzz)".into());
    }
    let mut report = Vec::new();
    for target in TARGETS {
        let mut command = Command::new("cargo");
        command.current_dir(project_root().join("fuzz")).args([
            "+nightly",
            "fuzz",
            "run",
            target,
            "--",
            &format!("-max_total_time={seconds}"),
        ]);
        let shown = show(&command);
        eprintln!("$ {shown}");
        let output = command
            .output()
            .map_err(|e| format!("cannot start `{shown}`: {e}"))?;
        let log = String::from_utf8_lossy(&output.stderr);
        // libFuzzer's last words: "Done 123456 runs in 30 second(s)".
        let runs = log
            .lines()
            .rev()
            .find_map(|l| {
                l.strip_prefix("Done ")
                    .and_then(|r| r.split_whitespace().next())
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| "?".into());
        if !output.status.success() {
            eprintln!("{log}");
            return Err(format!(
                "fuzz target {target} failed after {runs} runs: see fuzz/artifacts/{target}/"
            ));
        }
        eprintln!("fuzz {target}: {runs} runs in {seconds} s, no crash");
        report.push(format!("{target}: {runs} runs"));
    }
    eprintln!("fuzz: {}", report.join(", "));
    Ok(())
}
