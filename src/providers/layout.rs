//! Where a key's content lives in a store of named objects: one layout for
//! every provider that names objects after keys (S3, directory).

use super::{ProviderError, Result};
use crate::key::Key;

/// How keys become object (or file) names below a remote's prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyLayout {
    /// `KEY`, like git-annex's own S3 remote.
    Flat,
    /// `abc/def/KEY` with git-annex's DIRHASH-LOWER folders.
    DirHash,
}

impl KeyLayout {
    /// The relative name of `key`'s object. Keys are never trusted as
    /// paths: one that could name a folder or leave it is refused.
    pub fn object_name(self, key: &str) -> Result<String> {
        if !Key::is_path_safe(key) {
            return Err(ProviderError::InvalidName(format!(
                "unusable key {key:?}: it cannot be a file or object name"
            )));
        }
        Ok(match self {
            Self::Flat => key.to_string(),
            Self::DirHash => format!("{}{key}", hashdir_lower(key)),
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Flat => "flat",
            Self::DirHash => "dirhash",
        }
    }
}

/// Checks an export path (`exporttree=yes`) before any provider uses it:
/// `/`-separated segments, none of them empty, `.` or `..`, and no control
/// characters. Names come from a git tree and are data: whatever a service
/// makes of `a//b`, `../x` or `/x`, it must never reach another folder,
/// bucket or host. git-annex itself never sends such names, so refusing
/// them costs nothing.
pub fn check_export_path(name: &str) -> Result<()> {
    let bad_segment = name
        .split('/')
        .any(|segment| segment.is_empty() || segment == "." || segment == "..");
    if bad_segment || name.chars().any(char::is_control) {
        return Err(ProviderError::InvalidName(format!(
            "export path {name:?} is not a plain relative path inside the export tree"
        )));
    }
    Ok(())
}

/// A path in the exported tree, checked once ([`check_export_path`]) where
/// git-annex names it, so that no provider sees one unchecked: like
/// [`Key`], a provider takes it as it is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExportPath(String);

impl ExportPath {
    /// `name` once it is a plain relative path inside the tree.
    pub fn new(name: impl Into<String>) -> Result<Self> {
        let name = name.into();
        check_export_path(&name)?;
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for ExportPath {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ExportPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// git-annex's two-level lower-case hash directory for a key ("abc/def/"),
/// as DIRHASH-LOWER computes it: the first six hex digits of the key's MD5.
pub fn hashdir_lower(key: &str) -> String {
    use md5::Digest;
    let digest = hex::encode(md5::Md5::digest(key.as_bytes()));
    format!("{}/{}/", &digest[0..3], &digest[3..6])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_paths_stay_inside_the_tree() {
        for good in ["a.txt", "sub-01/anat/x y ü.nii.gz", ".hidden/x", "a..b/c"] {
            assert!(check_export_path(good).is_ok(), "{good}");
            assert_eq!(ExportPath::new(good).unwrap().as_str(), good);
        }
        for bad in [
            "",
            "/abs",
            "a//b",
            "a/",
            "./a",
            "a/./b",
            "../x",
            "a/../../x",
            "a\nb",
            "a\0b",
        ] {
            assert!(
                matches!(check_export_path(bad), Err(ProviderError::InvalidName(_))),
                "{bad:?}"
            );
            assert!(ExportPath::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names() {
        let key = "SHA256E-s1--ab.txt";
        assert_eq!(KeyLayout::Flat.object_name(key).unwrap(), key);
        let hashed = KeyLayout::DirHash.object_name(key).unwrap();
        assert_eq!(hashed, format!("{}{key}", hashdir_lower(key)));
        assert_eq!(hashed.matches('/').count(), 2);
        for bad in ["", "..", "a/b", "a\\b"] {
            assert!(matches!(
                KeyLayout::Flat.object_name(bad),
                Err(ProviderError::InvalidName(_))
            ));
        }
    }
}
