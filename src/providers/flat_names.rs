//! Tree paths as names in a flat namespace (a Figshare article, a Zenodo
//! record): services whose file names cannot hold folders.
//!
//! Key mode: a key's file is named after the key itself (keys that could
//! name a folder are refused before, see [`crate::key::Key::is_path_safe`]).
//!
//! Export mode: a tree path is encoded into one name, reversibly:
//! - `%` becomes `%25` (first, so that the escape character itself never
//!   appears unescaped),
//! - `/` becomes `%2F`.
//!
//! Nothing else changes, so `sub-01/anat/T1w.nii.gz` is stored as
//! `sub-01%2Fanat%2FT1w.nii.gz`. Decoding turns `%2F` back into `/` and
//! `%25` into `%`, reading left to right. Because `%` is always escaped,
//! every encoded name decodes to exactly one path: two distinct paths never
//! share a name (the encoding is injective), and no encoded name contains
//! `/`.

/// The name of `key`'s file in key mode on `service`: the key itself,
/// unless it could name a folder.
pub fn key_name(key: &str, service: &str) -> crate::providers::Result<String> {
    if !crate::key::Key::is_path_safe(key) || key.contains('/') {
        return Err(crate::providers::ProviderError::InvalidName(format!(
            "{key} cannot be a {service} file name"
        )));
    }
    Ok(key.to_string())
}

/// The flat name that holds the exported file at `path`.
pub fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 8);
    for c in path.chars() {
        match c {
            '%' => out.push_str("%25"),
            '/' => out.push_str("%2F"),
            c => out.push(c),
        }
    }
    out
}

/// The tree path an encoded name stands for; `None` when `name` is not an
/// encoding made by [`encode_path`] (a file someone else put there).
pub fn decode_path(name: &str) -> Option<String> {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let esc = rest.get(i..i + 3)?;
        match esc {
            "%25" => out.push('%'),
            "%2F" => out.push('/'),
            _ => return None,
        }
        rest = &rest[i + 3..];
    }
    if rest.contains('/') {
        return None;
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testing::{assert_codec, assert_refused, round_trip};
    use proptest::prelude::*;

    #[test]
    fn keys_that_could_name_folders_are_refused() {
        assert!(key_name("SHA256E-s1--ab.txt", "x").is_ok());
        assert!(key_name("a/b", "x").is_err());
        assert!(key_name("..", "x").is_err());
        assert_eq!(encode_path("a/b"), "a%2Fb");
    }

    #[test]
    fn examples() {
        let examples = [
            ("sub-01/anat/T1w.nii.gz", "sub-01%2Fanat%2FT1w.nii.gz"),
            ("100%/a", "100%25%2Fa"),
            // A literal "%2F" in a name is not a folder.
            ("a%2Fb", "a%252Fb"),
        ];
        assert_codec(encode_path, decode_path, &examples);
        assert_ne!(encode_path("a%2Fb"), encode_path("a/b"));
        assert_refused(decode_path, &["bad%zz", "trailing%2", "a/b"]);
    }

    proptest! {
        #[test]
        fn round_trips(path in "[a-z%/ 2F5ü._-]{0,24}") {
            let name = round_trip(encode_path, decode_path, &path);
            prop_assert!(!name.contains('/'));
        }

        #[test]
        fn distinct_paths_never_collide(a in "[a%/2F5]{0,12}", b in "[a%/2F5]{0,12}") {
            if a != b {
                prop_assert_ne!(encode_path(&a), encode_path(&b));
            }
        }
    }
}
