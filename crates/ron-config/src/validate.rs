//! Validation: a pure function from a [`Config`] to every problem in it.

use std::fmt;

use crate::model::{BridgeConfig, Config, is_token_char};

/// Largest bus capacity accepted: the bus's own limit, `ron_bus::MAX_CAPACITY`
/// (ron-config does not depend on the bus; `ron-kernel` asserts at compile
/// time that the two are equal).
pub const MAX_BUS_CAPACITY: usize = 1 << 20;
/// Largest `bus.expected_subscribers` accepted.
pub const MAX_EXPECTED_SUBSCRIBERS: usize = 1 << 16;
/// Largest `supervisor.backoff_cap_ms` accepted: one day.
pub const MAX_BACKOFF_CAP_MS: u64 = 86_400_000;
/// Longest `bridge.cluster` and `bridge.node` accepted, in characters: a
/// NATS subject token of ron-kernel's subjects
/// (`ron.<cluster>.<node>.<topic>`).
pub const MAX_SUBJECT_TOKEN_LEN: usize = 64;
/// The URL schemes `bridge.url` accepts (besides a bare `host:port`): the
/// NATS client's.
const NATS_SCHEMES: [&str; 4] = ["nats", "tls", "ws", "wss"];

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
    validate_bridge(&config.bridge, &mut problems);
    problems
}

/// The problems of `[bridge]`, in field order. Checked whether or not the
/// bridge is on, so a mistake is found before it is turned on. Messages
/// never quote `url`: it may hold a password (`nats://user:pass@host`).
fn validate_bridge(bridge: &BridgeConfig, problems: &mut Vec<Problem>) {
    if let Some(url) = &bridge.url
        && let Err(message) = check_url(url)
    {
        problems.push(Problem::new("bridge.url", message));
    }
    if let Err(message) = check_token(&bridge.cluster) {
        problems.push(Problem::new("bridge.cluster", message));
    }
    if let Some(node) = &bridge.node
        && let Err(message) = check_token(node)
    {
        problems.push(Problem::new("bridge.node", message));
    }
    for (path, topics) in [
        ("bridge.export", &bridge.export),
        ("bridge.import", &bridge.import),
    ] {
        // Topic names only: whether the kernel has such a topic is the
        // bridge's check (ron-config does not know the kernel's topics).
        for (i, topic) in topics.iter().enumerate() {
            if topic != "*" && check_token(topic).is_err() {
                problems.push(Problem::new(
                    path,
                    format!(
                        "entry {} ({topic:?}) must be `*` or a topic name of [A-Za-z0-9_-]",
                        i + 1
                    ),
                ));
            }
        }
    }
}

/// `Ok` when `value` is a subject token of 1..=[`MAX_SUBJECT_TOKEN_LEN`]
/// characters of `[A-Za-z0-9_-]`: no `.` (it would split the subject), no
/// `*` or `>` (wildcards), no space.
fn check_token(value: &str) -> Result<(), String> {
    let len = value.chars().count();
    if !(1..=MAX_SUBJECT_TOKEN_LEN).contains(&len) {
        return Err(format!(
            "must be 1..={MAX_SUBJECT_TOKEN_LEN} characters, found {len}"
        ));
    }
    match value.chars().find(|c| !is_token_char(*c)) {
        None => Ok(()),
        Some(c) => Err(format!(
            "{value:?} has {c:?}: only letters, digits, `_` and `-` (a NATS subject token)"
        )),
    }
}

/// `Ok` when every comma-separated entry of `url` is a NATS server
/// address: `nats://`, `tls://`, `ws://` or `wss://` and a host (user,
/// port and path optional), or a bare `host:port`. Entries are named by
/// position, never quoted.
fn check_url(url: &str) -> Result<(), String> {
    if url.trim().is_empty() {
        return Err("must not be empty (leave it out to turn the bridge off)".to_owned());
    }
    let entries: Vec<&str> = url.split(',').collect();
    let several = entries.len() > 1;
    for (i, entry) in entries.iter().enumerate() {
        let which = if several {
            format!("entry {} ", i + 1)
        } else {
            String::new()
        };
        let entry = entry.trim();
        if entry.is_empty() {
            return Err(format!("{which}is empty"));
        }
        if entry.chars().any(char::is_whitespace) {
            return Err(format!("{which}has a space in it"));
        }
        let bare = match entry.split_once("://") {
            Some((scheme, rest)) => {
                if !NATS_SCHEMES.iter().any(|s| s.eq_ignore_ascii_case(scheme)) {
                    return Err(format!(
                        "{which}has scheme {scheme:?}: expected nats://, tls://, ws://, wss:// or a bare host:port"
                    ));
                }
                // The authority: before any path, query or fragment, after
                // any `user:password@`.
                let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
                let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
                check_host_port(host_port, false)
            }
            None => check_host_port(entry, true),
        };
        bare.map_err(|message| format!("{which}{message}"))?;
    }
    Ok(())
}

