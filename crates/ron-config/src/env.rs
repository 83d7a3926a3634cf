//! The environment as a configuration source: the `RON_*` keys.

use std::fmt;
use std::sync::Arc;

use crate::model::Config;
use crate::validate::Problem;

/// The path of the configuration file.
pub const RON_CONFIG: &str = "RON_CONFIG";

/// Every `RON_*` key that sets a field, with the type it expects. `RON_CONFIG`
/// (the file's path) is read by the [`Loader`](crate::Loader) itself.
pub const ENV_KEYS: [(&str, &str); 15] = [
    (
        "RON_AMNESIA",
        "bool: 1/0, true/false, on/off, yes/no → amnesia",
    ),
    (
        "RON_METRICS_ADDR",
        "socket address, e.g. 127.0.0.1:9600 → metrics.addr",
    ),
    ("RON_BUS_CAPACITY", "integer, or `auto` → bus.capacity"),
    (
        "RON_BUS_EXPECTED_SUBSCRIBERS",
        "integer → bus.expected_subscribers",
    ),
    (
        "RON_SUPERVISOR_MAX_RESTARTS",
        "integer → supervisor.max_restarts",
    ),
    ("RON_SUPERVISOR_WINDOW_MS", "integer → supervisor.window_ms"),
    (
        "RON_SUPERVISOR_BACKOFF_BASE_MS",
        "integer → supervisor.backoff_base_ms",
    ),
    (
        "RON_SUPERVISOR_BACKOFF_CAP_MS",
        "integer → supervisor.backoff_cap_ms",
    ),
    (
        "RON_SUPERVISOR_RESET_AFTER_MS",
        "integer → supervisor.reset_after_ms",
    ),
    (
        "RON_BRIDGE_URL",
        "NATS URL(s), comma-separated, e.g. nats://127.0.0.1:4222; empty: bridge off → bridge.url",
    ),
    ("RON_BRIDGE_CLUSTER", "subject token → bridge.cluster"),
    (
        "RON_BRIDGE_NODE",
        "subject token; empty: the host name → bridge.node",
    ),
    (
        "RON_BRIDGE_EXPORT",
        "topic names, comma-separated, `*` for all; empty: none → bridge.export",
    ),
    (
        "RON_BRIDGE_IMPORT",
        "topic names, comma-separated, `*` for all; empty: none → bridge.import",
    ),
    (
        "RON_BRIDGE_REQUIRED",
        "bool: 1/0, true/false, on/off, yes/no → bridge.required",
    ),
];

/// A variable lookup: the value of a key, `None` when unset.
type Lookup = dyn Fn(&str) -> Option<String> + Send + Sync;

/// Where environment values come from: the process environment, or (for
/// tests and embedding) any lookup function.
#[derive(Clone)]
pub struct Env(Arc<Lookup>);

impl Env {
    /// The process environment. A value that is not UTF-8 is passed on
    /// lossily, so it fails to parse (an error) rather than vanishing.
    pub fn process() -> Self {
        Self::from_fn(|key| std::env::var_os(key).map(|v| v.to_string_lossy().into_owned()))
    }

    /// Any lookup: `f(key)` is the variable's value, `None` when unset.
    pub fn from_fn(f: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }

    /// The value of `key`, `None` when unset.
    pub fn get(&self, key: &str) -> Option<String> {
        (self.0)(key)
    }

    /// The values of `RON_CONFIG` and every [`ENV_KEYS`] key, to tell when
    /// any changed.
    pub(crate) fn snapshot(&self) -> Vec<Option<String>> {
        std::iter::once(RON_CONFIG)
            .chain(ENV_KEYS.iter().map(|(key, _)| *key))
            .map(|key| self.get(key))
            .collect()
    }
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Env(..)")
    }
}

