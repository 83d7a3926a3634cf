//! [`Config`]: the typed configuration and its documented defaults.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The whole configuration of a ron-kernel service.
///
/// Every field has a default, so a file of comments only is a valid
/// configuration (an empty file is refused by the [`Loader`](crate::Loader):
/// it is what a truncating writer leaves behind); unknown fields are errors (a typo never goes unnoticed). Construct with
/// [`Config::default`] and set fields, or load with
/// [`Loader`](crate::Loader).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct Config {
    /// Version of this configuration (default 1). A reload whose content
    /// changed gets `max(file version, previous version + 1)`, so versions
    /// only grow.
    pub version: u64,
    /// Amnesia mode: keep no persistent state (default `false`). Exported
    /// as the `amnesia_mode` gauge.
    pub amnesia: bool,
    /// The metrics and health HTTP server.
    pub metrics: MetricsConfig,
    /// The kernel bus.
    pub bus: BusConfig,
    /// Restart limits of the kernel's supervisor.
    pub supervisor: SupervisorConfig,
    /// Carrying bus events between kernels over NATS (off by default).
    pub bridge: BridgeConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            version: 1,
            amnesia: false,
            metrics: MetricsConfig::default(),
            bus: BusConfig::default(),
            supervisor: SupervisorConfig::default(),
            bridge: BridgeConfig::default(),
        }
    }
}

/// `[metrics]`: where `/metrics`, `/healthz` and `/readyz` are served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct MetricsConfig {
    /// Listen address (default `127.0.0.1:9600`; port 0 picks a free port).
    pub addr: SocketAddr,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 9600)),
        }
    }
}

/// `[bus]`: the kernel bus's ring.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct BusConfig {
    /// Ring capacity in messages, `1..=1048576` (rounded up to a power of
    /// two by the bus). Absent (the default): autotuned from
    /// `expected_subscribers`.
    pub capacity: Option<usize>,
    /// Subscribers the autotune plans for, `1..=65536` (default 4).
    pub expected_subscribers: usize,
}

impl Default for BusConfig {
    fn default() -> Self {
        Self {
            capacity: None,
            expected_subscribers: 4,
        }
    }
}

/// `[supervisor]`: restart intensity and backoff (see `ron-supervisor`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct SupervisorConfig {
    /// At most this many restarts... (default 3)
    pub max_restarts: u32,
    /// ...within this many milliseconds, `>= 1` (default 5000).
    pub window_ms: u64,
    /// First restart delay in milliseconds, `>= 1` (default 100).
    pub backoff_base_ms: u64,
    /// Longest restart delay in milliseconds, `backoff_base_ms..=86400000`
    /// (default 30000).
    pub backoff_cap_ms: u64,
    /// A run this long (milliseconds, `>= 1`) resets the backoff (default 10000).
    pub reset_after_ms: u64,
}

impl Default for SupervisorConfig {
    fn default() -> Self {
        Self {
            max_restarts: 3,
            window_ms: 5_000,
            backoff_base_ms: 100,
            backoff_cap_ms: 30_000,
            reset_after_ms: 10_000,
        }
    }
}

impl SupervisorConfig {
    /// `window_ms` as a duration.
    pub fn window(&self) -> Duration {
        Duration::from_millis(self.window_ms)
    }

    /// `backoff_base_ms` as a duration.
    pub fn backoff_base(&self) -> Duration {
        Duration::from_millis(self.backoff_base_ms)
    }

    /// `backoff_cap_ms` as a duration.
    pub fn backoff_cap(&self) -> Duration {
        Duration::from_millis(self.backoff_cap_ms)
    }

    /// `reset_after_ms` as a duration.
    pub fn reset_after(&self) -> Duration {
        Duration::from_millis(self.reset_after_ms)
    }
}

/// `[bridge]`: carrying bus events between kernels over NATS. Off while
/// `url` is absent (the default). Read at start-up.
///
/// Events are published on, and received from, subjects
/// `ron.<cluster>.<node>.<topic>`, so `cluster` and the node name are NATS
/// subject tokens: `[A-Za-z0-9_-]`, 1 to
/// [`MAX_SUBJECT_TOKEN_LEN`](crate::MAX_SUBJECT_TOKEN_LEN) characters
/// ([`validate`](crate::validate) says so for each field).
///
/// ```
/// use ron_config::{BridgeConfig, Config};
///
/// let config: Config = toml::from_str(
///     "[bridge]\nurl = \"nats://127.0.0.1:4222\"\nnode = \"edge-1\"\nexport = [\"service_crashed\"]\n",
/// )?;
/// assert!(config.bridge.enabled());
/// assert_eq!(config.bridge.node_name(), "edge-1");
/// assert_eq!(config.bridge.cluster, "ron");
/// assert_eq!(config.bridge.import, ["*"]);
/// assert!(!BridgeConfig::default().enabled());
/// # Ok::<(), toml::de::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct BridgeConfig {
    /// The NATS server, e.g. `nats://127.0.0.1:4222`: `nats://`, `tls://`,
    /// `ws://` or `wss://` URLs or bare `host:port`, several separated by
    /// commas (the bridge splits them). Absent (the default): the bridge is
    /// off.
    pub url: Option<String>,
    /// The fleet's name, the second token of every subject (default `ron`):
    /// kernels bridge only with kernels of the same cluster.
    pub cluster: String,
    /// This kernel's name, the third token of its subjects. Absent (the
    /// default): the host name, see [`node_name`](Self::node_name).
    pub node: Option<String>,
    /// Topic names exported to the other nodes, `*` for every topic
    /// (default `["*"]`; empty: nothing is exported).
    pub export: Vec<String>,
    /// Topic names imported from the other nodes, `*` for every topic
    /// (default `["*"]`; empty: nothing is imported).
    pub import: Vec<String>,
    /// `true`: `/readyz` waits for the NATS connection; `false` (the
    /// default): the kernel is ready without it and the bridge keeps
    /// trying in the background.
    pub required: bool,
}