/// `host[:port]`, or `[v6]:port`; the port is required when `port_required`
/// (a bare entry).
fn check_host_port(host_port: &str, port_required: bool) -> Result<(), String> {
    let (host, port) = if let Some(v6) = host_port.strip_prefix('[') {
        match v6.split_once(']') {
            Some((host, "")) => (host, None),
            Some((host, rest)) => match rest.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return Err("has text after the IPv6 address".to_owned()),
            },
            None => return Err("has an unclosed `[`".to_owned()),
        }
    } else {
        match host_port.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        return Err("has no host".to_owned());
    }
    match port {
        Some(port) if port.parse::<u16>().is_err() => {
            Err("has a port that is not a number 0..=65535".to_owned())
        }
        None if port_required => {
            Err("is neither a URL (nats://, tls://, ws://, wss://) nor a bare host:port".to_owned())
        }
        _ => Ok(()),
    }
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

    /// The problems of `[bridge]` alone, as `(path, message)`.
    fn bridge_problems(edit: impl FnOnce(&mut BridgeConfig)) -> Vec<(String, String)> {
        let mut config = Config::default();
        edit(&mut config.bridge);
        validate(&config)
            .into_iter()
            .map(|p| (p.path, p.message))
            .collect()
    }

    fn url_problem(url: &str) -> Option<String> {
        let problems = bridge_problems(|b| b.url = Some(url.to_owned()));
        assert!(problems.len() <= 1, "{problems:?}");
        problems.into_iter().next().map(|(path, message)| {
            assert_eq!(path, "bridge.url");
            message
        })
    }

    #[test]
    fn bridge_urls_of_every_nats_scheme_and_bare_host_ports_are_valid() {
        for url in [
            "nats://127.0.0.1:4222",
            "nats://localhost",
            "tls://nats.example.com:4443",
            "ws://127.0.0.1:8080/nats",
            "wss://user:secret@nats.example.com",
            "NATS://127.0.0.1:4222",
            "nats://[::1]:4222",
            "127.0.0.1:4222",
            "[::1]:4222",
            "nats-0.nats:4222",
            "nats://a:4222, nats://b:4222,c:4222",
        ] {
            assert_eq!(url_problem(url), None, "{url}");
        }
    }

    #[test]
    fn a_bad_bridge_url_is_named_without_quoting_it() {
        let bad_scheme = url_problem("http://user:secret@127.0.0.1:4222").unwrap();
        assert!(bad_scheme.contains("\"http\""), "{bad_scheme}");
        assert!(!bad_scheme.contains("secret"), "{bad_scheme}");
        let empty = url_problem("").unwrap();
        assert!(empty.contains("must not be empty"), "{empty}");
        assert!(url_problem("   ").unwrap().contains("must not be empty"));
        let second = url_problem("nats://a:4222,redis://b:6379").unwrap();
        assert!(
            second.starts_with("entry 2 has scheme \"redis\""),
            "{second}"
        );
        assert!(
            url_problem("nats://a:4222,")
                .unwrap()
                .starts_with("entry 2 is empty")
        );
        for (url, says) in [
            ("localhost", "nor a bare host:port"),
            ("127.0.0.1:port", "port that is not a number"),
            ("127.0.0.1:65536", "port that is not a number"),
            ("nats://", "has no host"),
            ("nats://user@:4222", "has no host"),
            (":4222", "has no host"),
            ("nats://[::1", "unclosed"),
            ("nats://[::1]x", "after the IPv6"),
            ("nats://a b:4222", "space"),
        ] {
            let message = url_problem(url).unwrap_or_default();
            assert!(message.contains(says), "{url}: {message}");
        }
    }

    #[test]
    fn bridge_cluster_and_node_must_be_subject_tokens() {
        assert_eq!(
            bridge_problems(|b| {
                b.cluster = "prod_eu-1".into();
                b.node = Some("X".repeat(MAX_SUBJECT_TOKEN_LEN));
            }),
            []
        );
        let dotted = bridge_problems(|b| b.node = Some("web-1.example.com".into()));
        assert_eq!(dotted.len(), 1, "{dotted:?}");
        assert_eq!(dotted[0].0, "bridge.node");
        assert!(dotted[0].1.contains("'.'"), "{dotted:?}");
        let wildcard = bridge_problems(|b| b.cluster = "ron*".into());
        assert_eq!(wildcard.len(), 1, "{wildcard:?}");
        assert_eq!(wildcard[0].0, "bridge.cluster");
        assert!(wildcard[0].1.contains("'*'"), "{wildcard:?}");
        for bad in ["", ">", "a b", &"x".repeat(MAX_SUBJECT_TOKEN_LEN + 1)] {
            let paths: Vec<String> = bridge_problems(|b| {
                b.cluster = bad.to_owned();
                b.node = Some(bad.to_owned());
            })
            .into_iter()
            .map(|(path, _)| path)
            .collect();
            assert_eq!(paths, ["bridge.cluster", "bridge.node"], "{bad:?}");
        }
    }

    #[test]
    fn bridge_topics_are_star_or_topic_names() {
        assert_eq!(
            bridge_problems(|b| {
                b.export = vec!["service_crashed".into(), "config-updated".into()];
                b.import = vec![];
            }),
            []
        );
        let problems = bridge_problems(|b| {
            b.export = vec!["health".into(), "service.crashed".into()];
            b.import = vec!["*".into(), "".into(), "he*".into()];
        });
        let paths: Vec<&str> = problems.iter().map(|(path, _)| path.as_str()).collect();
        assert_eq!(paths, ["bridge.export", "bridge.import", "bridge.import"]);
        assert!(
            problems[0].1.starts_with("entry 2 (\"service.crashed\")"),
            "{problems:?}"
        );
        assert!(problems[1].1.starts_with("entry 2 (\"\")"), "{problems:?}");
        assert!(
            problems[2].1.starts_with("entry 3 (\"he*\")"),
            "{problems:?}"
        );
    }

    #[test]
    fn bridge_problems_come_after_the_others_in_field_order() {
        let mut config = Config::default();
        config.version = 0;
        config.bridge.url = Some("http://x".into());
        config.bridge.cluster = "a.b".into();
        config.bridge.node = Some("".into());
        config.bridge.export = vec![">".into()];
        config.bridge.import = vec!["a b".into()];
        let paths: Vec<String> = validate(&config).into_iter().map(|p| p.path).collect();
        assert_eq!(
            paths,
            [
                "version",
                "bridge.url",
                "bridge.cluster",
                "bridge.node",
                "bridge.export",
                "bridge.import",
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
