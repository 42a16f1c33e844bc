//! The one check of a path that came from data (a dataset's tree, a
//! service's listing) before annexa writes it (`annexa get`, `--direct`) or
//! commits it (`annexa import`): git's own rules, as `verify_path` applies
//! them with both `core.protectNTFS` and `core.protectHFS` on (whatever the
//! platform: the folder or the dataset may end up on either), plus the
//! length limits of file names. Pure, so it is unit-tested and fuzzed
//! (`fuzz/fuzz_targets/tree_path.rs`).

/// What a path will be: git has extra rules for symbolic links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Symlink,
}

/// Why a path is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathProblem {
    #[error("an empty path")]
    Empty,
    #[error("an empty, `.` or `..` folder name (absolute paths and `a//b` included)")]
    BadComponent,
    #[error("{0:?} is git's own folder `.git` (or a Windows/macOS spelling of it): git treats it as special")]
    GitDir(String),
    #[error("{0:?} as a symbolic link is a git control file git refuses or will not follow")]
    GitFileLink(String),
    #[error("a folder or file name of {0} bytes (at most 255)")]
    NameTooLong(usize),
    #[error("a path of {0} bytes (at most 4095)")]
    PathTooLong(usize),
    #[error("a NUL byte")]
    Nul,
}

/// `NAME_MAX` of Linux and macOS file systems.
pub const NAME_MAX: usize = 255;
/// `PATH_MAX` minus its NUL.
pub const PATH_MAX: usize = 4095;

/// `Ok` when `path` (`/`-separated, relative) may be written or committed.
pub fn check(path: &str, kind: EntryKind) -> Result<(), PathProblem> {
    if path.is_empty() {
        return Err(PathProblem::Empty);
    }
    if path.contains('\0') {
        return Err(PathProblem::Nul);
    }
    if path.len() > PATH_MAX {
        return Err(PathProblem::PathTooLong(path.len()));
    }
    for component in path.split('/') {
        if component.is_empty() || component == "." || component == ".." {
            return Err(PathProblem::BadComponent);
        }
        if component.len() > NAME_MAX {
            return Err(PathProblem::NameTooLong(component.len()));
        }
        // NTFS reads `\` as a separator too: each piece is checked.
        for piece in std::iter::once(component).chain(component.split('\\')) {
            if is_hfs_dot(piece, "git") || is_ntfs_dotgit(piece.as_bytes()) {
                return Err(PathProblem::GitDir(component.to_string()));
            }
            if kind == EntryKind::Symlink && is_git_control_file(piece) {
                return Err(PathProblem::GitFileLink(component.to_string()));
            }
        }
    }
    Ok(())
}

/// `.gitmodules` (git refuses a link with it anywhere on its path,
/// `verify_path`), and the files
/// git opens without following links (`.gitattributes`, `.gitignore`,
/// `.mailmap`: fsck's `*Symlink` checks), in any spelling git fears.
fn is_git_control_file(name: &str) -> bool {
    let bytes = name.as_bytes();
    is_hfs_dot(name, "gitmodules")
        || is_ntfs_dot_generic(bytes, b"gitmodules", b"gi7eba")
        || is_hfs_dot(name, "gitattributes")
        || is_ntfs_dot_generic(bytes, b"gitattributes", b"gi7d29")
        || is_hfs_dot(name, "gitignore")
        || is_ntfs_dot_generic(bytes, b"gitignore", b"gi250a")
        || is_hfs_dot(name, "mailmap")
        || is_ntfs_dot_generic(bytes, b"mailmap", b"maba30")
}

/// Code points HFS+ ignores when it compares names (git's `next_hfs_char`).
const HFS_IGNORED: &[char] = &[
    '\u{200c}', '\u{200d}', '\u{200e}', '\u{200f}', '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}',
    '\u{202e}', '\u{206a}', '\u{206b}', '\u{206c}', '\u{206d}', '\u{206e}', '\u{206f}', '\u{feff}',
];

/// `.NEEDLE` as HFS+ compares it: case-insensitive, ignored code points
/// skipped (git's `is_hfs_dot_generic`).
fn is_hfs_dot(name: &str, needle: &str) -> bool {
    let mut chars = name.chars().filter(|c| !HFS_IGNORED.contains(c));
    if chars.next() != Some('.') {
        return false;
    }
    for wanted in needle.chars() {
        match chars.next() {
            Some(c) if c.is_ascii() && c.to_ascii_lowercase() == wanted => {}
            _ => return false,
        }
    }
    chars.next().is_none()
}

/// The rest of a name NTFS drops: trailing spaces and dots, or an
/// alternate data stream after `:`.
fn only_spaces_and_periods(rest: &[u8]) -> bool {
    for &c in rest {
        if c == b':' {
            return true;
        }
        if c != b' ' && c != b'.' {
            return false;
        }
    }
    true
}

/// `.git` and its 8.3 short name `git~1`, with what NTFS drops after them
/// (git's `is_ntfs_dotgit`).
fn is_ntfs_dotgit(name: &[u8]) -> bool {
    let rest = if name.len() >= 4 && name[0] == b'.' && name[1..4].eq_ignore_ascii_case(b"git") {
        &name[4..]
    } else if name.len() >= 5 && name[..3].eq_ignore_ascii_case(b"git") && &name[3..5] == b"~1" {
        &name[5..]
    } else {
        return false;
    };
    only_spaces_and_periods(rest)
}

