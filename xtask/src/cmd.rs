//! Running tools: cargo and friends, announced and checked.

use std::ffi::OsStr;
use std::process::{Command, Stdio};

use crate::project_root;

/// The cargo that runs us (so the pinned toolchain is used throughout).
pub fn cargo() -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.current_dir(project_root());
    command
}

/// Runs `command` with inherited output; an error says what failed and how.
pub fn run(command: &mut Command) -> Result<(), String> {
    let shown = show(command);
    eprintln!("$ {shown}");
    let status = command
        .status()
        .map_err(|e| format!("cannot start `{shown}`: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{shown}` failed ({status})"))
    }
}

/// Whether `program args...` starts and exits successfully (output discarded).
pub fn succeeds(program: impl AsRef<OsStr>, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A command line as a person would type it.
pub fn show(command: &Command) -> String {
    let envs = command
        .get_envs()
        .filter_map(|(k, v)| Some(format!("{}={}", k.to_string_lossy(), v?.to_string_lossy())));
    let program = std::iter::once(command.get_program().to_string_lossy().into_owned());
    let args = command.get_args().map(|a| a.to_string_lossy().into_owned());
    envs.chain(program)
        .chain(args)
        .collect::<Vec<_>>()
        .join(" ")
}
