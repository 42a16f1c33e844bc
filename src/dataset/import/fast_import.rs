//! The imported tree, written by one `git fast-import`: one commit on the
//! branch and one on `refs/annexa/import/REMOTE`, both checked before
//! any ref, the index or the working tree moves.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;

use super::listing::{Listed, Listing};
use super::options::{ImportOptions, ImportSummary};
use super::registration::register_urls;
use crate::dataset::annex::object_path;
use crate::dataset::git::{committer_ident, feed, git, quote_path, rev_parse, run};
use crate::dataset::tree::{self, Content};
use crate::dataset::DatasetError;

/// The ref that remembers the tree the last import brought.
pub(super) fn import_ref(remote: &str) -> String {
    format!("refs/annexa/import/{remote}")
}

/// The symlink an annexed file at `path` is: relative to its folder, into
/// `.git/annex/objects`, exactly as git-annex writes it.
fn link_target(path: &str, key: &str) -> String {
    let depth = path.matches('/').count();
    let object = object_path(Path::new(""), key);
    format!("{}{}", "../".repeat(depth), object.to_string_lossy())
}

/// The dataset files `datalad create` writes, as (path, content).
fn dataset_files() -> Vec<(&'static str, String)> {
    let id = uuid::Uuid::new_v4();
    vec![
        (
            ".datalad/config",
            format!("[datalad \"dataset\"]\n\tid = {id}\n"),
        ),
        (
            ".datalad/.gitattributes",
            "config annex.largefiles=nothing\n".into(),
        ),
        (
            ".gitattributes",
            "* annex.backend=MD5E\n**/.git* annex.largefiles=nothing\n".into(),
        ),
    ]
}

