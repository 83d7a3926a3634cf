//! `[bridge]`: its file form (a full example, the defaults, a round trip,
//! unknown keys refused) and every `RON_BRIDGE_*` variable through the
//! [`Loader`], as a service loads them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use ron_config::{BridgeConfig, Config, ConfigError, Env, Loader, parse};

/// A loader with no file and exactly `pairs` as its environment.
fn env_loader(pairs: &[(&str, &str)]) -> Loader {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Loader::new(None).env(Env::from_fn(move |key| {
        pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    }))
}

fn load_env(pairs: &[(&str, &str)]) -> BridgeConfig {
    env_loader(pairs).load().unwrap().bridge
}

fn invalid_paths(result: Result<Config, ConfigError>) -> Vec<String> {
    match result {
        Err(ConfigError::Invalid { problems }) => problems.into_iter().map(|p| p.path).collect(),
        other => panic!("expected invalid, got {other:?}"),
    }
}

const FULL: &str = r#"
[bridge]
url = "nats://10.0.0.5:4222,nats://10.0.0.6:4222"
cluster = "prod-eu"
node = "web-1"
export = ["service_crashed", "health"]
import = ["*"]
required = true
"#;

#[test]
fn a_full_bridge_section_parses_and_validates() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ron-kernel.toml");
    std::fs::write(&path, FULL).unwrap();
    let config = Loader::new(Some(path))
        .env(Env::from_fn(|_| None))
        .load()
        .unwrap();
    let bridge = &config.bridge;
    assert!(bridge.enabled());
    assert_eq!(
        bridge.url.as_deref(),
        Some("nats://10.0.0.5:4222,nats://10.0.0.6:4222")
    );
    assert_eq!(bridge.cluster, "prod-eu");
    assert_eq!(bridge.node.as_deref(), Some("web-1"));
    assert_eq!(bridge.node_name(), "web-1");
    assert_eq!(bridge.export, ["service_crashed", "health"]);
    assert_eq!(bridge.import, ["*"]);
    assert!(bridge.required);
    // The rest stays at its defaults.
    assert_eq!(config.bus, Config::default().bus);
}

#[test]
fn an_absent_or_partial_bridge_section_takes_the_defaults() {
    let absent = parse("version = 2\n", Path::new("x.toml")).unwrap();
    assert_eq!(absent.bridge, BridgeConfig::default());
    assert!(!absent.bridge.enabled());
    let partial = parse("[bridge]\nurl = \"127.0.0.1:4222\"\n", Path::new("x.toml")).unwrap();
    assert!(partial.bridge.enabled());
    assert_eq!(partial.bridge.cluster, "ron");
    assert_eq!(partial.bridge.node, None);
    assert_eq!(partial.bridge.export, ["*"]);
    assert_eq!(partial.bridge.import, ["*"]);
    assert!(!partial.bridge.required);
}

#[test]
fn the_bridge_section_round_trips_through_toml() {
    for bridge in [
        BridgeConfig::default(),
        parse(FULL, Path::new("x.toml")).unwrap().bridge,
    ] {
        let mut config = Config::default();
        config.bridge = bridge;
        let text = toml::to_string(&config).unwrap();
        assert!(text.contains("[bridge]"), "{text}");
        assert_eq!(parse(&text, Path::new("x.toml")).unwrap(), config, "{text}");
    }
}

#[test]
fn an_unknown_bridge_key_is_a_parse_error_at_its_line() {
    let error = parse(
        "[bridge]\nurl = \"nats://127.0.0.1:4222\"\nclsuter = \"ron\"\n",
        Path::new("x.toml"),
    )
    .unwrap_err();
    let ConfigError::Parse {
        line,
        column,
        source,
        ..
    } = error
    else {
        panic!("{error:?}")
    };
    assert_eq!((line, column), (3, 1));
    assert!(source.message().contains("clsuter"), "{}", source.message());
    // A wrong type is refused too, not coerced.
    assert!(matches!(
        parse("[bridge]\nexport = \"health\"\n", Path::new("x.toml")),
        Err(ConfigError::Parse { line: 2, .. })
    ));
}

