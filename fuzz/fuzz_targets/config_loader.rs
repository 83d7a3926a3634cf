//! TOML text → parsed and validated config: never a panic, and every
//! rejection says where (line/column or field paths).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use ron_config::{ConfigError, parse, validate};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match parse(text, Path::new("fuzz.toml")) {
        Ok(config) => {
            for problem in validate(&config) {
                assert!(!problem.path.is_empty() && !problem.message.is_empty());
            }
        }
        Err(ConfigError::Parse { line, column, .. }) => assert!(line >= 1 && column >= 1),
        Err(other) => panic!("parse returned {other:?}"),
    }
});