/// Writes the new tree: URLs first (a failure leaves the branch as it
/// was), then one fast-import for both commits, then the working tree.
pub(super) fn build(
    dir: &Path,
    remote: &str,
    listing: Listing,
    options: &ImportOptions,
) -> Result<ImportSummary, DatasetError> {
    let reference = import_ref(remote);
    let previous_import = rev_parse(dir, &format!("{reference}^{{commit}}"));
    let old: BTreeMap<String, String> = match &previous_import {
        Some(_) => tree::list(dir, &reference)?
            .files
            .into_iter()
            .filter_map(|f| match f.content {
                Content::Annexed { key } => Some((f.path, key)),
                _ => None,
            })
            .collect(),
        None => BTreeMap::new(),
    };
    let mut files = listing.files;
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files.dedup_by(|a, b| a.path == b.path);
    let mut skipped = listing.skipped;
    // A name that is also a folder of other names (`a` and `a/b`) cannot
    // be both in a tree: the folder wins.
    let folders: std::collections::HashSet<&str> = files
        .iter()
        .flat_map(|f| f.path.match_indices('/').map(|(i, _)| &f.path[..i]))
        .collect();
    let clashing: std::collections::HashSet<String> = files
        .iter()
        .filter(|f| folders.contains(f.path.as_str()))
        .map(|f| f.path.clone())
        .collect();
    drop(folders);
    for path in &clashing {
        options.reporter.warning(&format!(
            "not imported: {path:?} (it is also a folder of other files)"
        ));
        skipped += 1;
    }
    files.retain(|f| !clashing.contains(&f.path));
    let mut summary = ImportSummary {
        files: files.len(),
        hashed: listing.hashed,
        skipped,
        ..ImportSummary::default()
    };
    let mut fresh: Vec<&Listed> = Vec::new();
    for file in &files {
        match old.get(&file.path) {
            None => {
                summary.added += 1;
                fresh.push(file);
            }
            Some(key) if *key != file.key => {
                summary.changed += 1;
                fresh.push(file);
            }
            Some(_) => {}
        }
    }
    let new_paths: std::collections::HashSet<&str> =
        files.iter().map(|f| f.path.as_str()).collect();
    let removed: Vec<&str> = old
        .keys()
        .map(String::as_str)
        .filter(|p| !new_paths.contains(p))
        .collect();
    summary.removed = removed.len();
    let branch_head = rev_parse(dir, "HEAD");
    // A commit an earlier annexa made that git cannot check out (a name
    // only read-tree refuses): rebuilt and checked out afresh, never kept.
    let head_broken = branch_head
        .as_deref()
        .is_some_and(|head| !checks_out(dir, head));
    if branch_head.is_some()
        && previous_import.is_some()
        && fresh.is_empty()
        && removed.is_empty()
        && !head_broken
    {
        return Ok(summary);
    }

    let branch = run(git(dir).args(["symbolic-ref", "HEAD"]))
        .map(|o| String::from_utf8_lossy(&o).trim().to_string())
        .map_err(|_| DatasetError::DetachedHead(dir.to_path_buf()))?;
    let ident = committer_ident(dir);
    let message = format!("[annexa] import from {remote}: {}\n", summary.message());
    let mut stream: Vec<u8> = Vec::with_capacity(files.len() * 200);
    let data = |stream: &mut Vec<u8>, bytes: &[u8]| {
        let _ = writeln!(stream, "data {}", bytes.len());
        stream.extend_from_slice(bytes);
        stream.push(b'\n');
    };
    // Blobs: one mark per file (fast-import stores identical ones once).
    for (n, file) in files.iter().enumerate() {
        stream.extend_from_slice(format!("blob\nmark :{}\n", n + 1).as_bytes());
        data(&mut stream, link_target(&file.path, &file.key).as_bytes());
    }
    // Both commits go to pending refs first: the branch, the import ref,
    // the index and the working tree move only once git has accepted the
    // new tree (see `publish`).
    let pending_import = format!("refs/annexa/pending/{remote}/import");
    let pending_branch = format!("refs/annexa/pending/{remote}/branch");
    // The import's own tree: exactly the service's files.
    let _ = writeln!(stream, "commit {pending_import}\ncommitter {ident}");
    data(&mut stream, message.as_bytes());
    if let Some(previous) = &previous_import {
        let _ = writeln!(stream, "from {previous}");
    }
    stream.extend_from_slice(b"deleteall\n");
    for (n, file) in files.iter().enumerate() {
        let _ = writeln!(stream, "M 120000 :{} {}", n + 1, quote_path(&file.path));
    }
    // The branch: its own files kept, the import's changes applied.
    let _ = writeln!(stream, "commit {pending_branch}\ncommitter {ident}");
    data(&mut stream, message.as_bytes());
    if let Some(head) = &branch_head {
        let _ = writeln!(stream, "from {head}");
    }
    // DataLad's dataset files, unless the branch has them already.
    for (path, content) in dataset_files() {
        let has = branch_head.as_ref().is_some_and(|head| {
            run(git(dir).args(["cat-file", "-e", &format!("{head}:{path}")])).is_ok()
        });
        if !has {
            let _ = writeln!(stream, "M 100644 inline {}", quote_path(path));
            data(&mut stream, content.as_bytes());
        }
    }
    for path in &removed {
        let _ = writeln!(stream, "D {}", quote_path(path));
    }
    if let (true, Some(head)) = (head_broken, &branch_head) {
        // Whatever made the branch's tree unusable goes, whoever put it there.
        for path in refused_paths(dir, head)? {
            let _ = writeln!(stream, "D {}", quote_path(&path));
        }
    }
    let index: HashMap<&str, usize> = files
        .iter()
        .enumerate()
        .map(|(n, f)| (f.path.as_str(), n + 1))
        .collect();
    for file in &fresh {
        let _ = writeln!(
            stream,
            "M 120000 :{} {}",
            index[file.path.as_str()],
            quote_path(&file.path)
        );
    }
    stream.extend_from_slice(b"done\n");
    let drop_pending = || {
        for name in [&pending_import, &pending_branch] {
            let _ = run(git(dir).args(["update-ref", "-d", name]));
        }
    };
    let mut cmd = git(dir);
    // --force: a pending ref left by a killed run is replaced.
    cmd.args([
        "fast-import",
        "--quiet",
        "--done",
        "--force",
        "--date-format=raw",
    ]);
    let outcome = feed(&mut cmd, &stream).and_then(|_| {
        let new_head = rev_parse(dir, &pending_branch).ok_or(DatasetError::NoImportCommit)?;
        let new_import = rev_parse(dir, &pending_import).unwrap_or_default();
        for commit in [&new_head, &new_import] {
            if !checks_out(dir, commit) {
                return Err(DatasetError::ImportTreeRefused);
            }
        }
        register_urls(dir, remote, &fresh, &*options.reporter)?;
        if options.checkout {
            let mut cmd = git(dir);
            match (&branch_head, head_broken) {
                (Some(old_head), false) => cmd.args(["read-tree", "-m", "-u", old_head, &new_head]),
                _ => cmd.args(["read-tree", "-m", "-u", &new_head]),
            };
            run(&mut cmd)?;
        }
        publish(
            dir,
            &[
                (&branch, &new_head, branch_head.as_deref()),
                (&reference, &new_import, previous_import.as_deref()),
            ],
        )?;
        Ok(new_head)
    });
    drop_pending();
    summary.commit = Some(outcome?);
    Ok(summary)
}

