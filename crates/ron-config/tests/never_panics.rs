//! Whatever text, TOML values or environment values come in, loading never
//! panics, and every rejection says where: a line and column, a field path
//! or an environment variable.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use proptest::prelude::*;
use ron_config::{ConfigError, ENV_KEYS, Env, Loader, parse, validate};

/// Checks that `error` locates its problem.
fn assert_located(error: &ConfigError, text: &str) {
    match error {
        ConfigError::Parse {
            line,
            column,
            source,
            ..
        } => {
            assert!(
                *line >= 1 && *line <= text.lines().count().max(1) + 1,
                "line {line} in {text:?}"
            );
            assert!(*column >= 1, "column {column}");
            assert!(!source.message().is_empty());
        }
        ConfigError::Invalid { problems } => {
            assert!(!problems.is_empty());
            for problem in problems {
                assert!(
                    !problem.path.is_empty() && !problem.message.is_empty(),
                    "{problem:?}"
                );
            }
        }
        other => panic!("unexpected error kind: {other:?}"),
    }
}

fn check_text(text: &str) {
    match parse(text, Path::new("prop.toml")) {
        Ok(config) => {
            let problems = validate(&config);
            if !problems.is_empty() {
                assert_located(&ConfigError::Invalid { problems }, text);
            }
        }
        Err(error) => assert_located(&error, text),
    }
}

/// TOML values of every kind, nested a little.
fn toml_value() -> impl Strategy<Value = toml::Value> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(toml::Value::Integer),
        any::<bool>().prop_map(toml::Value::Boolean),
        "[ -~]{0,24}".prop_map(toml::Value::String),
        (-1e9f64..1e9).prop_map(toml::Value::Float),
        Just(toml::Value::String("127.0.0.1:9600".into())),
        prop::sample::select(vec!["nats://127.0.0.1:4222", "*", "web-1", "[::1"])
            .prop_map(|s| toml::Value::String(s.into())),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(toml::Value::Array),
            prop::collection::btree_map(key(), inner, 0..5)
                .prop_map(|m| toml::Value::Table(m.into_iter().collect())),
        ]
    })
}

/// Real field names most of the time, so the values get type-checked deep
/// inside the config; made-up ones otherwise.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "version",
            "amnesia",
            "metrics",
            "addr",
            "bus",
            "capacity",
            "expected_subscribers",
            "supervisor",
            "max_restarts",
            "window_ms",
            "backoff_base_ms",
            "backoff_cap_ms",
            "reset_after_ms",
            "bridge",
            "url",
            "cluster",
            "node",
            "export",
            "import",
            "required",
        ])
        .prop_map(str::to_owned),
        "[a-z_]{1,12}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics_and_errors_are_located(text in "\\PC{0,200}") {
        check_text(&text);
    }

    #[test]
    fn toml_like_text_never_panics_and_errors_are_located(text in "[\\[\\]a-z_=\"0-9 .:\n#-]{0,160}") {
        check_text(&text);
    }

    #[test]
    fn arbitrary_toml_values_never_panic_and_errors_are_located(
        table in prop::collection::btree_map(key(), toml_value(), 0..6)
    ) {
        let table: toml::Table = table.into_iter().collect();
        let text = toml::to_string(&table).unwrap();
        check_text(&text);
    }

    #[test]
    fn arbitrary_environment_values_never_panic_and_name_their_variable(
        values in prop::collection::vec(("\\PC{0,16}", any::<bool>()), ENV_KEYS.len())
    ) {
        let pairs: Vec<(String, String)> = ENV_KEYS
            .iter()
            .zip(values)
            .filter(|(_, (_, set))| *set)
            .map(|((key, _), (value, _))| ((*key).to_owned(), value))
            .collect();
        let lookup = pairs.clone();
        let loader = Loader::new(None).env(Env::from_fn(move |k| lookup.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone())));
        match loader.load() {
            Ok(_) => {}
            Err(ConfigError::Invalid { problems }) => {
                for problem in &problems {
                    let named = problem.path.starts_with("env RON_") || !problem.path.starts_with("env");
                    prop_assert!(named, "{problem:?}");
                }
            }
            Err(other) => prop_assert!(false, "{other:?}"),
        }
    }
}
