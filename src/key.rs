//! git-annex keys, parsed once: `BACKEND[-sSIZE][-mMTIME][-SCHUNKSIZE-CCHUNK]--NAME`.
//!
//! Parsing never panics and is char-boundary safe on any input. A key is
//! data, never a path: callers that turn keys into file or object names
//! check [`Key::is_path_safe`] (or refuse the key) first.

use std::fmt;
use std::path::Path;

use crate::transfer::{Algorithm, Expected};

/// One `-x` field of a key, in the order the key gave them.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Field {
    /// `-s`: size of the whole content.
    Size(u64),
    /// `-m`: modification time (WORM keys).
    Mtime(u64),
    /// `-S`: chunk size of a chunk key.
    ChunkSize(u64),
    /// `-C`: chunk number (from 1) of a chunk key.
    ChunkNumber(u64),
}

impl Field {
    fn tag(&self) -> char {
        match self {
            Self::Size(_) => 's',
            Self::Mtime(_) => 'm',
            Self::ChunkSize(_) => 'S',
            Self::ChunkNumber(_) => 'C',
        }
    }

    fn value(&self) -> u64 {
        match self {
            Self::Size(v) | Self::Mtime(v) | Self::ChunkSize(v) | Self::ChunkNumber(v) => *v,
        }
    }
}

/// Why a text is not a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    #[error("a key needs `--` between its backend fields and its name")]
    NoName,
    #[error("a key needs a backend name before its fields")]
    NoBackend,
    #[error("key field {0:?} is not one of -s, -m, -S, -C with a number")]
    BadField(String),
}

/// A parsed git-annex key. [`fmt::Display`] gives back the text it was
/// parsed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// The text it was parsed from (what printing it gives back).
    text: String,
    backend: String,
    fields: Vec<Field>,
    name: String,
}

/// Parses a field value: decimal digits in canonical form (no sign, no
/// leading zeros), so that printing gives back the same text.
fn canonical_number(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if text.len() > 1 && text.starts_with('0') {
        return None;
    }
    text.parse().ok()
}