#[test]
fn ron_bridge_url_turns_the_bridge_on_and_empty_turns_it_off() {
    let on = load_env(&[("RON_BRIDGE_URL", " nats://127.0.0.1:4222 ")]);
    assert!(on.enabled());
    assert_eq!(on.url.as_deref(), Some("nats://127.0.0.1:4222"));

    // Empty overrides a file that turns the bridge on.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ron-kernel.toml");
    std::fs::write(&path, FULL).unwrap();
    let loader = |value: &'static str| {
        Loader::new(Some(path.clone())).env(Env::from_fn(move |key| {
            (key == "RON_BRIDGE_URL").then(|| value.to_owned())
        }))
    };
    let off = loader("").load().unwrap().bridge;
    assert!(!off.enabled());
    assert_eq!(off.url, None);
    assert_eq!(off.cluster, "prod-eu", "the rest of the file stays");
    assert!(!loader("  ").load().unwrap().bridge.enabled());

    assert_eq!(
        invalid_paths(env_loader(&[("RON_BRIDGE_URL", "http://127.0.0.1:4222")]).load()),
        ["bridge.url"]
    );
}

#[test]
fn ron_bridge_cluster_and_node_set_their_fields() {
    let bridge = load_env(&[("RON_BRIDGE_CLUSTER", "staging"), ("RON_BRIDGE_NODE", "b")]);
    assert_eq!(bridge.cluster, "staging");
    assert_eq!(bridge.node.as_deref(), Some("b"));
    assert_eq!(bridge.node_name(), "b");
    // An empty node is the host name again; an empty cluster is a problem.
    assert_eq!(load_env(&[("RON_BRIDGE_NODE", "")]).node, None);
    assert_eq!(
        invalid_paths(
            env_loader(&[
                ("RON_BRIDGE_CLUSTER", ""),
                ("RON_BRIDGE_NODE", "host.example.com"),
            ])
            .load()
        ),
        ["bridge.cluster", "bridge.node"]
    );
}

#[test]
fn ron_bridge_export_and_import_are_comma_separated_lists() {
    let bridge = load_env(&[
        ("RON_BRIDGE_EXPORT", "service_crashed, health"),
        ("RON_BRIDGE_IMPORT", "*"),
    ]);
    assert_eq!(bridge.export, ["service_crashed", "health"]);
    assert_eq!(bridge.import, ["*"]);
    let none = load_env(&[("RON_BRIDGE_EXPORT", ""), ("RON_BRIDGE_IMPORT", " ")]);
    assert!(none.export.is_empty());
    assert!(none.import.is_empty());
    // An empty entry or a dotted name is reported, not dropped.
    assert_eq!(
        invalid_paths(
            env_loader(&[
                ("RON_BRIDGE_EXPORT", "health,,shutdown"),
                ("RON_BRIDGE_IMPORT", "service.crashed"),
            ])
            .load()
        ),
        ["bridge.export", "bridge.import"]
    );
}

#[test]
fn ron_bridge_required_is_a_boolean_named_when_wrong() {
    assert!(load_env(&[("RON_BRIDGE_REQUIRED", "true")]).required);
    assert!(load_env(&[("RON_BRIDGE_REQUIRED", "on")]).required);
    assert!(!load_env(&[("RON_BRIDGE_REQUIRED", "false")]).required);
    let Err(ConfigError::Invalid { problems }) =
        env_loader(&[("RON_BRIDGE_REQUIRED", "sometimes")]).load()
    else {
        panic!("a bad boolean must be refused")
    };
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].path, "env RON_BRIDGE_REQUIRED");
    assert!(
        problems[0].message.contains("\"sometimes\""),
        "{problems:?}"
    );
}

#[test]
fn the_environment_overrides_each_bridge_key_of_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ron-kernel.toml");
    std::fs::write(&path, FULL).unwrap();
    let pairs = [
        ("RON_BRIDGE_URL", "tls://nats.example.com:4443"),
        ("RON_BRIDGE_CLUSTER", "prod-us"),
        ("RON_BRIDGE_NODE", "web-2"),
        ("RON_BRIDGE_EXPORT", "shutdown"),
        ("RON_BRIDGE_IMPORT", "health,config_updated"),
        ("RON_BRIDGE_REQUIRED", "0"),
    ];
    let bridge = Loader::new(Some(path))
        .env(Env::from_fn(move |key| {
            pairs
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| (*v).to_owned())
        }))
        .load()
        .unwrap()
        .bridge;
    assert_eq!(bridge.url.as_deref(), Some("tls://nats.example.com:4443"));
    assert_eq!(bridge.cluster, "prod-us");
    assert_eq!(bridge.node.as_deref(), Some("web-2"));
    assert_eq!(bridge.export, ["shutdown"]);
    assert_eq!(bridge.import, ["health", "config_updated"]);
    assert!(!bridge.required);
}
