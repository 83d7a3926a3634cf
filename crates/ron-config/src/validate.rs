//! Validation: a pure function from a [`Config`] to every problem in it.

use std::fmt;

use crate::model::Config;

/// Largest bus capacity accepted: the bus's own limit, `ron_bus::MAX_CAPACITY`
/// (ron-config does not depend on the bus; `ron-kernel` asserts at compile
/// time that the two are equal).
pub const MAX_BUS_CAPACITY: usize = 1 << 20;
/// Largest `bus.expected_subscribers` accepted.
pub const MAX_EXPECTED_SUBSCRIBERS: usize = 1 << 16;
/// Largest `supervisor.backoff_cap_ms` accepted: one day.
pub const MAX_BACKOFF_CAP_MS: u64 = 86_400_000;

/// One thing wrong with a configuration, at a field path such as
/// `supervisor.backoff_cap_ms` or, for the environment, the variable's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where: a dotted field path, or `env RON_...`.
    pub path: String,
    /// What is wrong, and what would be right.
    pub message: String,
}

impl Problem {
    pub(crate) fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every problem in `config`, in field order; empty when it is valid.
///
/// ```
/// use ron_config::{Config, validate};
///
/// let mut config = Config::default();
/// config.supervisor.backoff_base_ms = 500;
/// config.supervisor.backoff_cap_ms = 100;
/// config.bus.capacity = Some(0);
/// let problems = validate(&config);
/// let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
/// assert_eq!(paths, ["bus.capacity", "supervisor.backoff_cap_ms"]);
/// ```
pub fn validate(config: &Config) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut check = |ok: bool, path: &str, message: String| {
        if !ok {
            problems.push(Problem::new(path, message));
        }
    };
    check(
        config.version >= 1,
        "version",
        format!("must be at least 1, found {}", config.version),
    );
    if let Some(capacity) = config.bus.capacity {
        check(
            (1..=MAX_BUS_CAPACITY).contains(&capacity),
            "bus.capacity",
            format!("must be 1..={MAX_BUS_CAPACITY} (or absent to autotune), found {capacity}"),
        );
    }
    let subs = config.bus.expected_subscribers;
    check(
        (1..=MAX_EXPECTED_SUBSCRIBERS).contains(&subs),
        "bus.expected_subscribers",
        format!("must be 1..={MAX_EXPECTED_SUBSCRIBERS}, found {subs}"),
    );
    let s = &config.supervisor;
    check(
        s.window_ms >= 1,
        "supervisor.window_ms",
        "must be at least 1".to_owned(),
    );
    check(
        s.backoff_base_ms >= 1,
        "supervisor.backoff_base_ms",
        "must be at least 1".to_owned(),
    );
    check(
        (s.backoff_base_ms..=MAX_BACKOFF_CAP_MS).contains(&s.backoff_cap_ms),
        "supervisor.backoff_cap_ms",
        format!(
            "must be between backoff_base_ms ({}) and {MAX_BACKOFF_CAP_MS}, found {}",
            s.backoff_base_ms, s.backoff_cap_ms
        ),
    );
    check(
        s.reset_after_ms >= 1,
        "supervisor.reset_after_ms",
        "must be at least 1".to_owned(),
    );
    problems
}

#[cfg(test)]
#[allow(clippy::field_reassign_with_default)] // each test changes a few fields of the defaults
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid() {
        assert_eq!(validate(&Config::default()), []);
    }

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let mut config = Config::default();
        config.version = 0;
        config.bus.capacity = Some(MAX_BUS_CAPACITY + 1);
        config.bus.expected_subscribers = 0;
        config.supervisor.window_ms = 0;
        config.supervisor.backoff_base_ms = 0;
        config.supervisor.backoff_cap_ms = MAX_BACKOFF_CAP_MS + 1;
        config.supervisor.reset_after_ms = 0;
        let paths: Vec<String> = validate(&config).into_iter().map(|p| p.path).collect();
        assert_eq!(
            paths,
            [
                "version",
                "bus.capacity",
                "bus.expected_subscribers",
                "supervisor.window_ms",
                "supervisor.backoff_base_ms",
                "supervisor.backoff_cap_ms",
                "supervisor.reset_after_ms",
            ]
        );
    }

    #[test]
    fn bounds_are_inclusive() {
        let mut config = Config::default();
        config.bus.capacity = Some(MAX_BUS_CAPACITY);
        config.bus.expected_subscribers = MAX_EXPECTED_SUBSCRIBERS;
        config.supervisor.backoff_base_ms = 7;
        config.supervisor.backoff_cap_ms = 7;
        assert_eq!(validate(&config), []);
    }
}