/// Applies every set `RON_*` key to `config`; a value that does not parse
/// is a problem (never ignored), reported with the key's name.
pub(crate) fn overlay(config: &mut Config, env: &Env, problems: &mut Vec<Problem>) {
    let mut set = |key: &str, apply: &mut dyn FnMut(&str) -> Result<(), String>| {
        if let Some(value) = env.get(key)
            && let Err(expected) = apply(value.trim())
        {
            problems.push(Problem::new(
                format!("env {key}"),
                format!("{value:?} is not {expected}"),
            ));
        }
    };
    set("RON_AMNESIA", &mut |v| {
        parse_bool(v).map(|b| config.amnesia = b)
    });
    set("RON_METRICS_ADDR", &mut |v| {
        v.parse()
            .map(|a| config.metrics.addr = a)
            .map_err(|_| "a socket address such as 127.0.0.1:9600".into())
    });
    set("RON_BUS_CAPACITY", &mut |v| {
        if v.eq_ignore_ascii_case("auto") {
            config.bus.capacity = None;
            Ok(())
        } else {
            v.parse()
                .map(|c| config.bus.capacity = Some(c))
                .map_err(|_| "an integer or `auto`".into())
        }
    });
    set("RON_BUS_EXPECTED_SUBSCRIBERS", &mut |v| {
        number(v).map(|n| config.bus.expected_subscribers = n)
    });
    set("RON_SUPERVISOR_MAX_RESTARTS", &mut |v| {
        number(v).map(|n| config.supervisor.max_restarts = n)
    });
    set("RON_SUPERVISOR_WINDOW_MS", &mut |v| {
        number(v).map(|n| config.supervisor.window_ms = n)
    });
    set("RON_SUPERVISOR_BACKOFF_BASE_MS", &mut |v| {
        number(v).map(|n| config.supervisor.backoff_base_ms = n)
    });
    set("RON_SUPERVISOR_BACKOFF_CAP_MS", &mut |v| {
        number(v).map(|n| config.supervisor.backoff_cap_ms = n)
    });
    set("RON_SUPERVISOR_RESET_AFTER_MS", &mut |v| {
        number(v).map(|n| config.supervisor.reset_after_ms = n)
    });
    // The bridge's strings are taken as they are (trimmed) and checked by
    // `validate`, which names the field; only emptiness means something
    // here.
    set("RON_BRIDGE_URL", &mut |v| {
        // Empty turns the bridge off, even when the file turns it on: the
        // one way to switch it off from the environment.
        config.bridge.url = (!v.is_empty()).then(|| v.to_owned());
        Ok(())
    });
    set("RON_BRIDGE_CLUSTER", &mut |v| {
        config.bridge.cluster = v.to_owned();
        Ok(())
    });
    set("RON_BRIDGE_NODE", &mut |v| {
        // Empty: back to the host name (as when unset in the file).
        config.bridge.node = (!v.is_empty()).then(|| v.to_owned());
        Ok(())
    });
    set("RON_BRIDGE_EXPORT", &mut |v| {
        config.bridge.export = list(v);
        Ok(())
    });
    set("RON_BRIDGE_IMPORT", &mut |v| {
        config.bridge.import = list(v);
        Ok(())
    });
    set("RON_BRIDGE_REQUIRED", &mut |v| {
        parse_bool(v).map(|b| config.bridge.required = b)
    });
}

/// A comma-separated list, each entry trimmed; empty for an empty value.
/// An empty entry (`a,,b`) is kept, so `validate` reports it rather than
/// a typo vanishing.
fn list(value: &str) -> Vec<String> {
    if value.is_empty() {
        return Vec::new();
    }
    value.split(',').map(|s| s.trim().to_owned()).collect()
}

fn parse_bool(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "on" | "yes" => Ok(true),
        "0" | "false" | "off" | "no" => Ok(false),
        _ => Err("a boolean (1/0, true/false, on/off, yes/no)".into()),
    }
}

fn number<N: std::str::FromStr>(value: &str) -> Result<N, String> {
    value.parse().map_err(|_| {
        format!(
            "a non-negative integer in range for {}",
            std::any::type_name::<N>()
        )
    })
}
