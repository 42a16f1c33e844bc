//! Writing selected files into the target folder: real files with ordinary
//! permissions, written under a temporary name, checked, then renamed.

use super::DatasetError;
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

/// What a file in the target folder must look like to count as done.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    pub size: Option<u64>,
    /// For git-stored files: the blob id, checked exactly (they are small).
    pub git_oid: Option<&'a str>,
}

/// Joins a dataset-relative path onto the target folder, refusing anything
/// that could escape it: `..`, absolute paths, and folders on the way that
/// already exist as symbolic links (left by another dataset version, or
/// planted) or as files. Missing folders are created later as fresh ones by
/// the writers, which call this right before writing.
pub fn target_path(dir: &Path, rel: &str) -> Result<PathBuf, DatasetError> {
    let rel_path = Path::new(rel);
    let safe = !rel.is_empty()
        && rel_path
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
    if !safe {
        return Err(DatasetError::UnsafePath(rel.to_string()));
    }
    // The writers' own guard: nothing git treats as special, whatever
    // the caller checked before.
    if let Err(problem) = super::paths::check(rel, super::paths::EntryKind::File) {
        return Err(DatasetError::RefusedPath {
            path: rel.to_string(),
            problem,
        });
    }
    let mut at = dir.to_path_buf();
    let mut parts = rel_path.components().peekable();
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            // The file itself: a link there is replaced by rename, never
            // followed.
            break;
        }
        at.push(part);
        match fs::symlink_metadata(&at) {
            Ok(meta) if meta.file_type().is_dir() => {}
            Ok(_) => {
                return Err(DatasetError::ThroughLink {
                    path: rel.to_string(),
                    link: at,
                })
            }
            Err(_) => break,
        }
    }
    Ok(dir.join(rel_path))
}

/// The target can take files: a temporary file made and removed in it, or
/// in the nearest folder above it that exists (where it would be made).
/// Checked before anything is downloaded, so that a read-only or
/// mistyped target costs nothing.
pub fn check_writable(target: &Path) -> Result<(), DatasetError> {
    let mut at = target;
    let existing = loop {
        match fs::symlink_metadata(at) {
            Ok(_) => break at,
            Err(_) => match at.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => at = parent,
                _ => break Path::new("."),
            },
        }
    };
    let refuse = |why: String| DatasetError::TargetNotWritable {
        target: target.to_path_buf(),
        why,
    };
    if !fs::metadata(existing).is_ok_and(|m| m.is_dir()) {
        return Err(refuse(format!("{} is not a folder", existing.display())));
    }
    tempfile::Builder::new()
        .prefix(".annexa-write-check")
        .tempfile_in(existing)
        .map(drop)
        .map_err(|e| {
            refuse(format!(
                "cannot create a file in {}: {e}",
                existing.display()
            ))
        })
}

/// Refuses a selection in which one path is a folder of another (`a` and
/// `a/b`): writing both would put a file where a folder must be, or make
/// one write go through the other.
pub fn check_no_clash<'a>(paths: impl IntoIterator<Item = &'a str>) -> Result<(), DatasetError> {
    let paths: std::collections::HashSet<&str> = paths.into_iter().collect();
    for path in &paths {
        let mut prefix = *path;
        while let Some((parent, _)) = prefix.rsplit_once('/') {
            if paths.contains(parent) {
                return Err(DatasetError::PathClash {
                    file: parent.to_string(),
                    inner: path.to_string(),
                });
            }
            prefix = parent;
        }
    }
    Ok(())
}

/// A regular file (not a link) of the expected size, and for git files the
/// expected blob id.
pub fn in_place(dest: &Path, expected: Expected<'_>) -> bool {
    let Ok(meta) = fs::symlink_metadata(dest) else {
        return false;
    };
    if !meta.file_type().is_file() {
        return false;
    }
    if expected.size.is_some_and(|size| meta.len() != size) {
        return false;
    }
    match expected.git_oid {
        Some(oid) => fs::read(dest)
            .map(|bytes| git_blob_id(&bytes) == oid)
            .unwrap_or(false),
        None => true,
    }
}

/// Creates the temporary file exclusively (`O_EXCL`): never through a link
/// or into a file someone else left there.
fn create_new(tmp: &Path) -> Result<fs::File, DatasetError> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(tmp)
        .map_err(|e| DatasetError::io(tmp, e))
}