impl Key {
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let (head, name) = text.split_once("--").ok_or(KeyError::NoName)?;
        let mut parts = head.split('-');
        let backend = parts.next().unwrap_or_default();
        if backend.is_empty() {
            return Err(KeyError::NoBackend);
        }
        let mut fields = Vec::new();
        for part in parts {
            let mut chars = part.chars();
            let tag = chars.next();
            let value = canonical_number(chars.as_str());
            let field = match (tag, value) {
                (Some('s'), Some(v)) => Field::Size(v),
                (Some('m'), Some(v)) => Field::Mtime(v),
                (Some('S'), Some(v)) => Field::ChunkSize(v),
                (Some('C'), Some(v)) => Field::ChunkNumber(v),
                _ => return Err(KeyError::BadField(part.to_string())),
            };
            fields.push(field);
        }
        Ok(Self {
            text: text.to_string(),
            backend: backend.to_string(),
            fields,
            name: name.to_string(),
        })
    }

    /// The key's text, as git-annex wrote it.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The backend, e.g. `SHA256E`.
    pub fn backend(&self) -> &str {
        &self.backend
    }

    /// The name part after `--` (hash plus extension for `*E` backends).
    pub fn name(&self) -> &str {
        &self.name
    }

    fn field(&self, tag: char) -> Option<u64> {
        self.fields
            .iter()
            .find(|f| f.tag() == tag)
            .map(Field::value)
    }

    /// The `-s` field: the size of the whole content.
    pub fn size(&self) -> Option<u64> {
        self.field('s')
    }

    pub fn mtime(&self) -> Option<u64> {
        self.field('m')
    }

    pub fn chunk_size(&self) -> Option<u64> {
        self.field('S')
    }

    pub fn chunk_number(&self) -> Option<u64> {
        self.field('C')
    }

    /// Whether this is a chunk key (`-C`), whose `-s` is the whole file's.
    pub fn is_chunk(&self) -> bool {
        self.chunk_number().is_some()
    }

    /// The size of this key's content: for a chunk key, the size of the
    /// chunk, computed from `-s`, `-S` and `-C`.
    pub fn content_size(&self) -> Option<u64> {
        match (self.size(), self.chunk_size(), self.chunk_number()) {
            (Some(total), Some(cs), Some(n)) if n >= 1 => {
                let start = cs.checked_mul(n - 1)?;
                Some(total.saturating_sub(start).min(cs))
            }
            // A chunk key without its -s/-S or with chunk 0: not the whole
            // file's size, and its own cannot be known.
            (_, _, Some(_)) => None,
            (size, _, _) => size,
        }
    }

    /// The hashing algorithm of the backend, and whether it is an `*E`
    /// (extension-keeping) one.
    fn hashing(&self) -> Option<(Algorithm, bool)> {
        let (base, extension) = match self.backend.strip_suffix('E') {
            Some(base) => (base, true),
            None => (self.backend.as_str(), false),
        };
        let algorithm = match base {
            "MD5" => Algorithm::Md5,
            "SHA1" => Algorithm::Sha1,
            "SHA256" => Algorithm::Sha256,
            "SHA512" => Algorithm::Sha512,
            _ => return None,
        };
        Some((algorithm, extension))
    }

    /// The hash part and extension part of the name, for hashing backends.
    fn split_name(&self) -> Option<(&str, &str)> {
        let (_, extension) = self.hashing()?;
        if extension {
            Some(match self.name.find('.') {
                Some(i) => self.name.split_at(i),
                None => (self.name.as_str(), ""),
            })
        } else {
            Some((self.name.as_str(), ""))
        }
    }

    /// The extension an `*E` backend kept (with its dot), else `None`.
    pub fn extension(&self) -> Option<&str> {
        self.split_name()
            .map(|(_, ext)| ext)
            .filter(|ext| !ext.is_empty())
    }

    /// The checksum the key's name carries, for MD5/SHA1/SHA256/SHA512
    /// backends (with or without `E`).
    pub fn checksum(&self) -> Option<Expected> {
        let (algorithm, _) = self.hashing()?;
        let (hex, _) = self.split_name()?;
        (!hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| Expected::new(algorithm, hex))
    }

    /// Whether the key's name ties it to one content: it carries a
    /// checksum or the content's size. Keys with neither (datalad-annex's
    /// `XDLRA--refs` and `XDLRA--repo-export`, size-less URL keys) are
    /// names whose content may change: a file stored under such a name is
    /// never proof that it holds the content being stored, and replacing
    /// it is what storing means.
    pub fn identifies_content(&self) -> bool {
        self.size().is_some() || self.checksum().is_some()
    }

    /// Whether a stored file of `size` bytes with `checksum` (each when
    /// the service says) can hold this key's content: only a known fact
    /// that differs rules it out. A chunk key's `-s` is the whole file's
    /// size, so a chunk is judged by nothing but its name.
    pub fn could_be(&self, size: Option<u64>, checksum: Option<&Expected>) -> bool {
        if self.is_chunk() {
            return true;
        }
        if let (Some(want), Some(have)) = (self.size(), size) {
            if want != have {
                return false;
            }
        }
        match (self.checksum(), checksum) {
            (Some(want), Some(have)) if want.algorithm == have.algorithm => {
                want.hex.eq_ignore_ascii_case(&have.hex)
            }
            _ => true,
        }
    }

    /// Whether `text` is a key that can name a file (in
    /// `.git/annex/objects`, a pointer file or a symlink target).
    pub fn is_valid_text(text: &str) -> bool {
        Self::is_path_safe(text) && Self::parse(text).is_ok()
    }

    /// Whether the whole key can be used as one file or object name: no
    /// path separator, not `.` or `..`, no control character.
    pub fn is_path_safe(text: &str) -> bool {
        !text.is_empty()
            && text != "."
            && text != ".."
            && !text.contains(['/', '\\'])
            && !text.chars().any(char::is_control)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for Key {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The `-s` field of a key given as text, such as `SHA256E-s1234--abcd.nii.gz`.
pub fn key_size(key: &str) -> Option<u64> {
    Key::parse(key).ok()?.size()
}

/// Checks a file's content against a key's checksum, for the backends whose
/// key name carries it. `None` when the backend's hash cannot be checked here.
pub fn content_matches_key(key: &str, path: &Path) -> std::io::Result<Option<bool>> {
    let Some(expected) = Key::parse(key).ok().and_then(|k| k.checksum()) else {
        return Ok(None);
    };
    let (_, hex) = crate::transfer::hash_file_blocking(path, expected.algorithm, 0, None)?;
    Ok(Some(hex == expected.hex))
}

/// The extension git-annex's `*E` backends keep for `path`: at most two
/// trailing extensions (`.nii.gz`), each 1–4 alphanumeric characters, as
/// git-annex does by default (annex.maxextensions=2, annex.maxextensionlength=4).
pub fn key_extension(path: &str) -> String {
    let file = path.rsplit('/').next().unwrap_or(path);
    let parts: Vec<&str> = file.split('.').collect();
    let mut kept: Vec<&str> = Vec::new();
    // The first part is the stem, never an extension.
    for part in parts.iter().skip(1).rev() {
        let ok = (1..=4).contains(&part.len()) && part.chars().all(|c| c.is_ascii_alphanumeric());
        if !ok || kept.len() == 2 {
            break;
        }
        kept.push(part);
    }
    kept.iter().rev().map(|p| format!(".{p}")).collect()
}

/// The key of a file of `size` bytes at `path` whose content has
/// `checksum`: `MD5E-s<size>--<hex><ext>` and so on.
pub fn key_for(path: &str, size: u64, checksum: &Expected) -> String {
    let backend = match checksum.algorithm {
        Algorithm::Md5 => "MD5E",
        Algorithm::Sha1 => "SHA1E",
        Algorithm::Sha256 => "SHA256E",
        Algorithm::Sha512 => "SHA512E",
    };
    format!(
        "{backend}-s{size}--{}{}",
        checksum.hex.to_ascii_lowercase(),
        key_extension(path)
    )
}

/// For providers' tests: `matches(size, md5, key)` says whether a listed
/// file of that size and MD5 could hold `key`; it must read both (the
/// rules themselves are [`Key::could_be`]'s, tested above).
#[cfg(test)]
pub(crate) fn assert_reads_size_and_md5(matches: impl Fn(u64, &str, &Key) -> bool) {
    let key = Key::parse("MD5E-s5--5d41402abc4b2a76b9719d911017c592.txt").unwrap();
    let md5 = "5d41402abc4b2a76b9719d911017c592";
    assert!(matches(5, md5, &key), "the same size and MD5");
    assert!(!matches(6, md5, &key), "another size");
    assert!(
        !matches(5, "00000000000000000000000000000000", &key),
        "another MD5"
    );
    let chunk = Key::parse("MD5E-s5-S2-C1--5d41.txt").unwrap();
    assert!(
        matches(9, "aa", &chunk),
        "a chunk key carries nothing to compare"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn could_be_rules_out_only_on_a_known_difference() {
        let md5 = |hex: &str| Expected::new(Algorithm::Md5, hex);
        let key = Key::parse("MD5E-s3--acbd18db4cc2f85cedef654fccc4a4d8.txt").unwrap();
        let right = md5("ACBD18DB4CC2F85CEDEF654FCCC4A4D8");
        assert!(key.could_be(Some(3), Some(&right)));
        assert!(key.could_be(None, None));
        assert!(!key.could_be(Some(4), Some(&right)));
        assert!(!key.could_be(Some(3), Some(&md5("00"))));
        // Another algorithm tells nothing.
        let sha = Expected::new(Algorithm::Sha256, "00");
        assert!(key.could_be(Some(3), Some(&sha)));
        // A chunk's -s is the whole file's.
        let chunk = Key::parse("MD5E-s300-S100-C2--acbd18db4cc2f85cedef654fccc4a4d8.txt").unwrap();
        assert!(chunk.could_be(Some(100), Some(&md5("00"))));
    }
    #[test]
    fn extensions_as_git_annex_keeps_them() {
        for (path, extension) in [
            ("sub-01/anat/sub-01_T1w.nii.gz", ".nii.gz"),
            ("a.tar.gz.part1", ""),
            ("a.b.c.json", ".c.json"),
            ("README", ""),
            (".hidden", ""),
            ("dir.d/file", ""),
            ("x.toolong", ""),
            ("x.ok.toolong", ""),
            ("x.bad-ext.json", ".json"),
        ] {
            assert_eq!(key_extension(path), extension, "{path}");
        }
    }

    #[test]
    fn keys_from_published_checksums() {
        let hex = "5d41402abc4b2a76b9719d911017c592";
        assert_eq!(
            key_for(
                "d/sub-01_T1w.nii.gz",
                5,
                &Expected::new(Algorithm::Md5, hex)
            ),
            format!("MD5E-s5--{hex}.nii.gz")
        );
        let sha = Expected::new(Algorithm::Sha256, &"AB".repeat(32));
        assert_eq!(
            key_for("x", 1, &sha),
            format!("SHA256E-s1--{}", "ab".repeat(32))
        );
    }

    use proptest::prelude::*;

    #[test]
    fn fields() {
        let k = Key::parse("SHA256E-s1048576-S1048576-C2--ab.x").unwrap();
        assert_eq!(k.backend(), "SHA256E");
        assert_eq!(k.size(), Some(1048576));
        assert_eq!(k.chunk_size(), Some(1048576));
        assert_eq!(k.chunk_number(), Some(2));
        assert!(k.is_chunk());
        assert_eq!(k.content_size(), Some(0));
        let k = Key::parse("SHA256E-s3000-S1000-C3--ab.x").unwrap();
        assert_eq!(k.content_size(), Some(1000));
        let k = Key::parse("SHA256E-s2500-S1000-C3--ab.x").unwrap();
        assert_eq!(k.content_size(), Some(500));
        let k = Key::parse("WORM-s5-m1--name").unwrap();
        assert_eq!((k.size(), k.mtime()), (Some(5), Some(1)));
        assert_eq!(k.checksum(), None);
        let k = Key::parse("URL--http&c%%example").unwrap();
        assert_eq!(
            (k.backend(), k.name(), k.size()),
            ("URL", "http&c%%example", None)
        );
    }

    #[test]
    fn checksums_and_extensions() {
        let k = Key::parse("MD5E-s5--5d41402abc4b2a76b9719d911017c592.txt").unwrap();
        assert_eq!(
            k.checksum(),
            Some(Expected::new(
                Algorithm::Md5,
                "5d41402abc4b2a76b9719d911017c592"
            ))
        );
        assert_eq!(k.extension(), Some(".txt"));
        let k = Key::parse("SHA256E-s3--98ea.nii.gz").unwrap();
        assert_eq!(k.extension(), Some(".nii.gz"));
        assert_eq!(k.checksum().map(|c| c.hex), Some("98ea".into()));
        // Without E the whole name is the hash: a dot makes it no checksum.
        let k = Key::parse("SHA1-s3--ab.c").unwrap();
        assert_eq!((k.extension(), k.checksum()), (None, None));
        let k = Key::parse("SHA512-s3--AB").unwrap();
        assert_eq!(k.checksum(), Some(Expected::new(Algorithm::Sha512, "ab")));
        assert_eq!(Key::parse("BLAKE2B256E-s1--ab.x").unwrap().checksum(), None);
    }

    #[test]
    fn keys_without_size_or_checksum_identify_no_content() {
        for text in [
            "SHA256E-s3--98ea.nii.gz",
            "MD5-S1000-C2--5d41402abc4b2a76b9719d911017c592",
            "WORM-s5-m1--name",
            "URL-s12--http&c%%example",
        ] {
            assert!(Key::parse(text).unwrap().identifies_content(), "{text}");
        }
        for text in [
            "XDLRA--refs",
            "XDLRA--repo-export",
            "XDLRA-S1073741824-C1--refs",
            "URL--http&c%%example",
        ] {
            assert!(!Key::parse(text).unwrap().identifies_content(), "{text}");
        }
    }

    #[test]
    fn broken_chunk_keys_have_no_size() {
        // Found by fuzz/key: chunk 0 gave the whole file's size as the chunk's.
        for text in [
            "W-C0-s17-S4-C300000000--pt",
            "SHA256-s17-C1--ab",
            "SHA256-S4-C1--ab",
        ] {
            let key = Key::parse(text).unwrap();
            assert!(key.is_chunk());
            assert_eq!(key.content_size(), None, "{text}");
        }
    }

    #[test]
    fn not_keys() {
        assert_eq!(Key::parse("garbage"), Err(KeyError::NoName));
        assert_eq!(Key::parse("--name"), Err(KeyError::NoBackend));
        assert!(Key::parse("KEY-old--x").is_err());
        assert!(Key::parse("MD5-s--x").is_err());
        assert!(Key::parse("MD5-s01--x").is_err());
        assert!(Key::parse("MD5-s+1--x").is_err());
        assert!(Key::parse("MD5-s99999999999999999999999--x").is_err());
    }

    #[test]
    fn multibyte_field_is_no_panic() {
        // The old parser split fields at byte 1, inside this character.
        assert!(Key::parse("MD5-é5--x").is_err());
        assert!(Key::parse("MD5-s5-é--x").is_err());
        assert!(Key::parse("SHA256E-s7-€--x").is_err());
        assert_eq!(key_size("SHA256E-s7--é.€"), Some(7));
    }

    #[test]
    fn path_safety() {
        assert!(Key::is_path_safe("SHA256E-s1--ab.txt"));
        for bad in ["", ".", "..", "a/b", "a\\b", "a\nb"] {
            assert!(!Key::is_path_safe(bad), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics(text in "\\PC*") {
            let _ = Key::parse(&text);
            let _ = key_size(&text);
        }

        #[test]
        fn display_round_trips(text in "\\PC*") {
            if let Ok(key) = Key::parse(&text) {
                prop_assert_eq!(key.to_string(), text);
            }
        }

        #[test]
        fn built_keys_round_trip(
            backend in "[A-Z0-9]{1,10}",
            size in proptest::option::of(any::<u64>()),
            mtime in proptest::option::of(any::<u64>()),
            chunk in proptest::option::of((1u64..1 << 40, 1u64..100_000)),
            name in "\\PC*",
        ) {
            let mut text = backend.clone();
            if let Some(s) = size { text.push_str(&format!("-s{s}")); }
            if let Some(m) = mtime { text.push_str(&format!("-m{m}")); }
            if let Some((cs, n)) = chunk { text.push_str(&format!("-S{cs}-C{n}")); }
            text.push_str("--");
            text.push_str(&name);
            let key = Key::parse(&text).unwrap();
            prop_assert_eq!(key.to_string(), text.clone());
            prop_assert_eq!(key.backend(), backend.as_str());
            prop_assert_eq!(key.size(), size);
            prop_assert_eq!(key.mtime(), mtime);
            prop_assert_eq!(key.chunk_number(), chunk.map(|c| c.1));
            prop_assert_eq!(key.name(), name.as_str());
        }
    }
}
