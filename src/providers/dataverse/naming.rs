//! Reversible names that satisfy Dataverse's rules.
//!
//! Dataverse refuses `/ : * ? " < > | ; #` in file names, and allows only
//! letters, digits, `_ - . /` and spaces in folder names, stripping leading
//! `.`, `-` and spaces from each folder. A name that breaks a rule gets the
//! offending bytes written as `_xHH_` (lower-case hex of each UTF-8 byte);
//! everything else stays as it is, so ordinary names look the same on the
//! web page. A literal `_` is escaped only where it would otherwise read as
//! an escape, which keeps the mapping reversible.

/// Where a name goes: a folder segment has stricter rules than a file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Folder,
}

fn allowed(kind: Kind, c: char) -> bool {
    match kind {
        Kind::File => {
            !c.is_control()
                && !matches!(
                    c,
                    '/' | ':' | '*' | '?' | '"' | '<' | '>' | '|' | ';' | '#' | '\\'
                )
        }
        Kind::Folder => c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ' '),
    }
}

/// Whether `rest` (the text after a `_`) starts like an escape. A literal
/// `_` followed by `xHH` is always escaped itself, whatever comes next, so
/// the decoder never mistakes it (the next character may become an escape
/// that starts with `_`).
fn escape_prefix(rest: &str) -> bool {
    let b = rest.as_bytes();
    b.len() >= 3 && b[0] == b'x' && b[1].is_ascii_hexdigit() && b[2].is_ascii_hexdigit()
}

/// Whether `rest` (the text after a `_`) is the rest of an escape.
fn looks_like_escape(rest: &str) -> bool {
    escape_prefix(rest) && rest.as_bytes().get(3) == Some(&b'_')
}

fn push_escaped(out: &mut String, c: char) {
    let mut buf = [0u8; 4];
    for byte in c.encode_utf8(&mut buf).bytes() {
        out.push_str(&format!("_x{byte:02x}_"));
    }
}

fn encode(kind: Kind, name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let count = name.chars().count();
    for (i, (pos, c)) in name.char_indices().enumerate() {
        let first = i == 0;
        let last = i + 1 == count;
        // Dataverse trims these at the ends; escaping keeps them.
        let trimmed_at_edge = match kind {
            Kind::File => c.is_whitespace(),
            Kind::Folder => {
                (first && matches!(c, '.' | '-' | ' ')) || (last && matches!(c, ' ' | '.'))
            }
        };
        let ambiguous = c == '_' && escape_prefix(&name[pos + 1..]);
        if !allowed(kind, c) || ((first || last) && trimmed_at_edge) || ambiguous {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    out
}

/// A file name (the `label`) Dataverse accepts and keeps unchanged.
pub fn encode_file(name: &str) -> String {
    encode(Kind::File, name)
}

/// A folder path (the `directoryLabel`), segment by segment. Empty
/// segments (doubled or edge slashes) are dropped.
pub fn encode_folder(path: &str) -> String {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| encode(Kind::Folder, s))
        .collect::<Vec<_>>()
        .join("/")
}

/// Reverses [`encode_file`] and [`encode_folder`].
pub fn decode(text: &str) -> String {
    let mut bytes = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        if rest.starts_with('_') && looks_like_escape(&rest[1..]) {
            if let Ok(b) = u8::from_str_radix(&rest[2..4], 16) {
                bytes.push(b);
                i += 5;
                continue;
            }
        }
        let c = rest.chars().next().unwrap_or('\u{fffd}');
        let mut buf = [0u8; 4];
        bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        i += c.len_utf8();
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Joins folder parts that are already encoded, skipping empty ones.
pub fn join_folders(parts: &[&str]) -> String {
    parts
        .iter()
        .flat_map(|p| p.split('/'))
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("/")
}

/// Splits an export path into (encoded folder, encoded file name) under
/// the encoded root folder.
pub fn export_location(root: &str, name: &str) -> (String, String) {
    let (dir, file) = match name.rsplit_once('/') {
        Some((d, f)) => (d, f),
        None => ("", name),
    };
    (
        join_folders(&[root, &encode_folder(dir)]),
        encode_file(file),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testing::assert_codec;
    use proptest::prelude::*;

    #[test]
    fn ordinary_names_are_unchanged() {
        for name in [
            "sub-01_T1w.nii.gz",
            "SHA256E-s1048576--0a1b.this-is-a-test-key",
        ] {
            assert_eq!(encode_file(name), name);
        }
        for folder in ["sub-01/anat", "my data/x_y"] {
            assert_eq!(encode_folder(folder), folder);
        }
    }

    #[test]
    fn unsafe_characters_are_escaped() {
        let decode = |name: &str| Some(decode(name));
        let files = [
            ("a:b#c", "a_x3a_b_x23_c"),
            (" lead", "_x20_lead"),
            // A literal that looks like an escape has its underscore escaped.
            ("a_x41_b", "a_x5f_x41_b"),
        ];
        assert_codec(encode_file, decode, &files);
        let folders = [
            (".git/-x/é", "_x2e_git/_x2d_x/_xc3__xa9_"),
            ("trail./ok", "trail_x2e_/ok"),
        ];
        assert_codec(encode_folder, decode, &folders);
    }

    #[test]
    fn export_locations() {
        assert_eq!(
            export_location("root", "sub-01/anat/x.nii"),
            ("root/sub-01/anat".to_string(), "x.nii".to_string())
        );
        assert_eq!(
            export_location("", "top.txt"),
            (String::new(), "top.txt".to_string())
        );
    }

    fn valid_file(s: &str) -> bool {
        !s.is_empty()
            && s.trim() == s
            && !s
                .chars()
                .any(|c| c.is_control() || "/:*?\"<>|;#\\".contains(c))
    }

    fn valid_folder_segment(s: &str) -> bool {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-. ".contains(c))
            && !s.starts_with(['.', '-', ' '])
            && !s.ends_with([' ', '.'])
    }

    proptest! {
        #[test]
        fn file_names_round_trip(name in "\\PC{1,40}") {
            let enc = encode_file(&name);
            prop_assert!(valid_file(&enc), "{enc:?}");
            prop_assert_eq!(decode(&enc), name);
        }

        #[test]
        fn folder_segments_round_trip(seg in "[^/]{1,30}") {
            let enc = encode_folder(&seg);
            prop_assert!(valid_folder_segment(&enc), "{enc:?}");
            prop_assert_eq!(decode(&enc), seg);
        }

        #[test]
        fn tricky_underscores_round_trip(name in "[_xX0-9a-fA-F: .\n-]{1,24}") {
            prop_assert_eq!(decode(&encode_file(&name)), name.clone());
            prop_assert_eq!(decode(&encode_folder(&name)), name);
        }
    }
}