impl Default for BridgeConfig {
    fn default() -> Self {
        Self {
            url: None,
            cluster: "ron".to_owned(),
            node: None,
            export: vec!["*".to_owned()],
            import: vec!["*".to_owned()],
            required: false,
        }
    }
}

impl BridgeConfig {
    /// Whether the bridge runs: `url` is set.
    pub fn enabled(&self) -> bool {
        self.url.is_some()
    }

    /// This node's name in subjects: `node` when set, else the host name
    /// (`/proc/sys/kernel/hostname`, else the `HOSTNAME` variable, else
    /// `node`), as a subject token: every character outside
    /// `[A-Za-z0-9_-]` (a `.` of a domain name, for one) becomes `-`, and
    /// the name is cut to
    /// [`MAX_SUBJECT_TOKEN_LEN`](crate::MAX_SUBJECT_TOKEN_LEN) characters.
    ///
    /// A `node` that [`validate`](crate::validate) accepts is returned as
    /// it is; the host name is read on every call.
    pub fn node_name(&self) -> String {
        match &self.node {
            Some(node) => subject_token(node),
            None => subject_token(&host_name(
                std::fs::read_to_string("/proc/sys/kernel/hostname").ok(),
                std::env::var("HOSTNAME").ok(),
            )),
        }
    }
}

/// The first non-blank of the kernel's host name and `$HOSTNAME`, else
/// `node`.
fn host_name(proc_hostname: Option<String>, env_hostname: Option<String>) -> String {
    [proc_hostname, env_hostname]
        .into_iter()
        .flatten()
        .map(|name| name.trim().to_owned())
        .find(|name| !name.is_empty())
        .unwrap_or_else(|| "node".to_owned())
}

/// `raw` made a subject token: trimmed, each character outside
/// `[A-Za-z0-9_-]` replaced by `-` (a `.` would split the subject, `*`/`>`
/// are wildcards, a space ends it), cut to the token limit; `node` when
/// nothing is left.
fn subject_token(raw: &str) -> String {
    let token: String = raw
        .trim()
        .chars()
        .take(crate::validate::MAX_SUBJECT_TOKEN_LEN)
        .map(|c| if is_token_char(c) { c } else { '-' })
        .collect();
    if token.is_empty() {
        "node".to_owned()
    } else {
        token
    }
}

/// A character of a subject token as ron-kernel writes them.
pub(crate) fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bridge_is_off_by_default_with_documented_defaults() {
        let bridge = Config::default().bridge;
        assert!(!bridge.enabled());
        assert_eq!(bridge.url, None);
        assert_eq!(bridge.cluster, "ron");
        assert_eq!(bridge.node, None);
        assert_eq!(bridge.export, ["*"]);
        assert_eq!(bridge.import, ["*"]);
        assert!(!bridge.required);
        let on = BridgeConfig {
            url: Some("nats://127.0.0.1:4222".into()),
            ..BridgeConfig::default()
        };
        assert!(on.enabled());
    }

    #[test]
    fn host_names_become_subject_tokens() {
        assert_eq!(subject_token("web-1"), "web-1");
        assert_eq!(subject_token("web-1.example.com\n"), "web-1-example-com");
        assert_eq!(subject_token("a b*c>d"), "a-b-c-d");
        assert_eq!(subject_token("héte"), "h-te");
        assert_eq!(subject_token("  "), "node");
        let long = "x".repeat(100);
        assert_eq!(
            subject_token(&long).len(),
            crate::validate::MAX_SUBJECT_TOKEN_LEN
        );
    }

    #[test]
    fn the_host_name_falls_back_to_hostname_then_node() {
        let s = |v: &str| Some(v.to_owned());
        assert_eq!(host_name(s("kernel-host\n"), s("env-host")), "kernel-host");
        assert_eq!(host_name(None, s("env-host")), "env-host");
        assert_eq!(host_name(s("\n"), s(" env-host ")), "env-host");
        assert_eq!(host_name(None, s("")), "node");
        assert_eq!(host_name(None, None), "node");
    }

    #[test]
    fn node_name_is_the_set_node_or_a_token_of_this_host() {
        let named = BridgeConfig {
            node: Some("edge-7".into()),
            ..BridgeConfig::default()
        };
        assert_eq!(named.node_name(), "edge-7");
        let host = BridgeConfig::default().node_name();
        assert!(!host.is_empty() && host.len() <= crate::validate::MAX_SUBJECT_TOKEN_LEN);
        assert!(host.chars().all(is_token_char), "{host:?}");
        // This host's name, as the kernel reports it, is the source when it
        // has one.
        if let Ok(kernel) = std::fs::read_to_string("/proc/sys/kernel/hostname")
            && !kernel.trim().is_empty()
        {
            assert_eq!(host, subject_token(&kernel));
        }
    }
}
