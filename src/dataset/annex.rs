//! git-annex keys: their size field, where a present key's content lives,
//! how tree entries point at them, and checking content against them.

use md5::{Digest as _, Md5};
use std::path::{Path, PathBuf};

use crate::key::Key;
pub use crate::key::{content_matches_key, key_size};

/// Where a present key's content is in a non-bare repository:
/// `.git/annex/objects/Xx/Yy/KEY/KEY`, with git-annex's "mixed case" hash
/// directories computed from the MD5 of the key.
pub fn object_path(repo: &Path, key: &str) -> PathBuf {
    let mut path = repo.join(".git/annex/objects");
    let dirs = hash_dir_mixed(key);
    path.push(&dirs[..2]);
    path.push(&dirs[2..4]);
    path.push(key);
    path.push(key);
    path
}

/// Whether `key`'s content is in `repo`'s annex, with the size the key names.
pub(super) fn object_present(repo: &Path, key: &str) -> bool {
    std::fs::metadata(object_path(repo, key))
        .is_ok_and(|m| m.is_file() && key_size(key).map_or(true, |s| s == m.len()))
}

/// git-annex's hashDirMixed: 32 bits of the key's MD5 rendered with a
/// 32-letter alphabet, character pairs swapped.
fn hash_dir_mixed(key: &str) -> String {
    const CHARS: &[u8; 32] = b"0123456789zqjxkmvwgpfZQJXKMVWGPF";
    let digest = Md5::digest(key.as_bytes());
    let word = u32::from_le_bytes([digest[0], digest[1], digest[2], digest[3]]);
    let chars: Vec<u8> = (0..8)
        .map(|i| CHARS[((word >> (6 * i)) & 31) as usize])
        .collect();
    let swapped: Vec<u8> = chars.chunks(2).flat_map(|p| [p[1], p[0]]).collect();
    String::from_utf8_lossy(&swapped[..4]).into_owned()
}

/// The key a locked (symlinked) annexed file points to.
pub fn key_from_link_target(target: &[u8]) -> Option<String> {
    let target = std::str::from_utf8(target).ok()?;
    if !target.contains("annex/objects/") {
        return None;
    }
    let key = target.rsplit('/').next()?;
    Key::is_valid_text(key).then(|| key.to_string())
}

/// The key of an unlocked annexed file whose blob is a pointer file.
pub fn key_from_pointer(content: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(content).ok()?;
    let key = text.strip_prefix("/annex/objects/")?.trim_end_matches('\n');
    (Key::is_valid_text(key) && !key.contains('\n')).then(|| key.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "SHA256E-s3--98ea6e4f216f2fb4b69fff9b3a44842c38686ca685f3f55dc48c5d3fb1107be4";

    #[test]
    fn size_field() {
        assert_eq!(key_size(KEY), Some(3));
        assert_eq!(key_size("MD5E-s1234-m5--abc.nii.gz"), Some(1234));
        assert_eq!(key_size("URL--http&c%%x"), None);
        assert_eq!(key_size("garbage"), None);
    }

    #[test]
    fn object_path_matches_git_annex() {
        // Reference value printed by `git annex contentlocation` for this key.
        let p = object_path(Path::new("/r"), KEY);
        assert_eq!(
            p,
            Path::new(&format!("/r/.git/annex/objects/zQ/MQ/{KEY}/{KEY}"))
        );
    }

    #[test]
    fn links_and_pointers() {
        let link = format!("../../.git/annex/objects/zQ/MQ/{KEY}/{KEY}");
        assert_eq!(key_from_link_target(link.as_bytes()).as_deref(), Some(KEY));
        assert_eq!(key_from_link_target(b"../other/file"), None);
        let pointer = format!("/annex/objects/{KEY}\n");
        assert_eq!(key_from_pointer(pointer.as_bytes()).as_deref(), Some(KEY));
        assert_eq!(key_from_pointer(b"{\"a\": 1}"), None);
    }

    #[test]
    fn checksum_check() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a");
        std::fs::write(&f, "hi\n").unwrap();
        assert_eq!(content_matches_key(KEY, &f).unwrap(), Some(true));
        std::fs::write(&f, "ho\n").unwrap();
        assert_eq!(content_matches_key(KEY, &f).unwrap(), Some(false));
        assert_eq!(content_matches_key("WORM-s3--x", &f).unwrap(), None);
    }
}
