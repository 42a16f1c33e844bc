//! What the providers' unit tests share.

use std::fmt::{Debug, Display};

use reqwest::StatusCode;
use serde::de::DeserializeOwned;

/// `value` read as a service's JSON type (a test's fixture).
pub fn from_json<T: DeserializeOwned>(value: serde_json::Value) -> T {
    serde_json::from_value(value).unwrap()
}

/// One case of a provider's error classifier: the status and body a
/// service answered about a request of `scope`, and whether the error it
/// makes is the one that case means.
pub type Named<S, E> = (u16, &'static str, S, fn(&E) -> bool);

/// Asserts that `classify` names each case as it means, and that no
/// message carries `secret` (the token the test's API holds).
pub fn assert_named<S: Debug + Copy, E: Display>(
    classify: impl Fn(StatusCode, &str, S) -> E,
    cases: &[Named<S, E>],
    secret: &str,
) {
    for &(status, body, scope, named) in cases {
        let e = classify(StatusCode::from_u16(status).unwrap(), body, scope);
        assert!(named(&e), "{status} {scope:?}: {e}");
        assert!(!e.to_string().contains(secret), "{e}");
    }
}

/// Asserts each `(text, name)` example of a name codec: `encode` makes
/// `name` of `text`, and `decode` gives `text` back.
pub fn assert_codec(
    encode: impl Fn(&str) -> String,
    decode: impl Fn(&str) -> Option<String>,
    examples: &[(&str, &str)],
) {
    for &(text, name) in examples {
        assert_eq!(encode(text), name, "{text}");
        assert_eq!(decode(name).as_deref(), Some(text), "{name}");
    }
}

/// Asserts that `parse` claims none of `urls`.
pub fn assert_unclaimed<T: Debug>(parse: impl Fn(&str) -> Option<T>, urls: &[&str]) {
    for url in urls {
        if let Some(claimed) = parse(url) {
            panic!("{url} is claimed as {claimed:?}");
        }
    }
}

/// Asserts that `decode` refuses each of `names` (none made by the codec).
pub fn assert_refused(decode: impl Fn(&str) -> Option<String>, names: &[&str]) {
    for name in names {
        assert_eq!(decode(name), None, "{name}");
    }
}

/// `text` encoded, asserted to decode back to `text` (a codec's round
/// trip, for property tests).
pub fn round_trip(
    encode: impl Fn(&str) -> String,
    decode: impl Fn(&str) -> Option<String>,
    text: &str,
) -> String {
    let name = encode(text);
    assert_eq!(decode(&name).as_deref(), Some(text), "{name}");
    name
}
