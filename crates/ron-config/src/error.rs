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
    /// The file's directory could not be watched.
    #[error("cannot watch {}: {message}", path.display())]
    Watch {
        /// The directory.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

impl ConfigError {
    /// A short, fixed label for metrics: `io`, `parse`, `validate` or
    /// `watch` (the `reason` of `config_reload_errors_total`).
    pub fn reason(&self) -> &'static str {
        match self {
            ConfigError::Io { .. } => "io",
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
