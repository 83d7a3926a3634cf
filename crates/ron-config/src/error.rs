//! [`ConfigError`]: why a configuration was not loaded.
//!
//! A message says what failed and where; the underlying error is its
//! `source()`, never repeated in the message, so a report that walks the
//! chain (anyhow's `{:#}`, eyre) prints each cause once.

use std::error::Error;
use std::fmt;
use std::path::PathBuf;

use crate::validate::Problem;

/// Why a configuration could not be loaded (or reloaded). A reload that
/// fails changes nothing: the last good configuration stays.
///
/// `Display` says what failed and where; the underlying error, if any, is
/// the [`source`](Error::source) and is not repeated in the message.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read (missing, unreadable, not UTF-8).
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is empty (no bytes, or only whitespace): what a truncating
    /// writer or a full disk leaves behind, never a configuration. A file
    /// meant to hold the defaults says so with a comment.
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The path names something other than a regular file (a directory, a
    /// FIFO, a device, a socket), which is never read.
    NotAFile {
        /// The path.
        path: PathBuf,
        /// What it is instead: `directory`, `fifo`, `device`, `socket`.
        kind: &'static str,
    },
    /// The file is larger than the cap (
    /// [`MAX_FILE_BYTES`](crate::MAX_FILE_BYTES)); it is not read.
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The cap, in bytes.
        limit: u64,
    },
    /// The file is not valid TOML for a [`Config`](crate::Config): a syntax
    /// error, a wrong type, an unknown field. What the parser says is the
    /// source, a [`toml::de::Error`] ([`message`](toml::de::Error::message)
    /// for its one-line text).
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column (in characters) of the error.
        column: usize,
        /// The parser's error (boxed: it is large, and errors travel in
        /// every `Result` of the crate).
        source: Box<toml::de::Error>,
    },
    /// The values are readable but wrong: every problem, each with its field
    /// path (or environment variable).
    Invalid {
        /// Every problem found.
        problems: Vec<Problem>,
    },
    /// The file's directory could not be watched, or the watcher failed
    /// (then it is re-armed and the file reloaded).
    Watch {
        /// The directory that could not be watched, or the configuration
        /// file when the watcher itself failed (or no runtime was running).
        path: PathBuf,
        /// What went wrong: a [`notify::Error`] (directly, or as the source
        /// of a count of repeated watcher errors), or
        /// [`tokio::runtime::TryCurrentError`] when no runtime was running.
        source: Box<dyn Error + Send + Sync>,
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

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Io { path, .. } => {
                write!(f, "cannot read config file {}", path.display())
            }
            ConfigError::Empty { path } => write!(
                f,
                "config file {} is empty; keeping the last good configuration (a file of defaults needs at least a comment)",
                path.display()
            ),
            ConfigError::NotAFile { path, kind } => {
                write!(
                    f,
                    "config file {} is a {kind}, not a regular file",
                    path.display()
                )
            }
            ConfigError::TooLarge { path, limit } => {
                write!(
                    f,
                    "config file {} is larger than {limit} bytes",
                    path.display()
                )
            }
            ConfigError::Parse {
                path, line, column, ..
            } => write!(
                f,
                "{}:{line}:{column}: not a valid configuration",
                path.display()
            ),
            ConfigError::Invalid { problems } => {
                f.write_str("invalid configuration: ")?;
                for (i, problem) in problems.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{problem}")?;
                }
                Ok(())
            }
            ConfigError::Watch { path, .. } => write!(f, "cannot watch {}", path.display()),
        }
    }
}

// By hand rather than derived: the parse error's source is the boxed
// `toml::de::Error` itself (a derive would expose the `Box`, which a
// `downcast_ref::<toml::de::Error>()` does not find).
impl Error for ConfigError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            ConfigError::Io { source, .. } => Some(source),
            ConfigError::Parse { source, .. } => Some(&**source),
            ConfigError::Watch { source, .. } => Some(&**source),
            ConfigError::Empty { .. }
            | ConfigError::NotAFile { .. }
            | ConfigError::TooLarge { .. }
            | ConfigError::Invalid { .. } => None,
        }
    }
}

/// The watcher's own failures that are not one `notify` error.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WatchFailure {
    /// Every walk of the path found a different set of directories.
    #[error("the path kept changing while it was being watched")]
    KeptChanging,
    /// The watcher failed `count` times since the last look; the last
    /// error is the source: `the watcher failed: ERROR`, or
    /// `the watcher failed 3 times; the last error: ERROR`.
    #[error("the watcher failed{}", times(.count))]
    Repeated {
        /// How many.
        count: u64,
        /// The last one.
        #[source]
        last: notify::Error,
    },
}

/// `Repeated`'s count as it reads after "the watcher failed" and before
/// its last error.
fn times(count: &u64) -> String {
    match count {
        1 => String::new(),
        n => format!(" {n} times; the last error"),
    }
}

/// An error and each of its sources, `: `-separated (anyhow's `{:#}`), for
/// log lines that print one field: always one line. A TOML error is written
/// as its [`message`](toml::de::Error::message) alone: its `Display` adds the
/// position (which [`ConfigError::Parse`] already says) and a snippet of the
/// file with a caret line, several lines in all.
pub(crate) struct Chain<'a>(pub(crate) &'a (dyn Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut next = Some(self.0);
        let mut separator = "";
        while let Some(error) = next {
            f.write_str(separator)?;
            match error.downcast_ref::<toml::de::Error>() {
                // Its message is one line as the parser writes it; joined
                // anyway, so that a log line never breaks.
                Some(toml) => {
                    for (i, line) in toml.message().lines().enumerate() {
                        if i > 0 {
                            f.write_str(" ")?;
                        }
                        f.write_str(line.trim())?;
                    }
                }
                None => write!(f, "{error}")?,
            }
            separator = ": ";
            next = error.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// A rejected reload is logged as `Chain` of its error: for a parse error
    /// one line, its position once, then what the parser says (not toml's
    /// own multi-line report with its snippet, caret and position again).
    #[test]
    fn a_parse_error_is_one_log_line() {
        let text = "version = 2\n[bus]\ncapacty = 64\n";
        let error = crate::parse(text, Path::new("ron.toml")).unwrap_err();
        let logged = Chain(&error).to_string();
        assert!(!logged.contains('\n'), "{logged:?}");
        assert!(logged.starts_with("ron.toml:3:1: "), "{logged:?}");
        assert!(logged.contains("unknown field `capacty`"), "{logged:?}");
        assert!(!logged.contains("line 3"), "position repeated: {logged:?}");
    }

    /// One watcher error reads as one; several say how many.
    #[test]
    fn repeated_watcher_errors_are_counted_in_words() {
        let failed = |count| {
            let last = notify::Error::generic("inotify read failed");
            let failure = WatchFailure::Repeated { count, last };
            Chain(&failure).to_string()
        };
        assert_eq!(failed(1), "the watcher failed: inotify read failed");
        assert_eq!(
            failed(3),
            "the watcher failed 3 times; the last error: inotify read failed"
        );
    }
}