/// `.NEEDLE`, its short name (`gitmod~1`..`~4`), or a fall-back short name
/// made of `short` (git's `is_ntfs_dot_generic`).
fn is_ntfs_dot_generic(name: &[u8], needle: &[u8], short: &[u8; 6]) -> bool {
    let len = needle.len();
    if name.len() > len && name[0] == b'.' && name[1..=len].eq_ignore_ascii_case(needle) {
        return only_spaces_and_periods(&name[len + 1..]);
    }
    if name.len() >= 8
        && name[..6].eq_ignore_ascii_case(&needle[..6])
        && name[6] == b'~'
        && (b'1'..=b'4').contains(&name[7])
    {
        return only_spaces_and_periods(&name[8..]);
    }
    let mut i = 0;
    let mut saw_tilde = false;
    while i < 8 {
        let Some(&c) = name.get(i) else {
            return false;
        };
        if saw_tilde {
            if !c.is_ascii_digit() {
                return false;
            }
        } else if c == b'~' {
            i += 1;
            match name.get(i) {
                Some(d) if (b'1'..=b'9').contains(d) => {}
                _ => return false,
            }
            saw_tilde = true;
        } else if i >= 6 || c & 0x80 != 0 || c.to_ascii_lowercase() != short[i] {
            return false;
        }
        i += 1;
    }
    only_spaces_and_periods(&name[i.min(name.len())..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_folders_in_every_spelling_are_refused() {
        for path in [
            ".git/config",
            "sub-01/anat/x.ome.zarr/.git/config",
            "a/.GIT/hooks/x",
            "a/.Git",
            "a/.git /config",
            "a/.git./config",
            "a/.git . ./x",
            "a/git~1/config",
            "a/GIT~1",
            "a/.git::$INDEX_ALLOCATION/config",
            "a/.g\u{200c}it/config",
            "a/\u{feff}.GIT\u{200e}/config",
            "a/x\\.git\\config",
        ] {
            assert!(
                matches!(check(path, EntryKind::File), Err(PathProblem::GitDir(_))),
                "{path:?}"
            );
        }
    }

    #[test]
    fn ordinary_names_pass() {
        for path in [
            "sub-01/anat/sub-01_T1w.nii.gz",
            "x.ome.zarr/.zattrs",
            "a/.gitx",
            "a/.github/workflows/ci.yml",
            "a/git~2",
            "a/.gitmodules",
            "a/gitmod~1",
            "a/.gitattributes",
            "a b/ü/ok",
            &"n".repeat(255),
        ] {
            assert_eq!(check(path, EntryKind::File), Ok(()), "{path:?}");
        }
        assert_eq!(check("a/.gitmodulesx", EntryKind::Symlink), Ok(()));
        assert_eq!(check("a/.gitmodules/x", EntryKind::File), Ok(()));
    }

    #[test]
    fn git_files_as_links_are_refused() {
        for path in [
            ".gitmodules",
            "deep/er/.GITMODULES",
            "a/.gitmodules ",
            "a/.gitmodules.",
            "a/gitmod~1",
            "a/GITMOD~4",
            "a/gi7eba~1",
            "a/gi7eba~9",
            "a/.gitmodules:$DATA",
            "a/.gitmodules/x",
            "a/.git\u{200d}modules",
            "a/.gitattributes",
            "a/.gitignore",
            "a/.mailmap",
        ] {
            assert!(
                matches!(
                    check(path, EntryKind::Symlink),
                    Err(PathProblem::GitFileLink(_))
                ),
                "{path:?}"
            );
        }
    }

    proptest::proptest! {
        /// The fuzz target's model (fuzz/fuzz_targets/tree_path.rs) over
        /// the characters that matter, on every `make test`.
        #[test]
        fn agrees_with_a_simple_model_of_git_aliases(
            path in "[./gGiItTmMoOdDuUlLeEsS~14 :\\\\\u{200c}\u{feff}x]{1,16}(/[./gGiItT~1 :\u{200c}x]{1,8}){0,2}"
        ) {
            let model_is = |component: &str, names: &[&str]| {
                std::iter::once(component).chain(component.split('\\')).any(|piece| {
                    let lower = piece.to_ascii_lowercase();
                    let ntfs = lower.split(':').next().unwrap_or("").trim_end_matches([' ', '.']);
                    let hfs: String = lower.chars().filter(|c| !HFS_IGNORED.contains(c)).collect();
                    names.iter().any(|n| ntfs == *n || hfs == *n)
                })
            };
            let file = check(&path, EntryKind::File);
            let link = check(&path, EntryKind::Symlink);
            proptest::prop_assert!(link.is_err() || file.is_ok());
            for component in path.split('/') {
                if model_is(component, &[".git", "git~1"]) {
                    proptest::prop_assert!(file.is_err(), "{:?}", path);
                }
                if model_is(component, &[".gitmodules", "gitmod~1"]) {
                    proptest::prop_assert!(link.is_err(), "{:?}", path);
                }
            }
        }
    }

    #[test]
    fn shapes_and_lengths() {
        assert_eq!(check("", EntryKind::File), Err(PathProblem::Empty));
        for path in ["/etc/passwd", "a//b", "a/", "./a", "a/../b", "..", "."] {
            assert_eq!(
                check(path, EntryKind::File),
                Err(PathProblem::BadComponent),
                "{path:?}"
            );
        }
        assert_eq!(check("a\0b", EntryKind::File), Err(PathProblem::Nul));
        assert_eq!(
            check(&format!("a/{}", "n".repeat(256)), EntryKind::File),
            Err(PathProblem::NameTooLong(256))
        );
        let long = vec!["d".repeat(200); 21].join("/");
        assert!(matches!(
            check(&long, EntryKind::File),
            Err(PathProblem::PathTooLong(_))
        ));
    }
}
