//! [`Loader`]: defaults < file < environment, validated.

use std::path::{Path, PathBuf};

use crate::env::{Env, RON_CONFIG, overlay};
use crate::error::ConfigError;
use crate::model::Config;
use crate::read::read_config_file;
use crate::validate::validate;

/// Loads a [`Config`]: the defaults, overridden by the file (if any),
/// overridden by the `RON_*` environment, then validated.
///
/// The file is `RON_CONFIG` when set, else the default path given to
/// [`new`](Self::new), else none (defaults and environment only).
///
/// # Example
///
/// ```
/// use ron_config::{Env, Loader};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("ron-kernel.toml");
/// std::fs::write(&path, "version = 3\n[bus]\ncapacity = 128\n")?;
///
/// let env = Env::from_fn(|key| (key == "RON_AMNESIA").then(|| "on".to_owned()));
/// let config = Loader::new(Some(path)).env(env).load()?;
/// assert_eq!((config.version, config.bus.capacity, config.amnesia), (3, Some(128), true));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Loader {
    default_file: Option<PathBuf>,
    env: Env,
}

impl Loader {
    /// A loader reading the process environment; `default_file` is used
    /// when `RON_CONFIG` is unset.
    pub fn new(default_file: Option<PathBuf>) -> Self {
        Self {
            default_file,
            env: Env::process(),
        }
    }

    /// Reads the environment from `env` instead of the process.
    #[must_use]
    pub fn env(mut self, env: Env) -> Self {
        self.env = env;
        self
    }

    /// The environment this loader reads.
    pub fn env_source(&self) -> &Env {
        &self.env
    }

    /// The file this loader reads now: `RON_CONFIG`, else the default.
    pub fn file(&self) -> Option<PathBuf> {
        match self.env.get(RON_CONFIG) {
            Some(path) if !path.trim().is_empty() => Some(PathBuf::from(path)),
            _ => self.default_file.clone(),
        }
    }

    /// Loads and validates.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Io`] when the file cannot be read,
    /// [`ConfigError::NotAFile`] when it is a directory, a FIFO or a device,
    /// [`ConfigError::TooLarge`] above [`MAX_FILE_BYTES`](crate::MAX_FILE_BYTES),
    /// [`ConfigError::Empty`] when it holds nothing but whitespace (an empty
    /// file is refused at start-up as on a reload: it is what a truncating
    /// writer leaves behind; a file meant to be all defaults has a
    /// comment), [`ConfigError::Parse`]
    /// (with line and column) when it is not a valid configuration,
    /// [`ConfigError::Invalid`] with every problem of the values and the
    /// environment.
    pub fn load(&self) -> Result<Config, ConfigError> {
        let mut config = match self.file() {
            Some(path) => {
                let text = read_config_file(&path)?;
                parse(&text, &path)?
            }
            None => Config::default(),
        };
        let mut problems = Vec::new();
        overlay(&mut config, &self.env, &mut problems);
        problems.extend(validate(&config));
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid { problems })
        }
    }
}

/// Parses `text` (from `path`, for messages) as a [`Config`] without the
/// environment and without validating values.
///
/// # Errors
///
/// [`ConfigError::Parse`] with the line and column of the problem.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    toml::from_str(text).map_err(|error| {
        let (line, column) = error
            .span()
            .map_or((1, 1), |span| line_column(text, span.start));
        ConfigError::Parse {
            path: path.to_owned(),
            line,
            column,
            source: Box::new(error),
        }
    })
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_err(text: &str) -> (usize, usize, String) {
        match parse(text, Path::new("x.toml")) {
            Err(ConfigError::Parse {
                line,
                column,
                source,
                ..
            }) => (line, column, source.message().to_owned()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_fields_are_parse_errors_at_their_line() {
        let (line, column, message) = parse_err("version = 2\n[bus]\ncapacty = 64\n");
        assert_eq!((line, column), (3, 1));
        assert!(message.contains("capacty"), "{message}");
    }

    #[test]
    fn wrong_types_and_syntax_point_at_the_value() {
        let (line, column, _) = parse_err("amnesia = \"yes\"\n");
        assert_eq!((line, column), (1, 11));
        let (line, _, _) = parse_err("version = 1\n[metrics\naddr = 1\n");
        assert_eq!(line, 2);
        let (line, _, message) = parse_err("[metrics]\naddr = \"not an address\"\n");
        assert_eq!(line, 2, "{message}");
    }

    #[test]
    fn an_empty_file_is_the_defaults() {
        assert_eq!(parse("", Path::new("x")).unwrap(), Config::default());
    }

    #[test]
    fn line_column_counts_characters() {
        assert_eq!(line_column("aé\nbc", 0), (1, 1));
        assert_eq!(line_column("aé\nbc", 3), (1, 3));
        assert_eq!(line_column("aé\nbc", 5), (2, 2));
        assert_eq!(line_column("x", 99), (1, 2));
    }

    #[test]
    fn environment_overrides_the_file_and_bad_values_are_all_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "amnesia = false\n[metrics]\naddr = \"127.0.0.1:1\"\n",
        )
        .unwrap();
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            Env::from_fn(move |key| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, v)| (*v).to_owned())
            })
        };
        let config = Loader::new(Some(path.clone()))
            .env(env(&[
                ("RON_AMNESIA", "1"),
                ("RON_METRICS_ADDR", "127.0.0.1:2"),
                ("RON_BUS_CAPACITY", "auto"),
            ]))
            .load()
            .unwrap();
        assert!(config.amnesia);
        assert_eq!(config.metrics.addr.port(), 2);

        let error = Loader::new(Some(path))
            .env(env(&[
                ("RON_AMNESIA", "maybe"),
                ("RON_SUPERVISOR_WINDOW_MS", "-5"),
                ("RON_BUS_CAPACITY", "0"),
            ]))
            .load()
            .unwrap_err();
        let ConfigError::Invalid { problems } = error else {
            panic!("{error:?}")
        };
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "env RON_AMNESIA",
                "env RON_SUPERVISOR_WINDOW_MS",
                "bus.capacity"
            ]
        );
    }

    #[test]
    fn ron_config_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.toml");
        std::fs::write(&path, "version = 9\n").unwrap();
        let named = path.to_string_lossy().into_owned();
        let loader =
            Loader::new(Some(dir.path().join("missing.toml"))).env(Env::from_fn(move |key| {
                (key == RON_CONFIG).then(|| named.clone())
            }));
        assert_eq!(loader.load().unwrap().version, 9);
        let missing =
            Loader::new(Some(dir.path().join("missing.toml"))).env(Env::from_fn(|_| None));
        assert!(matches!(missing.load(), Err(ConfigError::Io { .. })));
    }
}