/// The paths of `commit` that [`crate::dataset::paths::check`] refuses.
fn refused_paths(dir: &Path, commit: &str) -> Result<Vec<String>, DatasetError> {
    let raw = run(git(dir).args(["ls-tree", "-r", "-z", "--full-tree", commit]))?;
    let mut out = Vec::new();
    for record in raw.split(|&b| b == 0).filter(|r| !r.is_empty()) {
        let record = String::from_utf8_lossy(record);
        let Some((meta, path)) = record.split_once('\t') else {
            continue;
        };
        let kind = if meta.starts_with("120000") {
            crate::dataset::paths::EntryKind::Symlink
        } else {
            crate::dataset::paths::EntryKind::File
        };
        if crate::dataset::paths::check(path, kind).is_err() {
            out.push(path.to_string());
        }
    }
    Ok(out)
}

/// Whether git would check `commit` out: `read-tree` into a scratch index
/// applies git's own path rules (`verify_path`) to every entry.
fn checks_out(dir: &Path, commit: &str) -> bool {
    let Ok(scratch) = tempfile::tempdir() else {
        return false;
    };
    run(git(dir)
        .env("GIT_INDEX_FILE", scratch.path().join("index"))
        .args(["read-tree", commit]))
    .is_ok()
}

/// Moves every ref `(name, new, old)` in one transaction: all or none, and
/// none that another process moved meanwhile.
fn publish(dir: &Path, refs: &[(&str, &str, Option<&str>)]) -> Result<(), DatasetError> {
    let mut input = String::from("start\n");
    for (name, new, old) in refs {
        match old {
            Some(old) => input.push_str(&format!("update {name} {new} {old}\n")),
            None => input.push_str(&format!("create {name} {new}\n")),
        }
    }
    input.push_str("prepare\ncommit\n");
    let mut cmd = git(dir);
    cmd.args(["update-ref", "--stdin"]);
    feed(&mut cmd, input.as_bytes()).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_point_into_the_annex_from_any_depth() {
        let key = "SHA256E-s3--98ea6e4f216f2fb4b69fff9b3a44842c38686ca685f3f55dc48c5d3fb1107be4";
        assert_eq!(
            link_target("a", key),
            format!(".git/annex/objects/zQ/MQ/{key}/{key}")
        );
        assert_eq!(
            link_target("sub-01/anat/x", key),
            format!("../../.git/annex/objects/zQ/MQ/{key}/{key}")
        );
    }
}
