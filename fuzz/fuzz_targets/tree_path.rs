//! The tree-path check (`annexa::dataset::paths::check`), which decides
//! what `annexa get`, `--direct` and `annexa import` may write or commit:
//! - it never panics on any text;
//! - what it accepts has no empty, `.` or `..` component, no NUL, no name
//!   over 255 bytes, and no component that an independent, simpler model
//!   of git's `.git` aliases (case folded, HFS+ ignorable code points
//!   dropped, NTFS's trailing spaces and dots and `:stream` dropped, the
//!   short name `git~1`, `\` as a separator) reads as `.git`;
//! - a symbolic link is never accepted where a file would not be (links
//!   have only extra rules), and a link named like `.gitmodules` under the
//!   same model is refused.

#![no_main]

use annexa::dataset::paths::{check, EntryKind};
use libfuzzer_sys::fuzz_target;

const HFS_IGNORED: &[char] = &[
    '\u{200c}', '\u{200d}', '\u{200e}', '\u{200f}', '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}',
    '\u{202e}', '\u{206a}', '\u{206b}', '\u{206c}', '\u{206d}', '\u{206e}', '\u{206f}', '\u{feff}',
];

/// Whether a component (or a `\`-separated piece of it) is one of
/// `names` as NTFS reads it (case folded, `:stream` and trailing spaces
/// and dots dropped) or as HFS+ does (case folded, ignorables dropped).
fn model_is(component: &str, names: &[&str]) -> bool {
    std::iter::once(component)
        .chain(component.split('\\'))
        .any(|piece| {
            let lower = piece.to_ascii_lowercase();
            let ntfs = lower
                .split(':')
                .next()
                .unwrap_or("")
                .trim_end_matches([' ', '.']);
            let hfs: String = lower.chars().filter(|c| !HFS_IGNORED.contains(c)).collect();
            names.iter().any(|n| ntfs == *n || hfs == *n)
        })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let file = check(text, EntryKind::File);
    let link = check(text, EntryKind::Symlink);
    if link.is_ok() {
        assert!(
            file.is_ok(),
            "{text:?}: a link accepted where a file is not"
        );
    }
    if file.is_err() {
        return;
    }
    assert!(!text.contains('\0'), "{text:?}");
    for component in text.split('/') {
        assert!(
            !component.is_empty() && component != "." && component != "..",
            "{text:?}"
        );
        assert!(component.len() <= 255, "{text:?}");
        assert!(
            !model_is(component, &[".git", "git~1"]),
            "{text:?}: {component:?} is .git to git"
        );
        if link.is_ok() {
            assert!(
                !model_is(component, &[".gitmodules", "gitmod~1"]),
                "{text:?}: {component:?} is .gitmodules to git"
            );
        }
    }
});
