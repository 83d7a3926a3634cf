//! `cargo xtask soak [--minutes N]`: the whole kernel under load for N
//! minutes (10 by default), through the `soak` example of `ron-kernel`,
//! optimised. The example itself checks RSS, fd and task growth and the bus
//! accounting, and fails the run on any of them.

use crate::cmd;

/// `cargo xtask soak --minutes N`: the soak example, optimised.
pub fn run(args: &[String]) -> Result<(), String> {
    let minutes = match args {
        [flag, n] if flag == "--minutes" => n
            .parse::<u64>()
            .map_err(|_| format!("soak: {n:?} is not a number of minutes"))?,
        [] => 10,
        _ => return Err(format!("soak: expected `--minutes N`\n{}", crate::USAGE)),
    };
    cmd::run(
        cmd::cargo()
            .args([
                "run",
                "--release",
                "--locked",
                "-p",
                "ron-kernel",
                "--example",
                "soak",
                "--",
                "--minutes",
            ])
            .arg(minutes.to_string()),
    )
}
