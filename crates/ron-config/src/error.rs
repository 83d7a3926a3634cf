//! [`ConfigError`]: why a configuration was not loaded.

use std::path::PathBuf;

use crate::validate::Problem;

/// Why a configuration could not be loaded (or reloaded). A reload that
/// fails changes nothing: the last good configuration stays.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read (missing, unreadable, not UTF-8).
    #[error("cannot read config file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file is empty (no bytes, or only whitespace): what a truncating
    /// writer or a full disk leaves behind, never a configuration. A file
    /// meant to hold the defaults says so with a comment.
    #[error("config file {} is empty; keeping the last good configuration (a file of defaults needs at least a comment)", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The path names something other than a regular file (a directory, a
    /// FIFO, a device, a socket), which is never read.
    #[error("config file {} is a {kind}, not a regular file", path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
        /// What it is instead: `directory`, `fifo`, `device`, `socket`.
        kind: &'static str,
    },
    /// The file is larger than the cap (
    /// [`MAX_FILE_BYTES`](crate::MAX_FILE_BYTES)); it is not read.
    #[error("config file {} is larger than {limit} bytes", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The cap, in bytes.
        limit: u64,
    },
    /// The file is not valid TOML for a [`Config`](crate::Config): a syntax
    /// error, a wrong type, an unknown field.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column (in characters) of the error.
        column: usize,
        /// What the parser says.
        message: String,
    },
    /// The values are readable but wrong: every problem, each with its field
    /// path (or environment variable).
    #[error("invalid configuration: {}", join(problems))]
    Invalid {
        /// Every problem found.
        problems: Vec<Problem>,
    },
    /// The file's directory could not be watched, or the watcher failed
    /// (then it is re-armed and the file reloaded).
    #[error("cannot watch {}: {message}", path.display())]
    Watch {
        /// The directory that could not be watched, or the configuration
        /// file when the watcher itself failed (or no runtime was running).
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

impl ConfigError {
    /// A short, fixed label for metrics: `io` (unreadable, not a regular
    /// file, too large), `empty`, `parse`, `validate` or `watch` (the
    /// `reason` of `config_reload_errors_total`).
    ///
    /// ```
    /// use ron_config::ConfigError;
    ///
    /// let empty = ConfigError::Empty { path: "ron.toml".into() };
    /// assert_eq!(empty.reason(), "empty");
    /// ```
    pub fn reason(&self) -> &'static str {
        match self {
            ConfigError::Io { .. }
            | ConfigError::NotAFile { .. }
            | ConfigError::TooLarge { .. } => "io",
            ConfigError::Empty { .. } => "empty",
            ConfigError::Parse { .. } => "parse",
            ConfigError::Invalid { .. } => "validate",
            ConfigError::Watch { .. } => "watch",
        }
    }
}

fn join(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
