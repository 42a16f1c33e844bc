//! BIDS file and folder names (`annexa::bids::parse_name`):
//! - parsing never panics on any text;
//! - the extension is the name from its first dot, entities and suffix
//!   come from before it, and no part holds a separator it was split on;
//! - a parsed name, written back as `key-value_..._suffix.ext`, parses to
//!   the same thing (the round trip of what was understood);
//! - `glob_match` of a name against itself as a pattern never panics.

#![no_main]

use annexa::bids::{glob_match, parse_name, BidsName};
use libfuzzer_sys::fuzz_target;

fn written(name: &BidsName) -> String {
    let mut parts: Vec<String> = name
        .entities
        .iter()
        .map(|(k, v)| format!("{k}-{v}"))
        .collect();
    parts.extend(name.suffix.clone());
    parts.join("_") + &name.extension
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for name in text.split('/') {
        let parsed = parse_name(name);
        match name.find('.') {
            Some(i) => assert_eq!(parsed.extension, &name[i..], "{name:?}"),
            None => assert!(parsed.extension.is_empty(), "{name:?}"),
        }
        for (key, value) in &parsed.entities {
            assert!(!key.is_empty() && !value.is_empty(), "{name:?}: {parsed:?}");
            assert!(!key.contains(['-', '_', '.']), "{name:?}: {parsed:?}");
            assert!(!value.contains(['_', '.']), "{name:?}: {parsed:?}");
            assert!(parsed.entity(key).is_some());
        }
        if let Some(suffix) = &parsed.suffix {
            assert!(
                !suffix.is_empty() && !suffix.contains(['-', '_', '.']),
                "{name:?}"
            );
        }
        let again = written(&parsed);
        assert_eq!(parse_name(&again), parsed, "{name:?} -> {again:?}");
        let _ = glob_match(name, name);
        let _ = glob_match(&text, name);
    }
});