/// Copies `src` (an annex object) to `dest` through a temporary file.
pub fn copy_file(src: &Path, dest: &Path, size: Option<u64>) -> Result<u64, DatasetError> {
    write_atomically(dest, size, false, |tmp| {
        let mut from = fs::File::open(src).map_err(|e| DatasetError::io(src, e))?;
        let mut to = create_new(tmp)?;
        std::io::copy(&mut from, &mut to).map_err(|e| DatasetError::io(tmp, e))?;
        Ok(())
    })
}

/// Writes `bytes` (a git blob) to `dest` through a temporary file.
pub fn write_bytes(dest: &Path, bytes: &[u8], executable: bool) -> Result<u64, DatasetError> {
    write_atomically(dest, Some(bytes.len() as u64), executable, |tmp| {
        let mut file = create_new(tmp)?;
        file.write_all(bytes).map_err(|e| DatasetError::io(tmp, e))
    })
}

/// Recreates a plain (non-annex) symlink of the dataset.
pub fn write_symlink(dest: &Path, target: &str) -> Result<u64, DatasetError> {
    let tmp = temp_name(dest);
    make_parent(dest)?;
    let _ = fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp).map_err(|e| DatasetError::io(&tmp, e))?;
    fs::rename(&tmp, dest).map_err(|e| DatasetError::io(dest, e))?;
    Ok(0)
}

/// The temporary name beside `dest`: hidden, and recognisably ours.
pub fn temp_name(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dest.with_file_name(format!(".{name}.annexa-part"))
}

fn make_parent(dest: &Path) -> Result<(), DatasetError> {
    if let Some(parent) = dest.parent() {
        fs::create_dir_all(parent).map_err(|e| DatasetError::io(parent, e))?;
    }
    Ok(())
}

