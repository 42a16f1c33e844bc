//! Asset names that GitHub keeps as they are.
//!
//! GitHub rewrites asset names: every run of characters outside
//! `[A-Za-z0-9_.-]` (with the dots next to it) becomes one `.`, and names
//! are flat. Keys and export paths are therefore encoded into names made
//! only of `[A-Za-z0-9_.-]`, with no two dots in a row and no dot at either
//! end, which GitHub leaves alone:
//!
//! - letters, digits and `-` stay;
//! - `.` stays unless it starts or ends the name or follows another `.`;
//! - every other byte (UTF-8) is `_XX`, two upper-case hex digits, so `/`
//!   is `_2F` and `_` itself is `_5F`.
//!
//! Decoding is the reverse, so the encoding is injective: two paths never
//! share an asset name. Usual annex keys (`SHA256E-s10--abc.txt`) are
//! their own encoding.

/// The asset name for `text` (a key or an export path).
pub fn encode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    for (i, &b) in bytes.iter().enumerate() {
        let keep = match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' => true,
            b'.' => i > 0 && i + 1 < bytes.len() && bytes[i - 1] != b'.',
            _ => false,
        };
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("_{b:02X}"));
        }
    }
    out
}

/// The text an asset name encodes; `None` for a name [`encode`] cannot
/// have made (an asset someone else uploaded).
pub fn decode(name: &str) -> Option<String> {
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'_' => {
                let hex = name.get(i + 1..i + 3)?;
                if hex.bytes().any(|c| c.is_ascii_lowercase()) {
                    return None;
                }
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    let text = String::from_utf8(out).ok()?;
    (encode(&text) == name).then_some(text)
}

/// What GitHub makes of an asset name (as far as annexa relies on it):
/// each run of characters outside `[A-Za-z0-9_.-]`, with the dots next to
/// it, becomes one `.`. Used to tell whether a name survives.
pub fn survives(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && !name.ends_with('.')
        && !name.contains("..")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testing::{assert_codec, assert_refused, round_trip};
    use proptest::prelude::*;

    #[test]
    fn keys_are_their_own_names() {
        for key in [
            "SHA256E-s300001--0f3a.bin",
            "SHA256-s0--e3b0c44298fc1c149afbf4c8996fb924",
            "MD5E-s10-S5-C1--abc.tar.gz",
        ] {
            assert_eq!(encode(key), key);
            assert_eq!(decode(key).as_deref(), Some(key));
        }
    }

    #[test]
    fn paths_are_encoded() {
        let examples = [
            ("sub-01/a b.txt", "sub-01_2Fa_20b.txt"),
            (".hidden", "_2Ehidden"),
            ("a..b.", "a._2Eb_2E"),
            ("x_y", "x_5Fy"),
            ("a.b.1.zip", "a.b.1.zip"),
        ];
        assert_codec(encode, decode, &examples);
        // Not made by encode: a lower-case escape, a kept leading dot.
        assert_refused(decode, &["x_2f", ".x", "x_2"]);
    }

    proptest! {
        #[test]
        fn round_trip_and_survival(text in "\\PC{0,40}") {
            let name = round_trip(encode, decode, &text);
            prop_assert!(survives(&name) || text.is_empty(), "{name:?}");
        }

        #[test]
        fn no_collisions(a in "[a-z/._ -]{0,12}", b in "[a-z/._ -]{0,12}") {
            if a != b {
                prop_assert_ne!(encode(&a), encode(&b));
            }
        }
    }
}