fn write_atomically(
    dest: &Path,
    size: Option<u64>,
    executable: bool,
    fill: impl FnOnce(&Path) -> Result<(), DatasetError>,
) -> Result<u64, DatasetError> {
    make_parent(dest)?;
    let tmp = temp_name(dest);
    // A leftover from an interrupted run (or a link in its place) goes;
    // the new one is then created exclusively.
    let _ = fs::remove_file(&tmp);
    let outcome = fill(&tmp).and_then(|()| {
        // Annex objects are read-only and fs::copy keeps modes: reset them.
        let mode = if executable { 0o755 } else { 0o644 };
        fs::set_permissions(&tmp, fs::Permissions::from_mode(mode))
            .map_err(|e| DatasetError::io(&tmp, e))?;
        let written = fs::metadata(&tmp)
            .map_err(|e| DatasetError::io(&tmp, e))?
            .len();
        if let Some(expected) = size {
            if written != expected {
                return Err(DatasetError::io(
                    &tmp,
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("wrote {written} bytes, the annex key says {expected}"),
                    ),
                ));
            }
        }
        Ok(written)
    });
    match outcome {
        Ok(written) => {
            if fs::symlink_metadata(dest).is_ok_and(|m| m.is_dir()) {
                let _ = fs::remove_file(&tmp);
                return Err(DatasetError::io(
                    dest,
                    std::io::Error::new(
                        std::io::ErrorKind::AlreadyExists,
                        "a directory is in the way",
                    ),
                ));
            }
            fs::rename(&tmp, dest).map_err(|e| DatasetError::io(dest, e))?;
            Ok(written)
        }
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// git's blob id: SHA-1 of `blob <len>\0` followed by the content.
pub fn git_blob_id(bytes: &[u8]) -> String {
    use sha1::{Digest, Sha1};
    let mut hasher = Sha1::new();
    hasher.update(format!("blob {}\0", bytes.len()).as_bytes());
    hasher.update(bytes);
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_escaping_paths() {
        let d = Path::new("/t");
        assert!(target_path(d, "../x").is_err());
        assert!(target_path(d, "/etc/passwd").is_err());
        assert!(target_path(d, "a/../../x").is_err());
        assert!(target_path(d, "").is_err());
        for rel in [
            "x.ome.zarr/.git/config",
            "a/.GIT",
            "a/git~1/x",
            "a/.git./hooks/h",
        ] {
            assert!(
                matches!(target_path(d, rel), Err(DatasetError::RefusedPath { .. })),
                "{rel}"
            );
        }
        assert_eq!(
            target_path(d, "a/b.json").unwrap(),
            Path::new("/t/a/b.json")
        );
    }

    #[test]
    fn refuses_writing_through_links_and_files() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        fs::create_dir_all(target.join("sub-01")).unwrap();
        std::os::unix::fs::symlink(outside.path(), target.join("sub-01/anat")).unwrap();
        fs::write(target.join("file"), b"x").unwrap();
        for rel in ["sub-01/anat/x.nii", "sub-01/anat/deeper/x.nii", "file/x"] {
            let err = target_path(&target, rel).unwrap_err();
            assert!(
                matches!(err, DatasetError::ThroughLink { .. }),
                "{rel}: {err:?}"
            );
        }
        // The link itself as the last component is replaced, not followed.
        let dest = target_path(&target, "sub-01/anat").unwrap();
        fs::write(dir.path().join("src"), b"data").unwrap();
        copy_file(&dir.path().join("src"), &dest, Some(4)).unwrap();
        assert!(fs::symlink_metadata(&dest).unwrap().is_file());
        assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 0);
        // Missing folders are fine: they are created fresh.
        assert!(target_path(&target, "sub-02/anat/x.nii").is_ok());
    }

    #[test]
    fn a_link_at_the_staging_name_is_never_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        fs::write(&outside, b"keep").unwrap();
        let dest = dir.path().join("t/file");
        fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(&outside, temp_name(&dest)).unwrap();
        fs::write(dir.path().join("src"), b"data").unwrap();
        copy_file(&dir.path().join("src"), &dest, Some(4)).unwrap();
        assert_eq!(fs::read(&outside).unwrap(), b"keep");
        assert_eq!(fs::read(&dest).unwrap(), b"data");
        std::os::unix::fs::symlink(&outside, temp_name(&dest)).unwrap();
        write_bytes(&dest, b"blob", false).unwrap();
        assert_eq!(fs::read(&outside).unwrap(), b"keep");
    }

    #[test]
    fn make_writable_never_follows_a_root_link() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::create_dir_all(victim.join("locked")).unwrap();
        fs::set_permissions(victim.join("locked"), fs::Permissions::from_mode(0o500)).unwrap();
        let link = dir.path().join(".x.annexa-part");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        super::super::cache::make_writable(&link).unwrap();
        let mode = fs::metadata(victim.join("locked"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        fs::set_permissions(victim.join("locked"), fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(mode, 0o500, "chmod went through the link");
    }

    #[test]
    fn refuses_a_file_and_a_folder_of_the_same_name() {
        assert!(check_no_clash(["a/b", "a/c", "b"]).is_ok());
        assert!(check_no_clash(["a b", "a/b", "a.json"]).is_ok());
        let err = check_no_clash(["x/y", "x/y/z.nii"]).unwrap_err();
        assert!(matches!(err, DatasetError::PathClash { .. }), "{err:?}");
        assert!(check_no_clash(["a", "a/b/c/d"]).is_err());
    }

    #[test]
    fn blob_id_matches_git() {
        // `printf 'hi\n' | git hash-object --stdin`
        assert_eq!(
            git_blob_id(b"hi\n"),
            "45b983be36b73c0788dc9cbcb76cbb80fc7bb057"
        );
    }

    #[test]
    fn copy_is_checked_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        fs::write(&src, b"12345").unwrap();
        fs::set_permissions(&src, fs::Permissions::from_mode(0o444)).unwrap();
        let dest = dir.path().join("out/a/file.nii.gz");
        assert!(copy_file(&src, &dest, Some(4)).is_err());
        assert!(!dest.exists());
        assert!(!temp_name(&dest).exists());
        assert_eq!(copy_file(&src, &dest, Some(5)).unwrap(), 5);
        let mode = fs::metadata(&dest).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
        assert!(in_place(
            &dest,
            Expected {
                size: Some(5),
                git_oid: None
            }
        ));
        assert!(!in_place(
            &dest,
            Expected {
                size: Some(6),
                git_oid: None
            }
        ));
    }
}
